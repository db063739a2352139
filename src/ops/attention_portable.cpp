// The portable f32 attention kernel: the shared tiled driver with 4-wide vector tiles that
// build for any target (and the fallback on x86 CPUs without AVX-512).
#include <algorithm>
#include <cstring>
#include <limits>

#include "ops/vec_math.h"

#define DIFFUSE_ATTN_F32_TARGET
#include "ops/attention_f32_driver.h"

namespace diffuse::ops::attn {
namespace {

#define DIFFUSE_ATTN_INLINE inline __attribute__((always_inline))

// 4-wide float vectors (GCC/Clang vector extensions): SSE on x86-64, NEON on ARM64. Written
// with explicit vectors because the compiler keeps neither plain-array accumulators in
// registers nor contracts a * b + c in ISO C++ mode.
typedef float Vec4 __attribute__((vector_size(16)));

DIFFUSE_ATTN_INLINE Vec4 load4(const float* p) {
  Vec4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

DIFFUSE_ATTN_INLINE void store4(float* p, Vec4 v) { std::memcpy(p, &v, sizeof(v)); }

struct PortableTiles {
  static constexpr int R = 4, C = 16, V = C / 4;
  static constexpr int kLanes = 16;  // partial results per reduction, so it vectorizes

  static DIFFUSE_ATTN_INLINE void qk_tile(const float* q, int64_t ldq, const float* kt, int64_t ldk, int64_t dim,
                                          float* s, int64_t lds) {
    Vec4 acc[R][V] = {};
    for (int64_t d = 0; d < dim; ++d) {
      Vec4 k[V];
      for (int c = 0; c < V; ++c) k[c] = load4(kt + d * ldk + 4 * c);
      for (int r = 0; r < R; ++r) {
        const float a = q[r * ldq + d];
        for (int c = 0; c < V; ++c) acc[r][c] += a * k[c];
      }
    }
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < V; ++c) store4(s + r * lds + 4 * c, acc[r][c]);
  }

  static DIFFUSE_ATTN_INLINE void pv_tile(const float* p, int64_t ldp, int64_t n, const float* v, int64_t ldv,
                                          float* o, int64_t ldo) {
    Vec4 acc[R][V];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < V; ++c) acc[r][c] = load4(o + r * ldo + 4 * c);
    for (int64_t j = 0; j < n; ++j) {
      Vec4 vr[V];
      for (int c = 0; c < V; ++c) vr[c] = load4(v + j * ldv + 4 * c);
      for (int r = 0; r < R; ++r) {
        const float a = p[r * ldp + j];
        for (int c = 0; c < V; ++c) acc[r][c] += a * vr[c];
      }
    }
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < V; ++c) store4(o + r * ldo + 4 * c, acc[r][c]);
  }

  // Eager online softmax in natural-log units: the max in use is always the running max.
  static DIFFUSE_ATTN_INLINE void softmax_row(float* s, int64_t np, float scale, const float* bias, float& m,
                                              float& l, float* o, int64_t dim_p) {
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    float lane[kLanes];
    for (int t = 0; t < kLanes; ++t) lane[t] = kNegInf;
    for (int64_t j = 0; j < np; j += kLanes)
      for (int t = 0; t < kLanes; ++t) {
        const float x = s[j + t] * scale + (bias ? bias[j + t] : 0.0f);
        s[j + t] = x;
        lane[t] = lane[t] > x ? lane[t] : x;
      }
    float block_max = kNegInf;
    for (int t = 0; t < kLanes; ++t) block_max = std::max(block_max, lane[t]);
    const float m_new = std::max(m, block_max);
    if (m_new == kNegInf) {  // every key so far is masked out: this block adds nothing
      for (int64_t j = 0; j < np; ++j) s[j] = 0.0f;
      return;
    }
    const float alpha = vec::exp(m - m_new);  // 0 on the first attended block (m = -inf)
    for (int t = 0; t < kLanes; ++t) lane[t] = 0.0f;
    for (int64_t j = 0; j < np; j += kLanes)
      for (int t = 0; t < kLanes; ++t) {
        const float e = vec::exp(s[j + t] - m_new);
        s[j + t] = e;
        lane[t] += e;
      }
    float sum = 0.0f;
    for (int t = 0; t < kLanes; ++t) sum += lane[t];
    l = l * alpha + sum;
    m = m_new;
    if (alpha != 1.0f)
      for (int64_t d = 0; d < dim_p; ++d) o[d] *= alpha;
  }
};

}  // namespace

void run_portable(const Problem& p) { run_items_f32<PortableTiles>(p); }

}  // namespace diffuse::ops::attn
