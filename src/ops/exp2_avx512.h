// 2^x on 16 floats with AVX-512 (x86-64 only), for kernels that need exponentials fast and to a
// known accuracy rather than rounded like libm: the attention softmax (log2(e) folded into the
// score scale) and activations whose result is rounded to bf16 next. Round to the nearest
// integer n, a polynomial for 2^f on f = x - n in [-0.5, 0.5], and vscalefps for the 2^n factor.
#pragma once

#include "ops/x86_intrinsics.h"

#if defined(__x86_64__)

namespace diffuse::ops {

// Least-squares fits of 2^f on [-0.5, 0.5]; relative error 7.7e-5 (degree 3), 2.7e-6 (4),
// 7.7e-8 (5). x above 128 gives +inf; x below -125, including -inf (masked keys), gives 2^-125
// (2.4e-38; -125 rather than -126 because the polynomial dips below 1) instead of a subnormal or
// 0: results that underflow cost a microcode assist each (measured: attention with sharply peaked
// scores ran 27% slower, GELU on large activations 5x), and next to the 2^0 of a softmax row's
// max or the 1 of 1 + e they are nothing.
template <int Degree>
inline __attribute__((always_inline, target("avx512f"))) __m512 exp2_ps(__m512 x) {
  static_assert(Degree >= 3 && Degree <= 5, "fitted degrees");
  x = _mm512_max_ps(x, _mm512_set1_ps(-125.0f));
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 y;
  if constexpr (Degree == 3) {
    y = _mm512_set1_ps(5.5088683807e-02f);
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(2.4260405146e-01f));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(6.9327624168e-01f));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(9.9992894037e-01f));
  } else if constexpr (Degree == 4) {
    y = _mm512_set1_ps(9.5605102021e-03f);
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(5.5917039174e-02f));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(2.4024981110e-01f));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(6.9312196770e-01f));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(9.9999919086e-01f));
  } else {
    y = _mm512_set1_ps(1.3266970310e-03f);
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(9.6754597405e-03f));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(5.5507426162e-02f));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(2.4022121754e-01f));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(6.9314694916e-01f));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(1.0000000710e+00f));
  }
  return _mm512_scalef_ps(y, n);
}

}  // namespace diffuse::ops
#endif
