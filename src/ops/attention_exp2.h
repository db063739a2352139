// Internal to the attention kernels: 2^x on 16 floats with AVX-512 (x86-64 only). The softmax
// folds log2(e) into the score scale, so exp becomes exp2: round to the nearest integer n,
// a polynomial for 2^f on f = x - n in [-0.5, 0.5], and vscalefps for the 2^n factor.
#pragma once

#if defined(__x86_64__)
// GCC 12 flags the intrinsics' own "undefined" pass-through operands (_mm512_undefined_ps) as
// maybe-uninitialized once inlined (GCC bug 105593); the warning is about the header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

namespace diffuse::ops::attn {

// Least-squares fits of 2^f on [-0.5, 0.5] (relative error 2.7e-6 for degree 4, 7.7e-8 for 5).
// Inputs <= -150 (and -inf) give exactly 0; callers keep x below ~ +100.
template <int Degree>
inline __attribute__((always_inline, target("avx512f"))) __m512 exp2_ps(__m512 x) {
  static_assert(Degree == 4 || Degree == 5, "fitted degrees");
  x = _mm512_max_ps(x, _mm512_set1_ps(-150.0f));
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 y;
  if constexpr (Degree == 4) {
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
