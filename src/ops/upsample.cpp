#include "ops/upsample.h"

#include <cstring>

#include "ops/tensor_args.h"
#include "runtime/parallel.h"

namespace diffuse::ops {

Tensor upsample_nearest2d(const Tensor& x, int64_t factor) {
  const char* op = "upsample_nearest2d";
  check_f32(x, op, "x");
  check_contiguous(x, op, "x");
  check_rank(x, 4, op, "x");
  DIFFUSE_CHECK(factor >= 1, op, ": factor must be >= 1, got ", factor);
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  const int64_t ow = w * factor;
  Tensor out = Tensor::empty({n, c, h * factor, ow}, DType::F32);
  const float* src = x.data<float>();
  float* dst = out.data_mut<float>();
  // One input row produces `factor` identical output rows: build the first, copy the rest.
  parallel_for(n * c * h, rows_grain(ow * factor), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* in = src + r * w;
      float* first = dst + r * factor * ow;
      for (int64_t i = 0; i < w; ++i) {
        for (int64_t k = 0; k < factor; ++k) first[i * factor + k] = in[i];
      }
      for (int64_t k = 1; k < factor; ++k) {
        std::memcpy(first + k * ow, first, static_cast<size_t>(ow) * sizeof(float));
      }
    }
  });
  return out;
}

}  // namespace diffuse::ops
