// FLUX.1 (dev: embedded guidance; schnell: none; optional true CFG with a negative prompt)
// and Chroma (negative-prompt CFG, text attention mask): the denoising loop over packed
// latents and the VAE decode, as diffusers' FluxPipeline / ChromaPipeline run them.
//
// Guidance runs cond and uncond as ONE batched transformer forward (batch 2, each row with
// its own text embeddings and mask); `cfg_skip` really skips the uncond rows for the first
// steps. Text encoding lives in flux_text.h, so the encoders can be freed before the
// transformer is loaded.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "models/dit/chroma_transformer.h"
#include "models/dit/flux_transformer.h"
#include "models/vae/autoencoder_kl.h"
#include "pipelines/flow_sampler.h"
#include "pipelines/latent_geometry.h"
#include "pipelines/packed_latent_decode.h"
#include "sampling/flow_match_scheduler.h"

namespace diffuse::pipelines {

enum class FluxVariant { Flux, Chroma };

// "FluxPipeline" / "ChromaPipeline" (model_index.json _class_name) -> variant.
FluxVariant flux_variant_from_pipeline_class(const std::string& class_name);

// One encoded prompt.
struct PromptConditioning {
  Tensor embeds;  // [1, T, joint_attention_dim]: T5 last hidden state
  Tensor pooled;  // [1, pooled_projection_dim]: CLIP pooled output (FLUX only)
  Tensor mask;    // [1, T] float 0/1 as the pipeline builds it (Chroma only; first pad kept)
};

struct DenoiseSettings {
  int steps = 28;
  float guidance = 3.5f;   // FLUX.1-dev embedded guidance; unused without guidance_embeds
  float cfg_scale = 1.0f;  // uncond + s * (cond - uncond) when > 1 and a negative is given
  int cfg_skip = 0;        // steps at the start that run without the uncond pass
};

class FluxDenoiser {
 public:
  // Loads <root>/transformer and <root>/scheduler/scheduler_config.json. The transformer's
  // weights are checked by the binder first: missing or mismatched tensors stop the load
  // with the binder's report.
  static std::unique_ptr<FluxDenoiser> load(const std::string& root, FluxVariant variant,
                                            const models::ModelOptions& options,
                                            models::ChromaMaskMode mask_mode = models::ChromaMaskMode::KeyMask);

  FluxVariant variant() const { return variant_; }
  int64_t latent_channels() const;  // transformer in_channels / 4
  const FlowMatchConfig& scheduler_config() const { return scheduler_config_; }

  // Runs the sampler from packed noise latents [1, tokens, C] and returns the final latents.
  Tensor denoise(const PromptConditioning& cond, const PromptConditioning* uncond, Tensor latents,
                 const LatentGeometry& geometry, const DenoiseSettings& settings,
                 const DenoiseObserver& observer = {}) const;

 private:
  FluxDenoiser() = default;
  // Velocity for a batch built from `rows` (1 or 2 conditionings sharing the latents).
  Tensor velocity(const std::vector<const PromptConditioning*>& rows, const Tensor& latents,
                  float model_time, const Tensor& img_ids, const DenoiseSettings& settings,
                  const DenoiseObserver& observer, int& call) const;

  FluxVariant variant_ = FluxVariant::Flux;
  FlowMatchConfig scheduler_config_;
  std::unique_ptr<models::FluxTransformer2DModel> flux_;
  std::unique_ptr<models::ChromaTransformer2DModel> chroma_;
};

// Loads <root>/vae (AutoencoderKL).
std::unique_ptr<models::AutoencoderKL> load_flux_vae(const std::string& root, const models::ModelOptions& options);

// Packed latents [B, tokens, 4C] -> image [B, 3, H, W] in [0, 1] (packed_latent_decode.h) with
// the FLUX VAE's z / scaling + shift.
Tensor decode_packed_latents(const models::AutoencoderKL& vae, const Tensor& latents,
                             const LatentGeometry& geometry,
                             const std::function<void(const Tensor& z, const Tensor& raw)>& decoded_trace = {});

}  // namespace diffuse::pipelines
