#include "ops/reference/attention_ref.h"

#include <cmath>
#include <limits>
#include <vector>

#include "tensor/half.h"

namespace diffuse::ops::ref {

namespace {

// The tensor's values as a contiguous [B, H, S, D] array, rounded to bf16 when asked.
std::vector<double> values(const Tensor& t, bool round_bf16) {
  const std::vector<float> f = t.to_f32_vector();  // row-major over the logical shape
  std::vector<double> out(f.size());
  for (size_t i = 0; i < f.size(); ++i) out[i] = round_bf16 ? bf16_to_f32(f32_to_bf16(f[i])) : f[i];
  return out;
}

// Value of a tensor broadcast (right-aligned) to rank 4 at index (i0, i1, i2, i3).
double broadcast_item(const Tensor& t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
  const int64_t full[4] = {i0, i1, i2, i3};
  std::vector<int64_t> idx(t.ndim());
  for (int i = 0; i < t.ndim(); ++i) {
    const int f = 4 - t.ndim() + i;
    idx[i] = t.shape()[i] == 1 ? 0 : full[f];
  }
  return t.item(idx);
}

}  // namespace

Tensor attention_ref(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const int64_t B = q.dim(0), Hq = q.dim(1), Sq = q.dim(2), D = q.dim(3), Hkv = k.dim(1), Sk = k.dim(2);
  const bool rb = o.precision == AttentionPrecision::BF16;
  const double scale = o.scale ? *o.scale : 1.0 / std::sqrt(static_cast<double>(D));
  Tensor out = Tensor::zeros({B, Sq, Hq, D}, DType::F32);
  float* y = out.data_mut<float>();
  const std::vector<double> qv = values(q, rb), kv = values(k, rb), vv = values(v, rb);
  // Row (b, h, s) of a [B, H, S, D] array.
  auto row = [D](const std::vector<double>& x, int64_t H, int64_t S, int64_t b, int64_t h, int64_t s) {
    return &x[static_cast<size_t>(((b * H + h) * S + s) * D)];
  };
  std::vector<double> scores(Sk);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t hk = h / (Hq / Hkv);
      for (int64_t i = 0; i < Sq; ++i) {
        const double* qrow = row(qv, Hq, Sq, b, h, i);
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < Sk; ++j) {
          double s = 0;
          const double* krow = row(kv, Hkv, Sk, b, hk, j);
          for (int64_t d = 0; d < D; ++d) s += qrow[d] * krow[d];
          s *= scale;
          if (o.additive.defined()) s += broadcast_item(o.additive, b, h, i, j);
          if (o.key_mask.defined() && o.key_mask.item({b, j}) == 0) s = -std::numeric_limits<double>::infinity();
          scores[j] = s;
          mx = std::max(mx, s);
        }
        if (std::isinf(mx) && mx < 0) continue;  // nothing to attend: row stays 0
        double sum = 0;
        for (int64_t j = 0; j < Sk; ++j) sum += scores[j] = std::exp(scores[j] - mx);
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          const double* vcol = row(vv, Hkv, Sk, b, hk, 0) + d;
          for (int64_t j = 0; j < Sk; ++j) acc += scores[j] * vcol[j * D];
          y[((b * Sq + i) * Hq + h) * D + d] = static_cast<float>(acc / sum);
        }
      }
    }
  return out;
}

}  // namespace diffuse::ops::ref
