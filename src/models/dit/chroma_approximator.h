// Chroma's modulation path: ChromaCombinedTimestepTextProjEmbeddings ("time_text_embed", no
// weights) builds one input row per modulation vector from the timestep and the row index, and
// ChromaApproximator ("distilled_guidance_layer") maps each row to one D-wide modulation vector.
// Together they replace FLUX's per-block adaLN linears.
#pragma once

#include <string>
#include <vector>

#include "io/weight_binder.h"
#include "models/common/linear_layer.h"
#include "models/common/model_options.h"

namespace diffuse::models {

// time_text_embed: input_vec[b, r] = [sinusoid_C(t_b), sinusoid_C(0), sinusoid_2C(1000 r)] with
// C = num_channels (approximator_num_channels / 4), flip_sin_to_cos, no frequency shift.
class ChromaTimestepRows {
 public:
  ChromaTimestepRows(int64_t num_channels, int64_t rows);
  // timestep_x1000 [B] (sigma * 1000, f32) -> [B, rows, 4 * num_channels] f32.
  Tensor forward(const Tensor& timestep_x1000) const;

 private:
  int64_t num_channels_ = 0;
  Tensor guidance_part_;  // [C]: the sinusoid of guidance 0 (always 0 for Chroma), same for every row
  Tensor row_part_;       // [rows, 2C], the constant "mod_proj" buffer
};

// distilled_guidance_layer: in_proj, then n x (h += linear_2(SiLU(linear_1(RMSNorm(h))))), out_proj.
// The norms are torch.nn.RMSNorm(hidden_dim) with eps=None, i.e. FLT_EPSILON in f32.
class ChromaApproximator {
 public:
  ChromaApproximator(io::WeightBinder& binder, int64_t in_dim, int64_t hidden_dim, int64_t out_dim,
                     int64_t layers, const ModelOptions& options);
  // [..., in_dim] -> [..., out_dim] f32.
  Tensor forward(const Tensor& x) const;

 private:
  Precision precision_;
  LinearLayer in_proj_, out_proj_;
  std::vector<LinearLayer> linear_1_, linear_2_;
  std::vector<Tensor> norms_;  // [hidden_dim] f32 each
};

}  // namespace diffuse::models
