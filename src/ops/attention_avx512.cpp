// The AVX-512 f32 attention kernel: the shared tiled driver with hand-written 8 x 32 register
// tiles (16 zmm accumulators, one broadcast per row and step) and a softmax in log2 units.
// The compiler does not vectorize these loops reliably in ISO C++ mode (no FMA contraction),
// hence the intrinsics.
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/error.h"

#if defined(__x86_64__)

#define DIFFUSE_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define DIFFUSE_AVX512_INLINE inline __attribute__((always_inline)) DIFFUSE_AVX512_TARGET
#define DIFFUSE_ATTN_F32_TARGET DIFFUSE_AVX512_TARGET
#include "ops/attention_f32_driver.h"
#include "ops/exp2_avx512.h"
#endif

namespace diffuse::ops::attn {

#if defined(__x86_64__)
namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kSlack = 8.0f;  // lazy-rescale threshold, log2 units (see attention_amx.cpp)

struct Avx512Tiles {
  static constexpr int R = 8, C = 32;

  static DIFFUSE_AVX512_INLINE void qk_tile(const float* q, int64_t ldq, const float* kt, int64_t ldk,
                                            int64_t dim, float* s, int64_t lds) {
    __m512 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t d = 0; d < dim; ++d) {
      const __m512 k0 = _mm512_loadu_ps(kt + d * ldk), k1 = _mm512_loadu_ps(kt + d * ldk + 16);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 a = _mm512_set1_ps(q[r * ldq + d]);
        acc[r][0] = _mm512_fmadd_ps(a, k0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(a, k1, acc[r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      _mm512_storeu_ps(s + r * lds, acc[r][0]);
      _mm512_storeu_ps(s + r * lds + 16, acc[r][1]);
    }
  }

  static DIFFUSE_AVX512_INLINE void pv_tile(const float* p, int64_t ldp, int64_t n, const float* v, int64_t ldv,
                                            float* o, int64_t ldo) {
    __m512 acc[R][2];
    for (int r = 0; r < R; ++r) {
      acc[r][0] = _mm512_loadu_ps(o + r * ldo);
      acc[r][1] = _mm512_loadu_ps(o + r * ldo + 16);
    }
    for (int64_t j = 0; j < n; ++j) {
      const __m512 v0 = _mm512_loadu_ps(v + j * ldv), v1 = _mm512_loadu_ps(v + j * ldv + 16);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 a = _mm512_set1_ps(p[r * ldp + j]);
        acc[r][0] = _mm512_fmadd_ps(a, v0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(a, v1, acc[r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      _mm512_storeu_ps(o + r * ldo, acc[r][0]);
      _mm512_storeu_ps(o + r * ldo + 16, acc[r][1]);
    }
  }

  // Online softmax in log2 units with the lazy rescale of the AMX kernel (exact in f32:
  // probabilities stay <= 2^kSlack relative to the max in use).
  static DIFFUSE_AVX512_INLINE void softmax_row(float* s, int64_t np, float scale, const float* bias, float& m,
                                                float& l, float* o, int64_t dim_p) {
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    const __m512 vc = _mm512_set1_ps(scale * kLog2e), vl = _mm512_set1_ps(kLog2e);
    __m512 vmax = _mm512_set1_ps(kNegInf);
    for (int64_t j = 0; j < np; j += 16) {
      __m512 x = _mm512_mul_ps(_mm512_loadu_ps(s + j), vc);
      if (bias) x = _mm512_fmadd_ps(_mm512_loadu_ps(bias + j), vl, x);
      _mm512_storeu_ps(s + j, x);
      vmax = _mm512_max_ps(vmax, x);
    }
    const float block_max = _mm512_reduce_max_ps(vmax);
    if (block_max == kNegInf && m == kNegInf) {  // nothing attendable yet: this block adds nothing
      std::memset(s, 0, static_cast<size_t>(np) * sizeof(float));
      return;
    }
    if (block_max > m + kSlack) {
      const float alpha = m == kNegInf ? 0.0f : std::exp2(m - block_max);
      l *= alpha;
      const __m512 va = _mm512_set1_ps(alpha);
      for (int64_t d = 0; d < dim_p; d += 16) _mm512_storeu_ps(o + d, _mm512_mul_ps(_mm512_loadu_ps(o + d), va));
      m = block_max;
    }
    const __m512 vm = _mm512_set1_ps(m);
    __m512 vsum = _mm512_setzero_ps();
    for (int64_t j = 0; j < np; j += 16) {
      const __m512 e = exp2_ps<5>(_mm512_sub_ps(_mm512_loadu_ps(s + j), vm));
      vsum = _mm512_add_ps(vsum, e);
      _mm512_storeu_ps(s + j, e);
    }
    l += _mm512_reduce_add_ps(vsum);
  }
};

}  // namespace

void run_avx512(const Problem& p) { run_items_f32<Avx512Tiles>(p); }

#else
void run_avx512(const Problem&) { fail("attention: the AVX-512 kernel needs an x86-64 build"); }
#endif

}  // namespace diffuse::ops::attn
