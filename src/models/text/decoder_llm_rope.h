// Rotary frequencies of the decoder text encoders (transformers rope init functions):
// default RoPE, YaRN (v5 _compute_yarn_parameters, incl. `truncate`) and Ministral 3's
// Llama-4 query scaling. Emulates the reference's float32 arithmetic where it rounds.
#pragma once

#include <cstdint>

#include "models/text/decoder_llm_config.h"
#include "tensor/tensor.h"

namespace diffuse::models {

// YaRN's correction range over the head_dim/2 frequencies: with
// d(r) = dim * ln(L / (2 pi r)) / (2 ln theta), L = original_max_position_embeddings,
// low = max(d(beta_fast), 0), high = min(d(beta_slow), dim - 1), floored / ceiled when
// `truncate`.
struct YarnCorrectionRange {
  double low = 0;
  double high = 0;
};
YarnCorrectionRange yarn_correction_range(const YarnParams& y, int64_t dim, double theta);

// 0.1 * mscale * ln(scale) + 1 for scale > 1, else 1.
double yarn_get_mscale(double scale, double mscale);

// The factor cos and sin are multiplied by: 1 for default RoPE; for YaRN the explicit
// attention_factor, else get_mscale(f, mscale) / get_mscale(f, mscale_all_dim) when both are
// set and nonzero, else get_mscale(f) = 0.1 ln f + 1.
double rope_attention_factor(const DecoderLlmRope& rope);

// inv_freq [head_dim / 2] f32: theta^(-2j/d) (default), or YaRN's blend
// interp * (1 - w) + extrap * w with w = 1 - clamp((j - low) / (high - low), 0, 1).
Tensor decoder_llm_inv_freq(const DecoderLlmRope& rope, int64_t head_dim);

// Ministral 3's query scale per cache position p in [0, seq_len):
// 1 + beta * ln(1 + floor(p / original_max)), in f32 -> [seq_len].
Tensor llama4_query_scale(int64_t seq_len, double beta, int64_t original_max_position_embeddings);

}  // namespace diffuse::models
