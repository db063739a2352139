// Branch-free float32 math (exp, erf) that g++ auto-vectorizes inside loops. libm's expf/erff
// are scalar calls that block vectorization, and activations over [tokens x 12288] are hot.
// Coefficients are Chebyshev fits made for this file (near-minimax over the stated ranges);
// accuracy: exp ~2 ulp, erf absolute error < 1.5e-7 (about 2 ulp near 1).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

// Hot loops are compiled for several x86 ISAs and picked at load time (GNU ifunc), so a
// portable build still uses AVX2 / AVX-512 where the CPU has them. Sanitizer builds keep a
// single version (ifunc resolvers run before the sanitizer runtime is ready). Contraction of
// a*b+c into FMA is switched off in these functions: every clone then rounds exactly like the
// portable version (and like the reference's separate multiply and add).
// DIFFUSE_NO_FP_CONTRACT alone is for kernels that must round like the reference under any
// -march (templates cannot be cloned).
#if defined(__GNUC__) && !defined(__clang__)
#define DIFFUSE_NO_FP_CONTRACT __attribute__((optimize("fp-contract=off")))
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define DIFFUSE_VECTOR_CLONES \
  __attribute__((target_clones("default", "avx2", "arch=x86-64-v4"), optimize("fp-contract=off")))
#else
#define DIFFUSE_VECTOR_CLONES DIFFUSE_NO_FP_CONTRACT
#endif
#else
#define DIFFUSE_NO_FP_CONTRACT
#define DIFFUSE_VECTOR_CLONES
#endif

namespace diffuse::ops::vec {

// exp(x) with results below FLT_MIN flushed to 0 (x < -87.34) and +inf above x > 88.376
// (where 2^n leaves the normal exponent range); NaN propagates.
inline float exp(float x) {
  constexpr float kMax = 88.3762626647949f;
  constexpr float kMin = -87.3365447504f;
  constexpr float kShifter = 12582912.0f;  // 1.5 * 2^23: x + kShifter rounds x to an integer
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693145751953125f;  // 16 significant bits: n * kLn2Hi is exact
  constexpr float kLn2Lo = 1.42860682030941723e-06f;
  const bool over = x > kMax, under = x < kMin;
  float xc = over ? 0.0f : x;
  xc = under ? 0.0f : xc;
  // exp(x) = 2^n * exp(r) with n = round(x / ln2), |r| <= ln2 / 2.
  const float t = xc * kLog2e + kShifter;
  const float n = t - kShifter;
  float r = xc - n * kLn2Hi;
  r = r - n * kLn2Lo;
  float p = 1.3941108434e-03f;
  p = p * r + 8.3751263982e-03f;
  p = p * r + 4.1666352897e-02f;
  p = p * r + 1.6666415515e-01f;
  p = p * r + 5.0000000471e-01f;
  p = p * r + 1.0000000377e+00f;
  p = p * r + 1.0f;
  // n sits in the low mantissa bits of t; build 2^n directly in the exponent field.
  const uint32_t n_bits = std::bit_cast<uint32_t>(t) - std::bit_cast<uint32_t>(kShifter);
  const float scale = std::bit_cast<float>((n_bits + 127u) << 23);
  const float y = p * scale;
  const float y_hi = over ? INFINITY : y;
  return under ? 0.0f : y_hi;
}

// erf(x): x * P(x^2) for |x| <= 1; 1 - exp(-x^2) * erfcx(|x|) with erfcx fitted in 1/|x|
// for 1 < |x| < 4; +-1 beyond (erfc(4) is below half an ulp of 1).
inline float erf(float x) {
  const float a = std::fabs(x);
  const float s = a * a;
  float p = 7.8758750627e-05f;
  p = p * s - 8.0168642872e-04f;
  p = p * s + 5.1890874234e-03f;
  p = p * s - 2.6854212011e-02f;
  p = p * s + 1.1283594715e-01f;
  p = p * s - 3.7612626667e-01f;
  p = p * s + 1.1283791658e+00f;
  const float small = a * p;
  const float a_lo = a < 1.0f ? 1.0f : a;  // keeps the unused branch finite
  const float ac = a_lo > 4.0f ? 4.0f : a_lo;
  const float t = 1.0f / ac;
  float q = 2.5032543187e-02f;
  q = q * t - 1.4789844463e-01f;
  q = q * t + 3.6086186040e-01f;
  q = q * t - 4.2983374862e-01f;
  q = q * t + 1.4547734764e-01f;
  q = q * t + 2.8258979373e-01f;
  q = q * t - 3.9485958795e-01f;
  q = q * t + 2.4847521259e-02f;
  q = q * t + 5.6121463799e-01f;
  q = q * t + 1.5165568581e-04f;
  const float large = 1.0f - vec::exp(-(ac * ac)) * q;
  const float tail = a >= 4.0f ? 1.0f : large;
  const float r = a <= 1.0f ? small : tail;
  return std::copysign(r, x);
}

}  // namespace diffuse::ops::vec
