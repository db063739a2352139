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
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "ops/amx_tiles.h"
#include "ops/attention_problem.h"
#include "ops/exp2_avx512.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace diffuse::ops::attn {

#if defined(__x86_64__)
namespace {

#define DIFFUSE_AMX_TARGET \
  __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))
#define DIFFUSE_AMX_INLINE inline __attribute__((always_inline)) DIFFUSE_AMX_TARGET

// Query rows per work item (any multiple of 32 works). Each item reads its head's whole K and V
// (2.4 MB at 4608 keys x 128 dims, more than L2): 96 rows per pass instead of 32 cut that
// stream 3x and took the kernel from 1.3 to 1.55 TFLOP/s on 2 cores at 4608 tokens (measured;
// 128 was no faster).
constexpr int64_t kRows = 96;
constexpr int64_t kKeys = 256;   // keys per softmax block
constexpr int64_t kTile = 512;   // bf16 elements in one 16 x 64-byte tile
constexpr float kSlack = 8.0f;   // lazy-rescale threshold, log2 units
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();


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
  const int64_t dp = pk.dim_p, qp = pk.len_qp, kp = pk.len_kp;
  const int64_t k_chunks = dp / 32, v_blocks = dp / 16;
  pk.q = static_cast<uint16_t*>(thread_scratch(0, static_cast<size_t>(p.batch * p.heads_q * qp * dp) * 2));
  pk.kp = static_cast<uint16_t*>(thread_scratch(1, static_cast<size_t>(p.batch * p.heads_kv * kp * dp) * 2));
  pk.vp = static_cast<uint16_t*>(thread_scratch(2, static_cast<size_t>(p.batch * p.heads_kv * kp * dp) * 2));
  constexpr int64_t kGroup = 32;  // positions per packing step (kRows and len_kp are multiples)
  auto put_q = [&](int64_t b, int64_t i0, const void* rows) {
    for (int64_t h = 0; h < p.heads_q; ++h)
      std::memcpy(pk.q + ((b * p.heads_q + h) * qp + i0) * dp, static_cast<const uint16_t*>(rows) + h * kGroup * dp,
                  kGroup * dp * 2);
  };
  // K: per 16 keys and 32 dims, a 16 x 16 transpose of (dim pair) words.
  auto put_k = [&](int64_t b, int64_t j0, const void* rows) {
    const int64_t words = dp / 2;  // bf16 pairs per row
    for (int64_t h = 0; h < p.heads_kv; ++h) {
      const auto* r = static_cast<const uint32_t*>(rows) + h * kGroup * words;
      for (int64_t half = 0; half < 2; ++half) {
        auto* base = reinterpret_cast<uint32_t*>(pk.kp + (b * p.heads_kv + h) * kp * dp +
                                                 (j0 / 16 + half) * k_chunks * kTile);
        for (int64_t ch = 0; ch < k_chunks; ++ch) {
          uint32_t* t = base + ch * kTile / 2;
          for (int64_t pp = 0; pp < 16; ++pp)
            for (int64_t n = 0; n < 16; ++n) t[pp * 16 + n] = r[(half * 16 + n) * words + ch * 16 + pp];
        }
      }
    }
  };
  // V: per 32 keys and 16 dims, rows 2i and 2i + 1 interleaved into tile row i.
  auto put_v = [&](int64_t b, int64_t j0, const void* rows) {
    for (int64_t h = 0; h < p.heads_kv; ++h) {
      const uint16_t* r = static_cast<const uint16_t*>(rows) + h * kGroup * dp;
      uint16_t* base = pk.vp + (b * p.heads_kv + h) * kp * dp + (j0 / 32) * v_blocks * kTile;
      for (int64_t db = 0; db < v_blocks; ++db) {
        uint16_t* t = base + db * kTile;
        for (int64_t pp = 0; pp < 16; ++pp)
          for (int64_t n = 0; n < 16; ++n) {
            t[pp * 32 + n * 2] = r[(2 * pp) * dp + db * 16 + n];
            t[pp * 32 + n * 2 + 1] = r[(2 * pp + 1) * dp + db * 16 + n];
          }
      }
    }
  };
  for_each_row_group(p, kGroup, dp, true,
                     {{&p.q, p.heads_q, p.len_q, put_q}, {&p.k, p.heads_kv, p.len_k, put_k},
                      {&p.v, p.heads_kv, p.len_k, put_v}});
  // Query rows past the last packed group (when kRows > kGroup) are zero.
  const int64_t q_done = round_up(p.len_q, kGroup);
  for (int64_t bh = 0; bh < p.batch * p.heads_q; ++bh)
    std::fill(pk.q + (bh * qp + q_done) * dp, pk.q + (bh + 1) * qp * dp, uint16_t{0});
  return pk;
}

// x = s * c (+ bias * log2(e)) - m for 16 keys: scores in log2 units relative to the max in use.
template <bool kBias>
DIFFUSE_AMX_INLINE __m512 shifted_scores(const float* s, const float* bias, int64_t j, __m512 vc, __m512 vm) {
  const __m512 x = _mm512_fmsub_ps(_mm512_loadu_ps(s + j), vc, vm);
  if constexpr (kBias) return _mm512_fmadd_ps(_mm512_loadu_ps(bias + j), _mm512_set1_ps(kLog2e), x);
  return x;
}

// Writes bf16 probabilities 2^x for np keys (multiple of 32) given the max in use m; returns
// their f32 sum and sets `over` to the largest x (how far the block's max exceeds m).
template <bool kBias>
DIFFUSE_AMX_INLINE float exp_pass(const float* s, const float* bias, int64_t np, float c, float m, uint16_t* prob,
                                  float& over) {
  const __m512 vc = _mm512_set1_ps(c), vm = _mm512_set1_ps(m);
  __m512 vsum = _mm512_setzero_ps(), vmax = _mm512_set1_ps(kNegInf);
  for (int64_t j = 0; j < np; j += 32) {
    const __m512 x0 = shifted_scores<kBias>(s, bias, j, vc, vm);
    const __m512 x1 = shifted_scores<kBias>(s, bias, j + 16, vc, vm);
    vmax = _mm512_max_ps(vmax, _mm512_max_ps(x0, x1));
    // Degree 3: 7.7e-5 relative, well below the bf16 rounding of P right after.
    const __m512 e0 = exp2_ps<3>(x0), e1 = exp2_ps<3>(x1);
    vsum = _mm512_add_ps(vsum, _mm512_add_ps(e0, e1));
    _mm512_storeu_si512(prob + j, (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
  }
  over = _mm512_reduce_max_ps(vmax);
  return _mm512_reduce_add_ps(vsum);
}

// Online softmax of one query row over np keys (multiple of 32): reads raw scores s, writes
// bf16 probabilities to prob, updates the row's max m (log2 units) and sum l, and rescales
// the accumulator row o when the max in use moves. The exp pass runs optimistically with the
// max in use and also finds the block's max; only when that exceeds the max in use by more
// than kSlack (the row's first attended block, or a large jump) is the block redone.
template <bool kBias>
DIFFUSE_AMX_INLINE void softmax_row(const float* s, const float* bias, int64_t np, float c, uint16_t* prob,
                                    float& m, float& l, float* o, int64_t dim_p) {
  if (m == kNegInf) {  // no max in use yet: find this block's max first
    const __m512 vc = _mm512_set1_ps(c), zero = _mm512_setzero_ps();
    __m512 vmax = _mm512_set1_ps(kNegInf);
    for (int64_t j = 0; j < np; j += 16) vmax = _mm512_max_ps(vmax, shifted_scores<kBias>(s, bias, j, vc, zero));
    const float block_max = _mm512_reduce_max_ps(vmax);
    if (block_max == kNegInf) {  // nothing attendable yet: this block adds nothing
      std::memset(prob, 0, static_cast<size_t>(np) * 2);
      return;
    }
    m = block_max;
  }
  float over;
  float sum = exp_pass<kBias>(s, bias, np, c, m, prob, over);
  if (over > kSlack) {
    const float m_new = m + over, alpha = std::exp2(m - m_new);
    l *= alpha;
    const __m512 va = _mm512_set1_ps(alpha);
    for (int64_t d = 0; d < dim_p; d += 16) _mm512_storeu_ps(o + d, _mm512_mul_ps(_mm512_loadu_ps(o + d), va));
    m = m_new;
    sum = exp_pass<kBias>(s, bias, np, c, m, prob, over);
  }
  l += sum;
}

// One step of S = Q K^T for 32 query rows: the 32 keys of column pair cp, 2 x 2 tiles of 16 x 16
// (S row stride kKeys).
DIFFUSE_AMX_INLINE void scores_step(const uint16_t* q, const uint16_t* kpack, int64_t j0, int64_t cp,
                                    int64_t k_chunks, int64_t dim_p, float* s) {
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

// One step of O += P V for 32 query rows: head dims [32 dp, 32 dp + 32) over the block's np keys
// (P row stride kKeys, O row stride dim_p).
DIFFUSE_AMX_INLINE void accumulate_step(const uint16_t* prob, const uint16_t* vblock, int64_t np, int64_t dp,
                                        int64_t v_blocks, int64_t dim_p, float* o) {
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

DIFFUSE_AMX_TARGET void process_items(const Problem& p, const Packed& pk, WorkQueue& queue) {
  const int64_t dim_p = pk.dim_p, q_tiles = pk.len_qp / kRows;
  const int64_t k_chunks = dim_p / 32, v_blocks = dim_p / 16;
  const float c = p.scale * kLog2e;
  // Tile rows are loaded and stored from these: 64-byte aligned (misaligned rows halve the tile
  // loads' rate, measured), in one block per thread.
  const size_t s_bytes = kRows * kKeys * 4, o_bytes = static_cast<size_t>(kRows * dim_p) * 4,
               prob_bytes = kRows * kKeys * 2;
  const std::unique_ptr<std::byte, decltype(&std::free)> tile_rows(
      static_cast<std::byte*>(std::aligned_alloc(64, s_bytes + o_bytes + prob_bytes)), &std::free);
  DIFFUSE_CHECK(tile_rows != nullptr, "attention: out of memory allocating per-thread scratch");
  float* s = reinterpret_cast<float*>(tile_rows.get());
  float* o = reinterpret_cast<float*>(tile_rows.get() + s_bytes);
  auto* prob = reinterpret_cast<uint16_t*>(tile_rows.get() + s_bytes + o_bytes);
  std::memset(prob, 0, prob_bytes);  // rows past the last query stay 0
  std::vector<float> m(kRows), l(kRows), block_bias(kKeys), row_bias(kKeys);

  amx::configure_full_tiles();
  int64_t begin, end;
  while (queue.next(begin, end)) {
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
        const bool block_biased = block_key_bias(p, b, j0, n, np, block_bias.data());
        const uint16_t* vblock = vpack + (j0 / 32) * v_blocks * kTile;
        const auto softmax_rows = [&](int64_t r0, int64_t r1) DIFFUSE_AMX_TARGET {
          for (int64_t r = r0; r < r1; ++r) {
            const float* bias = block_biased ? block_bias.data() : nullptr;
            if (p.additive) {
              float* rb = row_bias.data();
              if (block_biased) std::copy(block_bias.begin(), block_bias.begin() + np, rb);
              else std::fill(rb, rb + np, 0.0f);
              add_additive_row(p, b, h, i0 + r, j0, n, rb);
              bias = rb;
            }
            if (bias)
              softmax_row<true>(s + r * kKeys, bias, np, c, prob + r * kKeys, m[r], l[r], o + r * dim_p, dim_p);
            else
              softmax_row<false>(s + r * kKeys, nullptr, np, c, prob + r * kKeys, m[r], l[r], o + r * dim_p, dim_p);
          }
        };
        // Per group of 32 query rows: S = Q K^T (AMX), softmax (AVX-512), O += P V (AMX). The
        // groups are pipelined so the tile unit works while the vector unit computes
        // exponentials: stage g interleaves, step by step, the tile products of group g + 1's
        // scores and group g - 1's P V with group g's softmax rows.
        const int64_t groups = (rows + 31) / 32, score_steps = np / 32, accumulate_steps = dim_p / 32;
        for (int64_t cp = 0; cp < score_steps; ++cp) scores_step(q, kpack, j0, cp, k_chunks, dim_p, s);
        for (int64_t g = 0; g <= groups; ++g) {
          const int64_t scoring = g + 1 < groups ? score_steps : 0, accumulating = g > 0 ? accumulate_steps : 0;
          const int64_t steps = scoring + accumulating;
          const int64_t r_begin = g * 32, r_end = g < groups ? std::min(rows, r_begin + 32) : r_begin;
          int64_t r = r_begin;
          for (int64_t t = 0; t < steps; ++t) {
            if (t < scoring)
              scores_step(q + (g + 1) * 32 * dim_p, kpack, j0, t, k_chunks, dim_p, s + (g + 1) * 32 * kKeys);
            else
              accumulate_step(prob + (g - 1) * 32 * kKeys, vblock, np, t - scoring, v_blocks, dim_p,
                              o + (g - 1) * 32 * dim_p);
            const int64_t r_next = r_begin + (r_end - r_begin) * (t + 1) / steps;
            softmax_rows(r, r_next);
            r = r_next;
          }
          softmax_rows(r, r_end);  // all of it when there is no tile work to interleave
        }
      }
      for (int64_t r = 0; r < rows; ++r)  // l == 0: no attendable key, output 0
        p.store_row(b, i0 + r, h, o + r * dim_p, l[r] > 0.0f ? 1.0f / l[r] : 0.0f);
    }
  }
  _tile_release();
}

}  // namespace

void run_amx(const Problem& p) {
  DIFFUSE_CHECK(p.round_bf16, "attention: the AMX kernel computes in bf16 only");
  const Packed pk = pack(p);
  const int64_t items = p.batch * p.heads_q * (pk.len_qp / kRows);
  run_queue(items, [&](WorkQueue& queue) { process_items(p, pk, queue); });
}

#else
void run_amx(const Problem&) { fail("attention: the AMX kernel needs an x86-64 build"); }
#endif

}  // namespace diffuse::ops::attn
