// Internal to the attention kernels: one attention call resolved to raw pointers and element
// strides, plus the pieces every kernel shares (reading q/k/v rows, building score biases).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "tensor/dtype.h"

namespace diffuse::ops::attn {

struct Operand {
  const std::byte* data = nullptr;
  DType dtype = DType::F32;  // F32 or BF16
  int64_t stride_b = 0, stride_h = 0, stride_s = 0;  // in elements; D has unit stride

  const std::byte* row(int64_t b, int64_t h, int64_t s) const {
    return data + (b * stride_b + h * stride_h + s * stride_s) * static_cast<int64_t>(dtype_size(dtype));
  }
};

struct Problem {
  int64_t batch = 0, heads_q = 0, heads_kv = 0, len_q = 0, len_k = 0, dim = 0;
  Operand q, k, v;
  float scale = 1.0f;
  bool round_bf16 = false;           // bf16 precision: q, k, v rounded to bf16
  const uint8_t* key_mask = nullptr;  // [batch, len_k], 1 = attend; nullptr = all keys
  const float* additive = nullptr;    // natural-log units, strides below (0 on broadcast dims)
  int64_t add_sb = 0, add_sh = 0, add_sq = 0, add_sk = 0;
  // Output [batch, len_q, heads_q, dim], F32 or BF16: element strides per batch, position and
  // head; unit stride on dim.
  std::byte* out = nullptr;
  DType out_dtype = DType::F32;
  int64_t out_sb = 0, out_ss = 0, out_sh = 0;

  int64_t kv_head(int64_t h) const { return h / (heads_q / heads_kv); }
  // Writes values[0, dim) x scale as the output row of (batch b, query i, head h), in the output
  // dtype; values is scaled in place.
  void store_row(int64_t b, int64_t i, int64_t h, float* values, float scale) const;
};

constexpr int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// One operand to read in groups of positions (see for_each_row_group).
struct RowGroupJob {
  const Operand* operand;
  int64_t heads, len;
  std::function<void(int64_t b, int64_t s0, const void* rows)> fn;
};

// Reads each job's operand (a [batch, heads, len, dim] tensor) in groups of `group` consecutive
// positions: for every batch and group, in parallel (all jobs in one parallel region),
// converts rows [s0, s0 + group) of all heads into rows[h][g][padded_dim] and calls
// fn(b, s0, rows). Values are f32 (rounded through bf16 when p.round_bf16) or, with as_bf16,
// bf16 bits; positions past len and dims past dim are zero. Rows are read position-major (all
// heads of one position, then the next), which streams through [B, S, H*D] projections instead
// of missing cache on every row.
void for_each_row_group(const Problem& p, int64_t group, int64_t padded_dim, bool as_bf16,
                        const std::vector<RowGroupJob>& jobs);

// 64-byte aligned scratch of at least `bytes` bytes, owned by the calling thread and reused by
// later calls (slot 0..3 are independent buffers). The packed q/k/v copies are tens of MB; fresh
// allocations would page-fault through all of it on every call. Contents are undefined.
void* thread_scratch(int slot, size_t bytes);

// Bias shared by every query row of batch b for keys [j0, j0 + n) of a block padded to `padded`
// keys: 0 or -inf from key_mask, -inf for padding keys (j0 + j >= len_k). Returns false (and
// writes nothing) when no key of the padded block is excluded.
bool block_key_bias(const Problem& p, int64_t b, int64_t j0, int64_t n, int64_t padded, float* bias);

// Adds the additive term of query row i of (b, h) for keys [j0, j0 + n) to row_bias[0, n)
// (which starts as the block bias, or zeros when there is none).
void add_additive_row(const Problem& p, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t n,
                      float* row_bias);

// Hands out work items [0, total) in chunks to whichever thread asks next. Dynamic rather than
// static shares: on a shared machine one of our threads may be descheduled for a while, and
// the others should take over its items instead of waiting at the end.
class WorkQueue {
 public:
  WorkQueue(int64_t total, int threads)
      : total_(total), chunk_(std::max<int64_t>(1, std::min<int64_t>(16, total / (8 * std::max(1, threads))))) {}
  bool next(int64_t& begin, int64_t& end) {
    begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
    end = std::min(total_, begin + chunk_);
    return begin < total_;
  }

 private:
  std::atomic<int64_t> next_{0};
  int64_t total_, chunk_;
};

// Runs worker(queue) on every thread; each worker pulls item ranges from the queue.
void run_queue(int64_t total, const std::function<void(WorkQueue&)>& worker);

// Kernels (same contract, different instruction sets).
void run_portable(const Problem& p);  // any CPU, f32 math
void run_avx512(const Problem& p);    // same algorithm compiled for AVX-512
void run_amx(const Problem& p);       // bf16 on AMX tiles (requires round_bf16)

}  // namespace diffuse::ops::attn
