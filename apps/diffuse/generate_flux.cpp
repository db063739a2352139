// FLUX.1 (dev / schnell) and Chroma for `diffuse generate`.
#include "generate_family.h"
#include "pipelines/flux_text.h"
#include "runtime/buffer_pool.h"
#include "runtime/log.h"
#include "runtime/progress.h"
#include "runtime/timer.h"

namespace diffuse::cli {

namespace {

struct Defaults {
  int steps;
  float cfg;       // guidance_scale (Chroma) / true_cfg_scale (FLUX)
  float guidance;  // FLUX.1-dev embedded guidance
  std::optional<std::string> negative;
};

// The reference pipelines' defaults (shared/models: chroma.md §5, flux1.md §5).
Defaults model_defaults(pipelines::FluxVariant variant, bool guidance_embeds) {
  if (variant == pipelines::FluxVariant::Chroma) return {35, 5.0f, 0.0f, std::string()};
  if (guidance_embeds) return {28, 1.0f, 3.5f, std::nullopt};  // FLUX.1-dev
  return {4, 1.0f, 0.0f, std::nullopt};                          // FLUX.1-schnell
}

}  // namespace

GenerateResult generate_flux(const std::string& root, const io::ModelIndex& index, const GenerateRequest& request) {
  const auto variant = pipelines::flux_variant_from_pipeline_class(index.class_name);
  const io::Json transformer_config = io::load_component_config(root, "transformer");
  const Defaults defaults = model_defaults(
      variant, io::get_bool(transformer_config, "guidance_embeds", false, root + "/transformer/config.json"));
  pipelines::DenoiseSettings settings;
  settings.steps = request.steps.value_or(defaults.steps);
  settings.cfg_scale = request.cfg.value_or(defaults.cfg);
  settings.guidance = request.guidance.value_or(defaults.guidance);
  settings.cfg_skip = request.cfg_skip;
  std::optional<std::string> negative = request.negative ? request.negative : defaults.negative;
  if (settings.cfg_scale <= 1.0f) negative.reset();  // no CFG: the negative prompt is unused
  const auto& options = request.options;

  GenerateResult r;
  r.steps = settings.steps;
  // Text encoders are loaded, run and released before the transformer is loaded.
  Timer phase;
  auto prompts = pipelines::encode_flux_prompts(root, variant, request.prompt, negative,
                                                request.max_sequence_length.value_or(512), options);
  release_cached_buffers();  // the encoders' activations: the DiT starts from a clean arena
  r.text_s = phase.seconds();

  phase.reset();
  auto vae = pipelines::load_flux_vae(root, options);
  r.geometry = pipelines::LatentGeometry::from_image_size(request.height, request.width,
                                                         vae->config().downscale_factor());
  auto denoiser = pipelines::FluxDenoiser::load(root, variant, options,
                                                request.chroma_mask == "keys" ? models::ChromaMaskMode::KeyMask
                                                                              : models::ChromaMaskMode::DiffusersAdditive);
  r.load_s = phase.seconds();
  log_info(str_cat("generating ", r.geometry.width, "x", r.geometry.height, ", ", settings.steps, " steps, seed ",
                   request.seed, negative ? str_cat(", CFG ", settings.cfg_scale) : std::string()));

  phase.reset();
  const Tensor noise = seeded_noise(request, denoiser->latent_channels(), r.geometry);
  ProgressBar bar("step", settings.steps);
  const pipelines::DenoiseObserver observer = progress_observer(bar);
  const Tensor latents = denoiser->denoise(prompts.cond, prompts.uncond ? &*prompts.uncond : nullptr, noise,
                                           r.geometry, settings, observer);
  bar.finish();
  denoiser.reset();
  release_cached_buffers();  // the DiT's activations; the VAE's are shaped differently
  r.denoise_s = phase.seconds();

  phase.reset();
  r.image = pipelines::decode_packed_latents(*vae, latents, r.geometry);
  r.decode_s = phase.seconds();

  r.metadata = {{"cfg", str_cat(settings.cfg_scale)}};
  if (negative) r.metadata.push_back({"negative_prompt", *negative});
  if (variant == pipelines::FluxVariant::Flux) r.metadata.push_back({"guidance", str_cat(settings.guidance)});
  if (settings.cfg_skip) r.metadata.push_back({"cfg_skip", std::to_string(settings.cfg_skip)});
  return r;
}

}  // namespace diffuse::cli
