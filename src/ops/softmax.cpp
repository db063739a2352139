#include "ops/softmax.h"

#include <cmath>

#include "ops/tensor_args.h"
#include "ops/vec_math.h"
#include "runtime/parallel.h"

namespace diffuse::ops {
namespace {

float row_max(const float* x, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) m = (x[i] > m || std::isnan(x[i])) ? x[i] : m;
  return m;
}

// y[i] = exp(x[i] - m) (y may equal x); returns the sum of y, accumulated in double over
// eight independent lanes (written out so every ISA clone vectorizes it).
DIFFUSE_VECTOR_CLONES double exp_shifted(const float* x, float* y, int64_t n, float m) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = vec::exp(x[i] - m);
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) lanes[k] += y[i + k];
  }
  double sum = 0;
  for (; i < n; ++i) sum += y[i];
  for (int k = 0; k < 8; ++k) sum += lanes[k];
  return sum;
}

void softmax_row(const float* x, float* y, int64_t n) {
  const float m = row_max(x, n);
  if (m == -INFINITY) {  // every entry is -inf: a fully masked row
    for (int64_t i = 0; i < n; ++i) y[i] = 0.0f;
    return;
  }
  // Like torch: multiply by the reciprocal of the sum.
  const float inv = static_cast<float>(1.0 / exp_shifted(x, y, n, m));
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] *= inv;
}

void log_softmax_row(const float* x, float* y, int64_t n) {
  const float m = row_max(x, n);
  if (m == -INFINITY) {
    for (int64_t i = 0; i < n; ++i) y[i] = -INFINITY;
    return;
  }
  const float log_sum = static_cast<float>(std::log(exp_shifted(x, y, n, m)));
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) - log_sum;
}

template <typename RowFn>
Tensor rowwise(const Tensor& x, const char* op, RowFn fn) {
  check_f32(x, op, "x");
  const Rows rows(x, op, "x");
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  const float* src = static_cast<const float*>(x.raw());
  float* dst = out.data_mut<float>();
  const int64_t w = rows.width();
  parallel_for(rows.count(), rows_grain(w), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) fn(src + rows.offset(r), dst + r * w, w);
  });
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x) { return rowwise(x, "softmax", softmax_row); }

Tensor log_softmax(const Tensor& x) { return rowwise(x, "log_softmax", log_softmax_row); }

void softmax_inplace(Tensor& x) {
  const char* op = "softmax_inplace";
  check_f32(x, op, "x");
  check_writable(x, op, "x");
  const Rows rows(x, op, "x");
  float* data = x.data_mut<float>();
  const int64_t w = rows.width();
  parallel_for(rows.count(), rows_grain(w), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* row = data + rows.offset(r);
      softmax_row(row, row, w);
    }
  });
}

}  // namespace diffuse::ops
