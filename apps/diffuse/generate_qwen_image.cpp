// Qwen-Image for `diffuse generate`: Qwen2.5-VL prompt encoding (released before the DiT
// loads), true CFG with a negative prompt, AutoencoderKLQwenImage decode.
#include <filesystem>

#include "generate_family.h"
#include "pipelines/component_loader.h"
#include "pipelines/qwen_image_pipeline.h"
#include "pipelines/qwen_image_text.h"
#include "runtime/buffer_pool.h"
#include "runtime/log.h"
#include "runtime/progress.h"
#include "runtime/timer.h"

namespace diffuse::cli {

namespace {

// Qwen-Image's model card runs true CFG 4.0 with negative prompt " " and 50 steps; the
// pipeline only guides when a negative prompt is given, so " " is the default here.
constexpr int kDefaultSteps = 50;
constexpr float kDefaultTrueCfg = 4.0f;
const char* const kDefaultNegative = " ";

// Row `b` of the encoded batch, cut to its own tokens (the pipeline encodes each prompt alone).
pipelines::QwenPromptEmbeds row(const pipelines::QwenImagePromptEmbeds& batch, int64_t b) {
  const Tensor mask = batch.mask.select(0, b);
  int64_t n = 0;
  while (n < mask.dim(0) && mask.item({n}) != 0.0) ++n;
  pipelines::QwenPromptEmbeds p;
  p.embeds = batch.embeds.slice(0, b, b + 1).slice(1, 0, n).contiguous();
  return p;
}

}  // namespace

GenerateResult generate_qwen_image(const std::string& root, const io::ModelIndex&, const GenerateRequest& request) {
  pipelines::QwenDenoiseSettings settings;
  settings.steps = request.steps.value_or(kDefaultSteps);
  settings.true_cfg_scale = request.cfg.value_or(kDefaultTrueCfg);
  settings.cfg_skip = request.cfg_skip;
  std::optional<std::string> negative = request.negative ? *request.negative : std::string(kDefaultNegative);
  if (settings.true_cfg_scale <= 1.0f) negative.reset();
  DIFFUSE_CHECK(!request.guidance, "--guidance is FLUX.1-dev's embedded guidance; Qwen-Image uses --cfg");
  const auto& options = request.options;

  GenerateResult r;
  r.steps = settings.steps;
  Timer phase;
  std::vector<std::string> prompts = {request.prompt};
  if (negative) prompts.push_back(*negative);
  pipelines::QwenImagePromptEmbeds encoded;
  {
    const auto tokenizer = text::BpeTokenizer::load(io::component_folder(root, "tokenizer"));
    std::unique_ptr<models::DecoderLlm> text_encoder;
    pipelines::load_component(root, "text_encoder",
                              [&](const io::Json& config, const std::string& ctx, io::WeightBinder& b) {
                                text_encoder = std::make_unique<models::DecoderLlm>(
                                    models::DecoderLlmConfig::from_json(config, ctx), b, options);
                              });
    encoded = pipelines::encode_qwen_image_prompts(
        *text_encoder, tokenizer, prompts,
        request.max_sequence_length.value_or(pipelines::kQwenImageDefaultMaxSequenceLength));
  }  // the text encoder is released here, before the transformer loads
  release_cached_buffers();  // and so are its cached activation buffers
  const pipelines::QwenPromptEmbeds cond = row(encoded, 0);
  std::optional<pipelines::QwenPromptEmbeds> uncond;
  if (negative) uncond = row(encoded, 1);
  r.text_s = phase.seconds();

  phase.reset();
  auto vae = pipelines::load_qwen_image_vae(root, options, /*decoder_only=*/true);
  r.geometry = pipelines::LatentGeometry::from_image_size(request.height, request.width,
                                                         vae->config().downscale_factor());
  auto denoiser = pipelines::QwenImageDenoiser::load(root, options);
  r.load_s = phase.seconds();
  log_info(str_cat("generating ", r.geometry.width, "x", r.geometry.height, ", ", settings.steps, " steps, seed ",
                   request.seed, negative ? str_cat(", true CFG ", settings.true_cfg_scale) : std::string()));

  phase.reset();
  const Tensor noise = seeded_noise(request, denoiser->latent_channels(), r.geometry);
  ProgressBar bar("step", settings.steps);
  const pipelines::DenoiseObserver observer = progress_observer(bar);
  const Tensor latents =
      denoiser->denoise(cond, uncond ? &*uncond : nullptr, noise, r.geometry, settings, observer);
  bar.finish();
  denoiser.reset();
  release_cached_buffers();  // the DiT's activations; the VAE's are shaped differently
  r.denoise_s = phase.seconds();

  phase.reset();
  r.image = pipelines::decode_qwen_image_latents(*vae, latents, r.geometry);
  r.decode_s = phase.seconds();

  r.metadata = {{"cfg", str_cat(settings.true_cfg_scale)}};
  if (negative) r.metadata.push_back({"negative_prompt", *negative});
  if (settings.cfg_skip) r.metadata.push_back({"cfg_skip", std::to_string(settings.cfg_skip)});
  return r;
}

}  // namespace diffuse::cli
