// GEMM on AMX tiles: out[M, N] = A[M, K] x W[N, K]^T for Linear layers, bf16 x bf16 or
// int8 x int8 (W8A8), f32 / s32 accumulation, handing each finished output block to an
// epilogue callback (bias, activation, gate, residual, store: see ops/linear.cpp).
//
// Why our own kernel rather than oneDNN's: measured on this machine, the tile product itself
// reaches 3.5 TFLOP/s per core only with operands already in tiles; with two operand tiles
// loaded per product it depends on where they come from (both from L1 ~2.2, one from L2 ~2.2,
// both from L2 ~1.0 TFLOP/s per core, rows 64-byte aligned; misaligned rows halve that).
// oneDNN 2.6's bf16 matmul reaches 0.56-0.85 TFLOP/s per core here. The blocking below keeps
// one operand's tiles in L1 and streams the other from L2 (bench/bench_gemm compares both).
//
// Blocking, per thread (threads split N, or M when N is narrow):
//   for each Mc-row block of A:   pack it (bf16 from f32/bf16 rows, or int8) into tile order
//     for each Nc-column block:     accumulators for Mc x Nc live in a per-thread f32 buffer
//       for each Kc slice of K:
//         for 32 columns:               W's slice of 32 columns (Kc deep, 16 KB) stays in L1
//           for 32 rows:                  while the A block's 32-row slices stream from L2:
//                                         2x2 tiles of 16x16 per K step
//     then the epilogue runs on the Mc x Nc block while it is still in cache.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "tensor/tensor.h"

namespace diffuse::ops::amx {

// Whether the AMX path runs for this GEMM element type (BF16 or I8) on this CPU. False when the
// CPU or OS lacks the tiles, or when DIFFUSE_GEMM=onednn asks for oneDNN's kernels instead
// (benchmarks compare both in one run).
bool gemm_available(DType type);

// A weight [N, K] (PyTorch's [out, in]) rearranged once into AMX B tiles: per block of 32
// output columns, per K step (32 bf16 or 64 int8 values), two 16-row x 64-byte tiles, each
// row holding 16 columns x (2 bf16 | 4 int8) consecutive K values. N and K are zero padded to
// whole blocks and steps.
class PackedWeight {
 public:
  PackedWeight() = default;
  // `weight` [N, K] BF16 or I8, any strides with a unit-stride last dim.
  static PackedWeight pack(const Tensor& weight);

  // Returns the address of rows [row0, row0 + rows) (at most 32) of a [N, K] BF16 / I8 weight,
  // row-major, and sets `stride` to their distance in bytes: either rows that already exist, or
  // rows the producer writes into `scratch` (rows x K, dense; stride preset to the dense one),
  // e.g. dequantized from a quantized weight. Called concurrently for disjoint rows.
  using RowProducer = std::function<const std::byte*(int64_t row0, int64_t rows, std::byte* scratch, int64_t& stride)>;
  // (Re)fills this weight from `produce`, reusing the storage when it is large enough: a
  // quantized weight dequantized per call into one shared buffer.
  void pack_rows(int64_t n, int64_t k, DType dtype, const RowProducer& produce);

  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  DType dtype() const { return dtype_; }
  int64_t k_steps() const { return k_steps_; }
  // Bytes of one K step of one column block: two 16 x 64-byte tiles.
  static constexpr int64_t kStepBytes = 2048;
  const std::byte* block(int64_t column_block) const { return data_.get() + column_block * k_steps_ * kStepBytes; }

 private:
  int64_t n_ = 0, k_ = 0, k_steps_ = 0, capacity_ = 0;
  DType dtype_ = DType::BF16;
  std::shared_ptr<std::byte> data_;
};

// A: `rows` x K, row r at data + r * stride elements; or, with group_rows > 0, in groups of
// group_rows rows whose first rows are group_stride elements apart (row r at
// data + (r / group_rows) * group_stride + (r % group_rows) * stride): a batch-strided
// [B, S, K] view such as the image rows of a joint text + image buffer, read in place.
// BF16 weights take F32 or BF16 rows (f32 is rounded to bf16, nearest even, while packing); I8
// weights take I8 rows plus one f32 scale per row (the per-token quantization scale).
struct GemmSource {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0;
  int64_t stride = 0;
  const float* row_scales = nullptr;  // I8 only
  int64_t group_rows = 0;
  int64_t group_stride = 0;

  int64_t row_offset(int64_t r) const {
    return group_rows > 0 ? (r / group_rows) * group_stride + (r % group_rows) * stride : r * stride;
  }
};

// Receives a finished block: output rows [row0, row0 + rows) x columns [col0, col0 + cols) as
// f32 at acc (row stride ld), already dequantized for I8 (x row_scales[r] x col_scales[c]).
// The epilogue may modify acc. Called concurrently from several threads on disjoint blocks.
using BlockEpilogue = std::function<void(int64_t row0, int64_t rows, int64_t col0, int64_t cols, float* acc, int64_t ld)>;

// Runs the GEMM over every row of `a` and every column of `w`. col_scales: I8 only, [N].
void gemm(const GemmSource& a, const PackedWeight& w, const float* col_scales, const BlockEpilogue& epilogue);

}  // namespace diffuse::ops::amx
