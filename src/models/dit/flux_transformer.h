// FLUX.1 dev / schnell diffusion transformer (diffusers FluxTransformer2DModel): 19 double-stream
// and 38 single-stream blocks over [text, image] tokens, conditioned through per-block adaLN
// linears on temb = timestep_embedder(t) [+ guidance_embedder(g)] + text_embedder(pooled CLIP).
// No attention mask: padding text tokens attend and are attended, as in the reference.
#pragma once

#include <string>

#include "io/json_config.h"
#include "io/weight_binder.h"
#include "models/common/linear_layer.h"
#include "models/common/model_options.h"
#include "models/common/trace.h"
#include "models/dit/flux_backbone.h"

namespace diffuse::models {

struct FluxTransformerConfig {
  FluxBackboneConfig backbone;
  int64_t pooled_projection_dim = 768;
  bool guidance_embeds = false;  // dev: true (guidance-distilled), schnell: false

  static FluxTransformerConfig from_json(const io::Json& json, const std::string& context);
};

struct FluxTransformerInputs {
  Tensor hidden_states;          // [B, N, in_channels] packed latents
  Tensor encoder_hidden_states;  // [B, T, joint_attention_dim] (T5 last hidden state)
  Tensor pooled_projections;     // [B, pooled_projection_dim] (CLIP pooled output)
  Tensor timestep;               // [B] sigma in [0, 1] (the pipeline's t / 1000); x1000 inside
  Tensor guidance;               // [B] raw guidance scale; required iff guidance_embeds
  Tensor img_ids;                // [N, 3] (0, row, col)
  Tensor txt_ids;                // [T, 3] zeros
};

class FluxTransformer2DModel {
 public:
  FluxTransformer2DModel(const FluxTransformerConfig& config, io::WeightBinder& binder,
                         const ModelOptions& options = {});

  const FluxTransformerConfig& config() const { return config_; }

  // Velocity prediction [B, N, patch^2 * out_channels] f32. Traces (diffusers module paths):
  // x_embedder, time_text_embed, context_embedder, pos_embed.0/.1 (cos/sin), transformer_blocks.i.0/.1
  // (text/image), single_transformer_blocks.i.0/.1, norm_out, proj_out.
  Tensor forward(const FluxTransformerInputs& in, const Trace* trace = nullptr) const;

 private:
  // One conditioning vector temb [B, D] (time_text_embed).
  Tensor conditioning(const Tensor& timestep, const Tensor& guidance, const Tensor& pooled) const;

  FluxTransformerConfig config_;
  Precision precision_;
  FluxBackbone backbone_;
  LinearLayer timestep_linear_1_, timestep_linear_2_;
  LinearLayer guidance_linear_1_, guidance_linear_2_;  // guidance_embeds only
  LinearLayer text_linear_1_, text_linear_2_;
  LinearLayer norm_out_linear_;
};

}  // namespace diffuse::models
