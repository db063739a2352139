// Qwen-Image (diffusers QwenImagePipeline): the denoising loop over 2x2-packed latents with
// "true CFG" and the AutoencoderKLQwenImage decode.
//
// True CFG runs when a negative prompt is given and true_cfg_scale > 1: the cond and uncond
// rows go through ONE batched transformer forward (their texts padded to a common length;
// padded text keys are masked out per row, so this equals the reference's two separate calls),
// then comb = uncond + s * (cond - uncond) is rescaled per token to the norm of cond.
// Text encoding lives in qwen_image_text.h, so the encoder can be freed before the transformer
// is loaded.
#pragma once

#include <memory>
#include <string>

#include "models/dit/qwenimage_transformer.h"
#include "models/vae/autoencoder_kl_qwenimage.h"
#include "pipelines/flow_sampler.h"
#include "pipelines/latent_geometry.h"
#include "pipelines/packed_latent_decode.h"
#include "sampling/flow_match_scheduler.h"

namespace diffuse::pipelines {

// One encoded prompt as the transformer takes it.
struct QwenPromptEmbeds {
  Tensor embeds;  // [1, T, joint_attention_dim]
  Tensor mask;    // [1, T] nonzero = valid token; undefined = all valid
};

struct QwenDenoiseSettings {
  int steps = 50;
  float true_cfg_scale = 4.0f;
  int cfg_skip = 0;  // steps at the start that run without the uncond pass
};

class QwenImageDenoiser {
 public:
  // Loads <root>/transformer (binding checked first, as every component) and
  // <root>/scheduler/scheduler_config.json.
  static std::unique_ptr<QwenImageDenoiser> load(const std::string& root, const models::ModelOptions& options);

  int64_t latent_channels() const;  // transformer in_channels / 4
  const FlowMatchConfig& scheduler_config() const { return scheduler_config_; }

  // From packed noise latents [1, tokens, 4C] to the final latents.
  Tensor denoise(const QwenPromptEmbeds& cond, const QwenPromptEmbeds* uncond, Tensor latents,
                 const LatentGeometry& geometry, const QwenDenoiseSettings& settings,
                 const DenoiseObserver& observer = {}) const;

 private:
  QwenImageDenoiser() = default;
  std::unique_ptr<models::QwenImageTransformer2DModel> transformer_;
  FlowMatchConfig scheduler_config_;
};

// Loads <root>/vae; `decoder_only` skips the encoder's weights (text-to-image only decodes).
std::unique_ptr<models::AutoencoderKLQwenImage> load_qwen_image_vae(const std::string& root,
                                                                    const models::ModelOptions& options,
                                                                    bool decoder_only);

// Packed latents -> image [B, 3, H, W] in [0, 1] (packed_latent_decode.h) with the VAE's
// per-channel latent mean / std.
Tensor decode_qwen_image_latents(const models::AutoencoderKLQwenImage& vae, const Tensor& latents,
                                 const LatentGeometry& geometry,
                                 const std::function<void(const Tensor& z, const Tensor& raw)>& decoded_trace = {});

}  // namespace diffuse::pipelines
