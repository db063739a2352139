// Single-precision log and sin/cos by the classic Cephes range reduction + minimax
// polynomials. PyTorch's vectorized CPU normal sampler evaluates Box-Muller with these
// (not with libm), so reproducing its streams bit for bit needs the same arithmetic,
// including which multiply-adds the compiled reference kernel fused (std::fma below) and
// which it rounded separately; the torch_randn fixture pins this down to the last bit.
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/half.h"

namespace diffuse::cephes {

// Natural log for x > 0 (normal range; the sampler feeds values in (0, 1]).
inline float logf(float x) {
  const uint32_t bits = f32_bits(x);
  float e = static_cast<float>(static_cast<int32_t>(bits >> 23) - 0x7f) + 1.0f;
  float m = f32_from_bits((bits & 0x807fffffu) | 0x3f000000u);  // mantissa in [0.5, 1)
  // Keep m in [sqrt(1/2), sqrt(2)) around 1 by borrowing one from the exponent.
  if (m < 0.707106781186547524f) {
    e -= 1.0f;
    m = (m - 1.0f) + m;
  } else {
    m = m - 1.0f;
  }
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = std::fma(y, m, -1.1514610310e-1f);
  y = std::fma(y, m, 1.1676998740e-1f);
  y = std::fma(y, m, -1.2420140846e-1f);
  y = std::fma(y, m, 1.4249322787e-1f);
  y = std::fma(y, m, -1.6668057665e-1f);
  y = std::fma(y, m, 2.0000714765e-1f);
  y = std::fma(y, m, -2.4999993993e-1f);
  y = std::fma(y, m, 3.3333331174e-1f);
  y = y * m;
  y = std::fma(y, z, e * -2.12194440e-4f);
  y = std::fma(z, -0.5f, y);
  m = m + y;
  return std::fma(e, 0.693359375f, m);
}

// sin and cos of x (|x| moderate; the sampler feeds [0, 2*pi)).
inline void sincosf(float x, float* s, float* c) {
  const bool negative = std::signbit(x);
  x = std::fabs(x);
  int32_t j = static_cast<int32_t>(x * 1.27323954473516f);  // x * 4/pi, truncated
  j = (j + 1) & ~1;
  const float y = static_cast<float>(j);
  const bool swap_sin_sign = (j & 4) != 0;
  const bool cos_sign = ((~(j - 2)) & 4) != 0;
  const bool use_sin_poly_for_sin = (j & 2) == 0;
  // Extended-precision reduction by pi/4 in three parts.
  x = std::fma(y, -0.78515625f, x);
  x = std::fma(y, -2.4187564849853515625e-4f, x);
  x = std::fma(y, -3.77489497744594108e-8f, x);
  const float z = x * x;
  float pc = 2.443315711809948e-5f;
  pc = std::fma(pc, z, -1.388731625493765e-3f);
  pc = std::fma(pc, z, 4.166664568298827e-2f);
  pc = pc * z;
  pc = std::fma(pc, z, -(z * 0.5f));
  pc = pc + 1.0f;
  float ps = -1.9515295891e-4f;
  ps = std::fma(ps, z, 8.3321608736e-3f);
  ps = std::fma(ps, z, -1.6666654611e-1f);
  ps = ps * z;
  ps = std::fma(ps, x, x);
  float sin_v = use_sin_poly_for_sin ? ps : pc;
  float cos_v = use_sin_poly_for_sin ? pc : ps;
  if (negative != swap_sin_sign) sin_v = -sin_v;
  if (cos_sign) cos_v = -cos_v;
  *s = sin_v;
  *c = cos_v;
}

}  // namespace diffuse::cephes
