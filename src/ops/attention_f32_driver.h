// Internal to the attention kernels: the tiled f32 flash-attention driver shared by the
// portable and the AVX-512 kernels. A Tiles policy supplies the three inner pieces:
//   static constexpr int R, C;   register tile: R query rows x C keys (or C head dims)
//   qk_tile(q, ldq, kt, ldk, dim, s, lds)       s[r][c] = sum_d q[r][d] kt[d * ldk + c]
//   pv_tile(p, ldp, n, v, ldv, o, ldo)          o[r][c] += sum_j p[r][j] v[j][c]
//   softmax_row(s, np, scale, bias, m, l, o, dim_p)
//       scores -> probabilities in place (bias: nullptr or per-key terms, natural-log units),
//       running max m / sum l updated, accumulator row o rescaled when needed.
// Each includer defines DIFFUSE_ATTN_F32_TARGET (empty, or a target attribute) first: the
// driver is compiled for that instruction set, so its calls into the Tiles policy (which
// carries the same attribute) inline. Everything is in an anonymous namespace, so every
// includer owns a separate copy and no differently-compiled definitions meet at link time.
#pragma once

#ifndef DIFFUSE_ATTN_F32_TARGET
#error "define DIFFUSE_ATTN_F32_TARGET before including attention_f32_driver.h"
#endif

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "ops/attention_problem.h"
#include "runtime/parallel.h"

namespace diffuse::ops::attn {
namespace {

constexpr int64_t kF32Rows = 32;  // query rows per work item
constexpr int64_t kF32Keys = 64;  // keys per block of the online softmax

// q, k, v converted once (f32, bf16-rounded in bf16 mode), zero padded:
//   q  [batch * heads_q][len_qp][dim_p]
//   kt [batch * heads_kv][len_kp / C][dim_p][C]   K transposed in chunks of C keys, so score
//                                                 tiles read C consecutive keys per head dim
//   v  [batch * heads_kv][len_kp][dim_p]
struct F32Packed {
  int64_t dim_p = 0, len_qp = 0, len_kp = 0;
  float *q = nullptr, *kt = nullptr, *v = nullptr;
};

template <int C>
F32Packed pack_f32(const Problem& p) {
  F32Packed pk;
  pk.dim_p = round_up(p.dim, C);
  pk.len_qp = round_up(p.len_q, kF32Rows);
  pk.len_kp = round_up(p.len_k, C);
  const int64_t dp = pk.dim_p, qp = pk.len_qp, kp = pk.len_kp;
  const size_t q_n = static_cast<size_t>(p.batch * p.heads_q * qp * dp);
  const size_t kv_n = static_cast<size_t>(p.batch * p.heads_kv * kp * dp);
  pk.q = static_cast<float*>(thread_scratch(0, q_n * sizeof(float)));
  pk.kt = static_cast<float*>(thread_scratch(1, kv_n * sizeof(float)));
  pk.v = static_cast<float*>(thread_scratch(2, kv_n * sizeof(float)));
  // Packed in groups of C positions (kF32Rows and len_kp are multiples of C).
  auto put_q = [&](int64_t b, int64_t i0, const void* rows) {
    for (int64_t h = 0; h < p.heads_q; ++h)
      std::memcpy(pk.q + ((b * p.heads_q + h) * qp + i0) * dp, static_cast<const float*>(rows) + h * C * dp,
                  C * dp * sizeof(float));
  };
  // K: each chunk of C keys transposed to [dim_p][C].
  auto put_k = [&](int64_t b, int64_t j0, const void* rows) {
    for (int64_t h = 0; h < p.heads_kv; ++h) {
      const float* r = static_cast<const float*>(rows) + h * C * dp;
      float* t = pk.kt + (b * p.heads_kv + h) * kp * dp + j0 * dp;
      for (int64_t d = 0; d < dp; ++d)
        for (int64_t n = 0; n < C; ++n) t[d * C + n] = r[n * dp + d];
    }
  };
  auto put_v = [&](int64_t b, int64_t j0, const void* rows) {
    for (int64_t h = 0; h < p.heads_kv; ++h)
      std::memcpy(pk.v + ((b * p.heads_kv + h) * kp + j0) * dp, static_cast<const float*>(rows) + h * C * dp,
                  C * dp * sizeof(float));
  };
  for_each_row_group(p, C, dp, false,
                     {{&p.q, p.heads_q, p.len_q, put_q}, {&p.k, p.heads_kv, p.len_k, put_k},
                      {&p.v, p.heads_kv, p.len_k, put_v}});
  // Query rows past the last packed group are zero.
  const int64_t q_done = round_up(p.len_q, C);
  for (int64_t bh = 0; bh < p.batch * p.heads_q; ++bh)
    std::fill(pk.q + (bh * qp + q_done) * dp, pk.q + (bh + 1) * qp * dp, 0.0f);
  return pk;
}

// Work items are (batch, query head, block of kF32Rows queries).
template <class Tiles>
DIFFUSE_ATTN_F32_TARGET void process_items_f32(const Problem& p, const F32Packed& pk, WorkQueue& queue) {
  constexpr int R = Tiles::R, C = Tiles::C;
  static_assert(kF32Rows % R == 0 && kF32Keys % C == 0 && C % 16 == 0, "tile sizes");
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const int64_t dim_p = pk.dim_p, q_tiles = pk.len_qp / kF32Rows;
  std::vector<float> s_buf(kF32Rows * kF32Keys), o_buf(kF32Rows * dim_p), m(kF32Rows), l(kF32Rows),
      block_bias(kF32Keys), row_bias(kF32Keys);
  float* s = s_buf.data();
  float* o = o_buf.data();
  int64_t begin, end;
  while (queue.next(begin, end)) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t qt = item % q_tiles, h = (item / q_tiles) % p.heads_q, b = item / q_tiles / p.heads_q;
      const int64_t hkv = p.kv_head(h);
      const float* q = pk.q + ((b * p.heads_q + h) * pk.len_qp + qt * kF32Rows) * dim_p;
      const float* kt = pk.kt + (b * p.heads_kv + hkv) * pk.len_kp * dim_p;
      const float* v = pk.v + (b * p.heads_kv + hkv) * pk.len_kp * dim_p;
      const int64_t i0 = qt * kF32Rows, rows = std::min(kF32Rows, p.len_q - i0), rows_p = round_up(rows, R);
      std::fill(o, o + rows_p * dim_p, 0.0f);
      std::fill(m.begin(), m.end(), kNegInf);
      std::fill(l.begin(), l.end(), 0.0f);
      for (int64_t j0 = 0; j0 < p.len_k; j0 += kF32Keys) {
        const int64_t n = std::min(kF32Keys, p.len_k - j0), np = round_up(n, C);
        for (int64_t r0 = 0; r0 < rows_p; r0 += R)
          for (int64_t c0 = 0; c0 < np; c0 += C)
            Tiles::qk_tile(q + r0 * dim_p, dim_p, kt + (j0 + c0) * dim_p, C, dim_p, s + r0 * kF32Keys + c0, kF32Keys);
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
          Tiles::softmax_row(s + r * kF32Keys, np, p.scale, bias, m[r], l[r], o + r * dim_p, dim_p);
        }
        for (int64_t r = rows; r < rows_p; ++r) std::fill(s + r * kF32Keys, s + r * kF32Keys + np, 0.0f);
        for (int64_t r0 = 0; r0 < rows_p; r0 += R)
          for (int64_t d0 = 0; d0 < dim_p; d0 += C)
            Tiles::pv_tile(s + r0 * kF32Keys, kF32Keys, np, v + j0 * dim_p + d0, dim_p, o + r0 * dim_p + d0, dim_p);
      }
      for (int64_t r = 0; r < rows; ++r)  // l == 0: no attendable key, output 0
        p.store_row(b, i0 + r, h, o + r * dim_p, l[r] > 0.0f ? 1.0f / l[r] : 0.0f);
    }
  }
}

// Packs q, k, v, then runs process_items_f32<Tiles> over all work items in parallel.
template <class Tiles>
void run_items_f32(const Problem& p) {
  const F32Packed pk = pack_f32<Tiles::C>(p);
  const int64_t items = p.batch * p.heads_q * (pk.len_qp / kF32Rows);
  run_queue(items, [&](WorkQueue& queue) { process_items_f32<Tiles>(p, pk, queue); });
}

}  // namespace
}  // namespace diffuse::ops::attn
