#include "models/text/decoder_llm_rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "ops/rope.h"
#include "runtime/error.h"

namespace diffuse::models {

YarnCorrectionRange yarn_correction_range(const YarnParams& y, int64_t dim, double theta) {
  const auto correction_dim = [&](double rotations) {
    return static_cast<double>(dim) *
           std::log(static_cast<double>(y.original_max_position_embeddings) / (rotations * 2.0 * std::numbers::pi)) /
           (2.0 * std::log(theta));
  };
  double low = correction_dim(y.beta_fast), high = correction_dim(y.beta_slow);
  if (y.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  return {std::max(low, 0.0), std::min(high, static_cast<double>(dim - 1))};
}

double yarn_get_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

double rope_attention_factor(const DecoderLlmRope& rope) {
  if (rope.kind != RopeKind::Yarn) return 1.0;
  const YarnParams& y = rope.yarn;
  if (y.attention_factor) return *y.attention_factor;
  // Python truthiness: an absent or zero mscale / mscale_all_dim selects the fallback.
  if (y.mscale.value_or(0.0) != 0.0 && y.mscale_all_dim.value_or(0.0) != 0.0) {
    return yarn_get_mscale(y.factor, *y.mscale) / yarn_get_mscale(y.factor, *y.mscale_all_dim);
  }
  return yarn_get_mscale(y.factor, 1.0);
}

Tensor decoder_llm_inv_freq(const DecoderLlmRope& rope, int64_t head_dim) {
  Tensor extrapolation = ops::rope_inv_freq(head_dim, static_cast<float>(rope.theta));
  if (rope.kind == RopeKind::Default) return extrapolation;

  const YarnParams& y = rope.yarn;
  const int64_t half = head_dim / 2;
  const YarnCorrectionRange r = yarn_correction_range(y, head_dim, rope.theta);
  double span = r.high - r.low;
  if (span == 0.0) span = 0.001;  // the reference nudges `max` to avoid dividing by zero
  const float low = static_cast<float>(r.low), span_f = static_cast<float>(span);
  const float factor = static_cast<float>(y.factor), theta = static_cast<float>(rope.theta);
  Tensor out = Tensor::empty({half}, DType::F32);
  const float* extrap = extrapolation.data<float>();
  float* f = out.data_mut<float>();
  for (int64_t j = 0; j < half; ++j) {
    // f32 steps as the reference: pos_freqs = theta ** (2j / d), interp = 1 / (factor * pos).
    const float pos_freq = std::pow(theta, static_cast<float>(2 * j) / static_cast<float>(head_dim));
    const float interp = 1.0f / (factor * pos_freq);
    const float ramp = std::clamp((static_cast<float>(j) - low) / span_f, 0.0f, 1.0f);
    const float w = 1.0f - ramp;  // share of the unscaled (extrapolation) frequency
    f[j] = interp * (1.0f - w) + extrap[j] * w;
  }
  return out;
}

Tensor llama4_query_scale(int64_t seq_len, double beta, int64_t original_max_position_embeddings) {
  DIFFUSE_CHECK(original_max_position_embeddings > 0, "llama4_query_scale: original_max_position_embeddings must be positive");
  Tensor out = Tensor::empty({seq_len}, DType::F32);
  float* s = out.data_mut<float>();
  const float l = static_cast<float>(original_max_position_embeddings), b = static_cast<float>(beta);
  for (int64_t p = 0; p < seq_len; ++p) {
    s[p] = 1.0f + b * std::log(1.0f + std::floor(static_cast<float>(p) / l));
  }
  return out;
}

}  // namespace diffuse::models
