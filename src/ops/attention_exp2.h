// Internal to the attention kernels: 2^x on 16 floats with AVX-512 (x86-64 only). The softmax
// folds log2(e) into the score scale, so exp becomes exp2: round to the nearest integer n,
// a polynomial for 2^f on f = x - n in [-0.5, 0.5], and vscalefps for the 2^n factor.
#pragma once

#include "ops/x86_intrinsics.h"

#if defined(__x86_64__)

namespace diffuse::ops::attn {

// Least-squares fits of 2^f on [-0.5, 0.5]; relative error 7.7e-5 (degree 3), 2.7e-6 (4),
// 7.7e-8 (5). Finite x below -150 give 0 and above 128 give +inf. With kMinusInf, x may also
// be -inf (masked keys), which costs one clamp; without it -inf would give NaN.
template <int Degree, bool kMinusInf = true>
inline __attribute__((always_inline, target("avx512f"))) __m512 exp2_ps(__m512 x) {
  static_assert(Degree >= 3 && Degree <= 5, "fitted degrees");
  if constexpr (kMinusInf) x = _mm512_max_ps(x, _mm512_set1_ps(-150.0f));
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

}  // namespace diffuse::ops::attn
#endif
