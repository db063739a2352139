// Reproduces PyTorch's CPU normal sampling (ATen's normal kernel):
//  * fewer than 16 elements: one double-precision Box-Muller draw per element, from two
//    53-bit uniforms, with the sine half cached for the next element;
//  * 16 or more: the whole buffer is first filled with uniforms of the dtype's mantissa
//    width, then transformed in blocks of 16 (pairs j and j+8); when the size is not a
//    multiple of 16 the last 16 elements are refilled with fresh uniforms and transformed
//    again. Arithmetic happens in the element type (float or bfloat16).
#include "sampling/torch_rng.h"

#include <cmath>
#include <numbers>
#include <type_traits>
#include <vector>

#include "sampling/cephes_float.h"
#include "tensor/half.h"

namespace diffuse {

void TorchGenerator::manual_seed(uint64_t seed) {
  engine_.seed(static_cast<uint32_t>(seed & 0xffffffffu));
  has_cached_normal_ = false;
}

uint64_t TorchGenerator::random64() {
  const uint64_t hi = random();
  const uint64_t lo = random();
  return (hi << 32) | lo;
}

namespace {

// Element arithmetic in float, or in bfloat16 (each result rounded, as c10::BFloat16 does).
struct F32Math {
  static float round(float x) { return x; }
  static constexpr int digits = 24;
};
struct Bf16Math {
  static float round(float x) { return bf16_to_f32(f32_to_bf16(x)); }
  static constexpr int digits = 8;
};

template <typename M>
float uniform(TorchGenerator& g) {
  const uint32_t mask = (1u << M::digits) - 1u;
  const float x = static_cast<float>(g.random() & mask) * std::ldexp(1.0f, -M::digits);
  return M::round(x);
}

// 2*pi rounded to float once, as the vectorized float kernel holds it in a register.
constexpr float kTwoPi = static_cast<float>(2.0 * std::numbers::pi);

// One block of 16 of float32 samples, as PyTorch's vectorized kernel computes it.
void normal_fill_16_f32(float* data) {
  for (int j = 0; j < 8; ++j) {
    const float u1 = 1.0f - data[j];
    const float u2 = data[j + 8];
    const float radius = std::sqrt(-2.0f * cephes::logf(u1));
    float s, c;
    cephes::sincosf(kTwoPi * u2, &s, &c);
    data[j] = radius * c;
    data[j + 8] = radius * s;
  }
}

// One block of 16: data[j], data[j+8] hold uniforms; they become the Box-Muller pair.
template <typename M>
void normal_fill_16(float* data) {
  for (int j = 0; j < 8; ++j) {
    const float u1 = M::round(1.0f - data[j]);
    const float u2 = data[j + 8];
    const float radius = M::round(std::sqrt(M::round(-2.0f * M::round(std::log(u1)))));
    const float theta = M::round(kTwoPi * u2);
    data[j] = M::round(M::round(radius * M::round(std::cos(theta))) * 1.0f + 0.0f);
    data[j + 8] = M::round(M::round(radius * M::round(std::sin(theta))) * 1.0f + 0.0f);
  }
}

template <typename M>
void fill_block(float* data) {
  if constexpr (std::is_same_v<M, F32Math>) {
    normal_fill_16_f32(data);
  } else {
    normal_fill_16<M>(data);
  }
}

template <typename M>
void normal_fill(TorchGenerator& g, float* data, int64_t n) {
  for (int64_t i = 0; i < n; ++i) data[i] = uniform<M>(g);
  for (int64_t i = 0; i + 16 <= n; i += 16) fill_block<M>(data + i);
  if (n % 16 != 0) {
    float* tail = data + n - 16;
    for (int i = 0; i < 16; ++i) tail[i] = uniform<M>(g);
    fill_block<M>(tail);
  }
}

}  // namespace

struct NormalSampler {
  // Scalar path: double Box-Muller with the cached second sample.
  static double next(TorchGenerator& g) {
    if (g.has_cached_normal_) {
      g.has_cached_normal_ = false;
      return g.cached_normal_;
    }
    const double u1 = static_cast<double>(g.random64() & ((1ull << 53) - 1)) * std::ldexp(1.0, -53);
    const double u2 = static_cast<double>(g.random64() & ((1ull << 53) - 1)) * std::ldexp(1.0, -53);
    const double r = std::sqrt(-2.0 * std::log1p(-u2));
    const double theta = 2.0 * std::numbers::pi * u1;
    g.cached_normal_ = r * std::sin(theta);
    g.has_cached_normal_ = true;
    return r * std::cos(theta);
  }
};

Tensor TorchGenerator::randn(const Shape& shape, DType dtype) {
  DIFFUSE_CHECK(dtype == DType::F32 || dtype == DType::BF16, "randn: unsupported dtype ",
                dtype_name(dtype));
  const int64_t n = shape_numel(shape);
  std::vector<float> values(static_cast<size_t>(n));
  if (n >= 16) {
    if (dtype == DType::F32) {
      normal_fill<F32Math>(*this, values.data(), n);
    } else {
      normal_fill<Bf16Math>(*this, values.data(), n);
    }
  } else {
    for (auto& v : values) v = static_cast<float>(NormalSampler::next(*this));
  }
  Tensor t = Tensor::from_f32(shape, values);
  return dtype == DType::F32 ? t : t.to(dtype);
}

}  // namespace diffuse
