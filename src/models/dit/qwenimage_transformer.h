// Qwen-Image diffusion transformer (diffusers QwenImageTransformer2DModel): 60 dual-stream MMDiT
// blocks (the FLUX double-block math under Qwen names) over [text, image] tokens, conditioned on
// the timestep alone. Text comes from Qwen2.5-VL hidden states through an RMSNorm and txt_in;
// padded text tokens are hard-masked out of every attention (keys), per batch row.
#pragma once

#include <string>
#include <vector>

#include "io/json_config.h"
#include "io/weight_binder.h"
#include "models/common/linear_layer.h"
#include "models/common/model_options.h"
#include "models/common/trace.h"
#include "models/dit/flux_blocks.h"
#include "models/dit/qwenimage_transformer_rope.h"

namespace diffuse::models {

struct QwenImageTransformerConfig {
  int64_t patch_size = 2;
  int64_t in_channels = 64;
  int64_t out_channels = 16;  // config null -> in_channels
  int64_t num_layers = 60;
  int64_t attention_head_dim = 128;
  int64_t num_attention_heads = 24;
  int64_t joint_attention_dim = 3584;
  std::vector<int64_t> axes_dims_rope{16, 56, 56};

  int64_t inner_dim() const { return num_attention_heads * attention_head_dim; }
  int64_t output_channels() const { return patch_size * patch_size * out_channels; }
  // Reference defaults for absent fields. guidance_embeds, zero_cond_t, use_additional_t_cond and
  // use_layer3d_rope (Qwen-Image-Edit-style variants) are rejected when true.
  static QwenImageTransformerConfig from_json(const io::Json& json, const std::string& context);
};

class QwenImageTransformer2DModel {
 public:
  QwenImageTransformer2DModel(const QwenImageTransformerConfig& config, io::WeightBinder& binder,
                              const ModelOptions& options = {});

  const QwenImageTransformerConfig& config() const { return config_; }

  // hidden_states [B, N, in_channels] packed latents, N == grid.tokens();
  // encoder_hidden_states [B, T, joint_attention_dim] (T = padded text length);
  // encoder_mask [B, T] (Bool / U8 / I32 / I64 / F32, nonzero = valid token; undefined = all valid):
  //   padded text keys are masked out row by row, so rows of different text lengths can share a
  //   batch (true CFG runs cond and uncond in one call);
  // timestep [B] = sigma in [0, 1] (the pipeline's t / 1000; Timesteps(scale=1000) inside).
  // Returns the velocity [B, N, patch^2 * out_channels] f32. Traces (diffusers module paths):
  // img_in, time_text_embed, txt_norm, txt_in, pos_embed.0.real/.imag (image, [N, head_dim/2]),
  // pos_embed.1.real/.imag (text, [T, head_dim/2]), transformer_blocks.i.0 / .1 (text / image),
  // norm_out, proj_out.
  Tensor forward(const Tensor& hidden_states, const Tensor& encoder_hidden_states, const Tensor& encoder_mask,
                 const Tensor& timestep, const QwenImageGrid& grid, const Trace* trace = nullptr) const;

 private:
  Tensor time_embedding(const Tensor& timestep) const;  // temb [B, D]

  QwenImageTransformerConfig config_;
  Precision precision_;
  LinearLayer timestep_linear_1_, timestep_linear_2_;
  Tensor txt_norm_weight_;  // [joint_attention_dim] f32
  LinearLayer img_in_, txt_in_;
  std::vector<FluxDoubleBlock> blocks_;
  LinearLayer norm_out_linear_, proj_out_;
};

}  // namespace diffuse::models
