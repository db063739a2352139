#include "ops/timestep_embedding.h"

#include <cmath>
#include <vector>

#include "ops/tensor_args.h"

namespace diffuse::ops {

Tensor timestep_embedding(const Tensor& t, int64_t dim, const TimestepEmbeddingOptions& o) {
  const char* op = "timestep_embedding";
  check_rank(t, 1, op, "t");
  DIFFUSE_CHECK(dim >= 2, op, ": embedding dim must be >= 2, got ", dim);
  DIFFUSE_CHECK(std::isfinite(o.max_period) && o.max_period > 0, op, ": max_period must be positive");
  const int64_t half = dim / 2;
  const float denom = static_cast<float>(half) - o.downscale_freq_shift;
  DIFFUSE_CHECK(denom != 0.0f, op, ": half dim ", half, " minus downscale_freq_shift ",
                o.downscale_freq_shift, " is zero");
  const Tensor tf = t.dtype() == DType::F32 && t.is_contiguous() ? t : t.to(DType::F32);
  const float neg_log_period = static_cast<float>(-std::log(o.max_period));
  std::vector<float> freq(half);
  for (int64_t j = 0; j < half; ++j) {
    const float exponent = (neg_log_period * static_cast<float>(j)) / denom;
    freq[j] = static_cast<float>(std::exp(static_cast<double>(exponent)));
  }
  const int64_t batch = t.dim(0);
  Tensor out = Tensor::zeros({batch, dim}, DType::F32);
  const float* ts = tf.data<float>();
  float* e = out.data_mut<float>();
  const int64_t sin_at = o.flip_sin_to_cos ? half : 0;
  const int64_t cos_at = o.flip_sin_to_cos ? 0 : half;
  for (int64_t b = 0; b < batch; ++b) {
    float* row = e + b * dim;
    for (int64_t j = 0; j < half; ++j) {
      const float arg = o.scale * (ts[b] * freq[j]);
      row[sin_at + j] = static_cast<float>(std::sin(static_cast<double>(arg)));
      row[cos_at + j] = static_cast<float>(std::cos(static_cast<double>(arg)));
    }
  }
  return out;
}

}  // namespace diffuse::ops
