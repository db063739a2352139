#include "ops/reference/timestep_embedding_ref.h"

#include <cmath>

namespace diffuse::ops::ref {

Tensor timestep_embedding(const Tensor& t, int64_t dim, const TimestepEmbeddingOptions& o) {
  const int64_t half = dim / 2, batch = t.dim(0);
  Tensor out = Tensor::zeros({batch, dim}, DType::F32);
  float* e = out.data_mut<float>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t j = 0; j < half; ++j) {
      const double freq = std::exp(-std::log(o.max_period) * j / (half - static_cast<double>(o.downscale_freq_shift)));
      const double arg = static_cast<double>(o.scale) * t.item({b}) * freq;
      const double first = o.flip_sin_to_cos ? std::cos(arg) : std::sin(arg);
      const double second = o.flip_sin_to_cos ? std::sin(arg) : std::cos(arg);
      e[b * dim + j] = static_cast<float>(first);
      e[b * dim + half + j] = static_cast<float>(second);
    }
  }
  return out;
}

}  // namespace diffuse::ops::ref
