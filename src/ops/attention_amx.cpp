// bf16 attention on AMX tiles (Intel Sapphire Rapids and later).
//
// Per work item (batch, query head, kRows queries) and block of keys:
//   S = Q K^T     AMX: 2x2 tiles of 16x16 f32 accumulators, K pre-packed as B tiles
//   P = softmax   AVX-512: exp2 with scale * log2(e) folded in; P rounded to bf16
//   O += P V      AMX: the f32 accumulator O lives in memory and is streamed through tiles
// The running max is updated lazily: the accumulator is rescaled only when a block's max
// exceeds the one in use by more than kSlack (in log2 units), so most blocks skip the rescale
// and probabilities stay <= 2^kSlack, far from overflow in bf16 or f32.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "ops/attention_exp2.h"
#include "ops/attention_problem.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace diffuse::ops::attn {

#if defined(__x86_64__)
namespace {

#define DIFFUSE_AMX_TARGET \
  __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))
#define DIFFUSE_AMX_INLINE inline __attribute__((always_inline)) DIFFUSE_AMX_TARGET

constexpr int64_t kRows = 32;    // query rows per work item (2 tile rows)
constexpr int64_t kKeys = 128;   // keys per softmax block
constexpr int64_t kTile = 512;   // bf16 elements in one 16 x 64-byte tile
constexpr float kSlack = 8.0f;   // lazy-rescale threshold, log2 units
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// q, k, v as bf16, packed once per call and zero padded:
//   q  [batch * heads_q][len_qp][dim_p]          row-major: A tiles load straight from it
//   kp [batch * heads_kv][len_kp / 16][dim_p / 32] tiles: B tiles of S = Q K^T; each holds,
//      per pair of head dims (tile row), 16 keys x 2 dims
//   vp [batch * heads_kv][len_kp / 32][dim_p / 16] tiles: B tiles of O = P V; each holds,
//      per pair of keys (tile row), 16 head dims x 2 keys
struct Packed {
  int64_t dim_p = 0, len_qp = 0, len_kp = 0;
  uint16_t *q = nullptr, *kp = nullptr, *vp = nullptr;
};

Packed pack(const Problem& p) {
  Packed pk;
  pk.dim_p = round_up(p.dim, 32);
  pk.len_qp = round_up(p.len_q, kRows);
  pk.len_kp = round_up(p.len_k, 32);
  const int64_t dp = pk.dim_p, qp = pk.len_qp, kp = pk.len_kp, D = p.dim;
  const int64_t k_chunks = dp / 32, v_blocks = dp / 16;
  pk.q = static_cast<uint16_t*>(thread_scratch(0, static_cast<size_t>(p.batch * p.heads_q * qp * dp) * 2));
  pk.kp = static_cast<uint16_t*>(thread_scratch(1, static_cast<size_t>(p.batch * p.heads_kv * kp * dp) * 2));
  pk.vp = static_cast<uint16_t*>(thread_scratch(2, static_cast<size_t>(p.batch * p.heads_kv * kp * dp) * 2));
  // A null row writes zeros (padding queries and keys).
  auto put_q = [&](int64_t b, int64_t h, int64_t s, const uint16_t* row) {
    uint16_t* dst = pk.q + ((b * p.heads_q + h) * qp + s) * dp;
    for (int64_t d = 0; d < dp; ++d) dst[d] = row && d < D ? row[d] : 0;
  };
  auto put_k = [&](int64_t b, int64_t h, int64_t j, const uint16_t* row) {
    uint16_t* t = pk.kp + (b * p.heads_kv + h) * kp * dp + (j / 16) * k_chunks * kTile + (j % 16) * 2;
    for (int64_t d = 0; d < dp; ++d) t[(d / 32) * kTile + ((d % 32) / 2) * 32 + (d % 2)] = row && d < D ? row[d] : 0;
  };
  auto put_v = [&](int64_t b, int64_t h, int64_t j, const uint16_t* row) {
    uint16_t* t = pk.vp + (b * p.heads_kv + h) * kp * dp + (j / 32) * v_blocks * kTile + ((j % 32) / 2) * 32 + (j % 2);
    for (int64_t d = 0; d < dp; ++d) t[(d / 16) * kTile + (d % 16) * 2] = row && d < D ? row[d] : 0;
  };
  for_each_row(p, p.q, p.heads_q, p.len_q, true,
               [&](int64_t b, int64_t h, int64_t s, const void* row) { put_q(b, h, s, static_cast<const uint16_t*>(row)); });
  for_each_row(p, p.k, p.heads_kv, p.len_k, true,
               [&](int64_t b, int64_t h, int64_t j, const void* row) { put_k(b, h, j, static_cast<const uint16_t*>(row)); });
  for_each_row(p, p.v, p.heads_kv, p.len_k, true,
               [&](int64_t b, int64_t h, int64_t j, const void* row) { put_v(b, h, j, static_cast<const uint16_t*>(row)); });
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t s = p.len_q; s < qp; ++s) put_q(b, h, s, nullptr);
    for (int64_t h = 0; h < p.heads_kv; ++h)
      for (int64_t j = p.len_k; j < kp; ++j) {
        put_k(b, h, j, nullptr);
        put_v(b, h, j, nullptr);
      }
  }
  return pk;
}

// Online softmax of one query row over np keys (multiple of 32): reads raw scores s, writes
// bf16 probabilities to prob, updates the row's max m (log2 units) and sum l, and rescales
// the accumulator row o when the max in use moves.
DIFFUSE_AMX_INLINE void softmax_row(const float* s, const float* bias, int64_t np, float c, uint16_t* prob,
                                    float& m, float& l, float* o, int64_t dim_p, float* scratch) {
  const __m512 vc = _mm512_set1_ps(c);
  __m512 vmax = _mm512_set1_ps(kNegInf);
  const float* x = s;
  if (bias) {
    // x = s * c + bias * log2(e), kept for the exp pass.
    const __m512 vl = _mm512_set1_ps(kLog2e);
    for (int64_t j = 0; j < np; j += 16) {
      const __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(s + j), vc, _mm512_mul_ps(_mm512_loadu_ps(bias + j), vl));
      _mm512_storeu_ps(scratch + j, v);
      vmax = _mm512_max_ps(vmax, v);
    }
    x = scratch;
  } else {
    for (int64_t j = 0; j < np; j += 16) vmax = _mm512_max_ps(vmax, _mm512_mul_ps(_mm512_loadu_ps(s + j), vc));
  }
  const float block_max = _mm512_reduce_max_ps(vmax);
  if (block_max == kNegInf && m == kNegInf) {  // nothing attendable yet: this block adds nothing
    std::memset(prob, 0, static_cast<size_t>(np) * 2);
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
    const __m512 v = bias ? _mm512_sub_ps(_mm512_loadu_ps(x + j), vm)
                          : _mm512_fmsub_ps(_mm512_loadu_ps(x + j), vc, vm);
    const __m512 e = exp2_ps<4>(v);  // 2.7e-6 relative: below the bf16 rounding of P
    vsum = _mm512_add_ps(vsum, e);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(prob + j), (__m256i)_mm512_cvtneps_pbh(e));
  }
  l += _mm512_reduce_add_ps(vsum);
}

DIFFUSE_AMX_TARGET void process_items(const Problem& p, const Packed& pk, int64_t begin, int64_t end) {
  const int64_t dim_p = pk.dim_p, q_tiles = pk.len_qp / kRows;
  const int64_t k_chunks = dim_p / 32, v_blocks = dim_p / 16;
  const float c = p.scale * kLog2e;
  std::vector<uint16_t> prob_buf(kRows * kKeys, 0);  // rows past the last query stay 0
  std::vector<float> s_buf(kRows * kKeys), o_buf(kRows * dim_p), m(kRows), l(kRows), block_bias(kKeys),
      row_bias(kKeys * 2);  // bias row + exponent scratch
  uint16_t* prob = prob_buf.data();
  float* s = s_buf.data();
  float* o = o_buf.data();

  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
  for (int64_t item = begin; item < end; ++item) {
    const int64_t qt = item % q_tiles, h = (item / q_tiles) % p.heads_q, b = item / q_tiles / p.heads_q;
    const int64_t hkv = p.kv_head(h);
    const uint16_t* q = pk.q + ((b * p.heads_q + h) * pk.len_qp + qt * kRows) * dim_p;
    const uint16_t* kpack = pk.kp + (b * p.heads_kv + hkv) * pk.len_kp * dim_p;
    const uint16_t* vpack = pk.vp + (b * p.heads_kv + hkv) * pk.len_kp * dim_p;
    const int64_t i0 = qt * kRows, rows = std::min(kRows, p.len_q - i0);
    std::fill(o, o + kRows * dim_p, 0.0f);
    std::fill(m.begin(), m.end(), kNegInf);
    std::fill(l.begin(), l.end(), 0.0f);
    for (int64_t j0 = 0; j0 < p.len_k; j0 += kKeys) {
      const int64_t n = std::min(kKeys, p.len_k - j0), np = round_up(n, 32);
      // S = Q K^T, 32 x 32 at a time.
      for (int64_t cp = 0; cp < np / 32; ++cp) {
        const uint16_t* k0 = kpack + ((j0 / 16) + cp * 2) * k_chunks * kTile;
        const uint16_t* k1 = k0 + k_chunks * kTile;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int64_t ch = 0; ch < k_chunks; ++ch) {
          _tile_loadd(4, q + ch * 32, dim_p * 2);
          _tile_loadd(5, q + 16 * dim_p + ch * 32, dim_p * 2);
          _tile_loadd(6, k0 + ch * kTile, 64);
          _tile_loadd(7, k1 + ch * kTile, 64);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 4, 7);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
        float* sc = s + cp * 32;
        _tile_stored(0, sc, kKeys * 4);
        _tile_stored(1, sc + 16, kKeys * 4);
        _tile_stored(2, sc + 16 * kKeys, kKeys * 4);
        _tile_stored(3, sc + 16 * kKeys + 16, kKeys * 4);
      }
      // Softmax, row by row.
      const bool block_biased = block_key_bias(p, b, j0, n, np, block_bias.data());
      for (int64_t r = 0; r < rows; ++r) {
        const float* bias = block_biased ? block_bias.data() : nullptr;
        if (p.additive) {
          float* rb = row_bias.data();
          if (block_biased) std::copy(block_bias.begin(), block_bias.begin() + np, rb);
          else std::fill(rb, rb + np, 0.0f);
          add_additive_row(p, b, h, i0 + r, j0, n, rb);
          bias = rb;
        }
        softmax_row(s + r * kKeys, bias, np, c, prob + r * kKeys, m[r], l[r], o + r * dim_p, dim_p,
                    row_bias.data() + kKeys);
      }
      // O += P V, 32 x 32 at a time.
      const uint16_t* vblock = vpack + (j0 / 32) * v_blocks * kTile;
      for (int64_t dp = 0; dp < dim_p / 32; ++dp) {
        float* oc = o + dp * 32;
        _tile_loadd(0, oc, dim_p * 4);
        _tile_loadd(1, oc + 16, dim_p * 4);
        _tile_loadd(2, oc + 16 * dim_p, dim_p * 4);
        _tile_loadd(3, oc + 16 * dim_p + 16, dim_p * 4);
        for (int64_t kc = 0; kc < np / 32; ++kc) {
          const uint16_t* v0 = vblock + (kc * v_blocks + dp * 2) * kTile;
          _tile_loadd(4, prob + kc * 32, kKeys * 2);
          _tile_loadd(5, prob + 16 * kKeys + kc * 32, kKeys * 2);
          _tile_loadd(6, v0, 64);
          _tile_loadd(7, v0 + kTile, 64);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 4, 7);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
        _tile_stored(0, oc, dim_p * 4);
        _tile_stored(1, oc + 16, dim_p * 4);
        _tile_stored(2, oc + 16 * dim_p, dim_p * 4);
        _tile_stored(3, oc + 16 * dim_p + 16, dim_p * 4);
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      float* dst = p.out_row(b, i0 + r, h);
      const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;  // l == 0: no attendable key, output 0
      for (int64_t d = 0; d < p.dim; ++d) dst[d] = o[r * dim_p + d] * inv;
    }
  }
  _tile_release();
}

}  // namespace

void run_amx(const Problem& p) {
  DIFFUSE_CHECK(p.round_bf16, "attention: the AMX kernel computes in bf16 only");
  const Packed pk = pack(p);
  const int64_t items = p.batch * p.heads_q * (pk.len_qp / kRows);
  parallel_for(items, 1, [&](int64_t begin, int64_t end) { process_items(p, pk, begin, end); });
}

#else
void run_amx(const Problem&) { fail("attention: the AMX kernel needs an x86-64 build"); }
#endif

}  // namespace diffuse::ops::attn
