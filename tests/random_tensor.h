// Test helpers: seeded random tensors and error measures against reference outputs.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "tensor/tensor.h"

namespace diffuse::testing {

// Normal(0, scale) values, stored in `dtype` (f32 values rounded once when bf16/f16).
inline Tensor random_tensor(const Shape& shape, uint32_t seed, float scale = 1.0f,
                            DType dtype = DType::F32) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = dist(rng);
  Tensor t = Tensor::from_f32(shape, v);
  return dtype == DType::F32 ? t : t.to(dtype);
}

struct Diff {
  double max_abs = 0;   // max |a - b|
  double max_ref = 0;   // max |b|
  double cosine = 1;    // cosine similarity of a and b as flat vectors
  double rel() const { return max_ref > 0 ? max_abs / max_ref : max_abs; }
};

// Compares `got` with `want` element by element (any dtypes, same shape).
inline Diff compare(const Tensor& got, const Tensor& want) {
  DIFFUSE_CHECK(got.shape() == want.shape(), "compare: shapes ", shape_str(got.shape()), " vs ",
                shape_str(want.shape()));
  const std::vector<float> a = got.to_f32_vector(), b = want.to_f32_vector();
  Diff d;
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = a[i], y = b[i];
    d.max_abs = std::max(d.max_abs, std::isnan(x - y) ? INFINITY : std::fabs(x - y));
    d.max_ref = std::max(d.max_ref, std::fabs(y));
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  d.cosine = na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : (na == nb ? 1.0 : 0.0);
  return d;
}

}  // namespace diffuse::testing
