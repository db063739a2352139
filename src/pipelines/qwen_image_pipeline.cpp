#include "pipelines/qwen_image_pipeline.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "io/model_folder.h"
#include "ops/shape.h"
#include "pipelines/component_loader.h"
#include "sampling/guidance.h"

namespace diffuse::pipelines {

namespace {

// Row `i` of the batch: the prompt's embeddings zero-padded to `length` tokens and its mask
// (U8, 0 on the padding).
void put_row(const QwenPromptEmbeds& p, int64_t row, int64_t length, Tensor& embeds, Tensor& mask) {
  const int64_t t = p.embeds.dim(1);
  embeds.select(0, row).slice(0, 0, t).copy_from(p.embeds.select(0, 0));
  uint8_t* m = mask.data_mut<uint8_t>() + row * length;
  for (int64_t j = 0; j < t; ++j) m[j] = p.mask.defined() ? (p.mask.item({0, j}) != 0.0) : 1;
}

void check_prompt(const QwenPromptEmbeds& p, int64_t width, const char* what) {
  DIFFUSE_CHECK(p.embeds.ndim() == 3 && p.embeds.dim(0) == 1 && p.embeds.dim(1) > 0 && p.embeds.dim(2) == width,
                what, " embeddings are ", shape_str(p.embeds.shape()), ", expected [1, T, ", width, "]");
  DIFFUSE_CHECK(!p.mask.defined() || p.mask.shape() == Shape({1, p.embeds.dim(1)}), what, " mask ",
                shape_str(p.mask.shape()), " does not match its embeddings ", shape_str(p.embeds.shape()));
}

}  // namespace

std::unique_ptr<QwenImageDenoiser> QwenImageDenoiser::load(const std::string& root,
                                                           const models::ModelOptions& options) {
  std::unique_ptr<QwenImageDenoiser> d(new QwenImageDenoiser());
  const std::string sched_path =
      (std::filesystem::path(io::component_folder(root, "scheduler")) / "scheduler_config.json").string();
  d->scheduler_config_ = FlowMatchConfig::from_json(io::load_json(sched_path), sched_path);
  load_component(root, "transformer", [&](const io::Json& config, const std::string& ctx, io::WeightBinder& b) {
    d->transformer_ = std::make_unique<models::QwenImageTransformer2DModel>(
        models::QwenImageTransformerConfig::from_json(config, ctx), b, options);
  });
  return d;
}

int64_t QwenImageDenoiser::latent_channels() const { return transformer_->config().in_channels / 4; }

Tensor QwenImageDenoiser::denoise(const QwenPromptEmbeds& cond, const QwenPromptEmbeds* uncond, Tensor latents,
                                  const LatentGeometry& geometry, const QwenDenoiseSettings& settings,
                                  const DenoiseObserver& observer) const {
  const auto& cfg = transformer_->config();
  DIFFUSE_CHECK(latents.ndim() == 3 && latents.dim(0) == 1 && latents.dim(1) == geometry.tokens() &&
                    latents.dim(2) == cfg.in_channels,
                "initial latents ", shape_str(latents.shape()), " do not match ", geometry.tokens(), " tokens of ",
                cfg.in_channels, " channels");
  check_prompt(cond, cfg.joint_attention_dim, "prompt");
  const bool guided = uncond != nullptr && settings.true_cfg_scale > 1.0f;
  if (guided) check_prompt(*uncond, cfg.joint_attention_dim, "negative prompt");

  // The text batch is built once: the rows never change between steps.
  const int64_t batch = guided ? 2 : 1;
  const int64_t length = std::max(cond.embeds.dim(1), guided ? uncond->embeds.dim(1) : int64_t{0});
  Tensor embeds = Tensor::zeros({batch, length, cfg.joint_attention_dim}, DType::F32);
  Tensor mask = Tensor::zeros({batch, length}, DType::U8);
  put_row(cond, 0, length, embeds, mask);
  if (guided) put_row(*uncond, 1, length, embeds, mask);
  const models::QwenImageGrid grid{1, geometry.token_rows(), geometry.token_cols()};

  int call = 0;
  const auto velocity = [&](const Tensor& x, const FlowStep& step) {
    const bool cfg_now = guided && step.index >= settings.cfg_skip;
    const int64_t rows_now = cfg_now ? 2 : 1;
    const Tensor hidden = cfg_now ? ops::concat({x, x}, 0) : x;
    const Tensor timestep =
        Tensor::from_f32({rows_now}, std::vector<float>(static_cast<size_t>(rows_now), step.model_time));
    const Tensor v = transformer_->forward(hidden, embeds.slice(0, 0, rows_now), mask.slice(0, 0, rows_now), timestep,
                                           grid);
    if (observer.on_transformer_call) {
      const QwenPromptEmbeds* rows[] = {&cond, uncond};
      for (int64_t b = 0; b < rows_now; ++b) {
        const int64_t t = rows[b]->embeds.dim(1);
        std::map<std::string, Tensor> args = {{"hidden_states", hidden.slice(0, b, b + 1)},
                                              {"encoder_hidden_states", embeds.slice(0, b, b + 1).slice(1, 0, t)},
                                              {"timestep", timestep.slice(0, b, b + 1)},
                                              {"out", v.slice(0, b, b + 1)}};
        if (rows[b]->mask.defined()) args["encoder_hidden_states_mask"] = rows[b]->mask;
        observer.on_transformer_call(call++, args);
      }
    }
    return cfg_now ? cfg_combine_norm_rescaled(v.slice(0, 0, 1), v.slice(0, 1, 2), settings.true_cfg_scale) : v;
  };
  return run_flow_sampler(scheduler_config_, "qwenimage", settings.steps, geometry.tokens(), std::move(latents),
                          velocity, observer);
}

std::unique_ptr<models::AutoencoderKLQwenImage> load_qwen_image_vae(const std::string& root,
                                                                    const models::ModelOptions& options,
                                                                    bool decoder_only) {
  std::unique_ptr<models::AutoencoderKLQwenImage> vae;
  load_component(root, "vae", [&](const io::Json& config, const std::string& ctx, io::WeightBinder& b) {
    vae = std::make_unique<models::AutoencoderKLQwenImage>(models::AutoencoderKLQwenImageConfig::from_json(config, ctx),
                                                           b, options, decoder_only);
  });
  return vae;
}

Tensor decode_qwen_image_latents(const models::AutoencoderKLQwenImage& vae, const Tensor& latents,
                                 const LatentGeometry& geometry,
                                 const std::function<void(const Tensor& z, const Tensor& raw)>& decoded_trace) {
  const LatentDecoder decoder{[&](const Tensor& x) { return vae.from_model_latent(x); },
                              [&](const Tensor& z) { return vae.decode(z); }};
  return decode_packed_latents(decoder, latents, geometry, decoded_trace);
}

}  // namespace diffuse::pipelines
