// Quantized Linear weights [N, K] = [out, in], in two formats:
//
//   Int8PerChannel  values I8 [N, K], scales F32 [N]:  w[n][k] = scales[n] * values[n][k].
//                   Symmetric, values in [-127, 127] (never -128), so the same layout feeds an
//                   int8 x int8 GEMM later (u8s8 with a per-row f32 scale).
//   Affine          MLX's layout. values U32 [N, K * bits / 32]: K elements packed along K,
//                   32 / bits per word, element j of a word in bits [j*bits, (j+1)*bits) (low
//                   bits first); scales and biases [N, K / group] (BF16, F16 or F32):
//                   w[n][k] = scales[n][k/group] * q + biases[n][k/group], q unsigned in
//                   [0, 2^bits). bits 4 or 8, group 32, 64 or 128.
//
// Quantizing follows MLX's arithmetic, including its rounding of every intermediate to the
// scale dtype, so a bf16 weight quantized here matches what MLX writes for it.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace diffuse::ops {

// What a user asks for: none, int8 per output channel, 4-bit group-64 affine, or W8A8: int8 per
// output channel weights run against activations quantized to int8 per token (an int8 x int8
// GEMM, ops/w8a8_linear.h) instead of being dequantized for a float GEMM.
enum class QuantMode { None, Int8, Q4, W8A8 };

constexpr int64_t kQ4GroupSize = 64;
// W8A8 leaves layers with fewer inputs than this in bf16: their GEMMs are too short along K for
// the int8 kernels to pay, and a per-token scale over a handful of inputs (timestep / guidance
// embedders, the 64-channel latent projection at its edge) costs accuracy for no speed.
constexpr int64_t kW8A8MinInFeatures = 64;

// "none" / "int8" / "q4" / "w8a8" and back (throws on anything else, naming `context`).
const char* quant_mode_name(QuantMode mode);
QuantMode quant_mode_from_name(const std::string& name, const std::string& context);

enum class QuantFormat { Int8PerChannel, Affine };

struct QuantizedWeight {
  QuantFormat format = QuantFormat::Int8PerChannel;
  int64_t out_features = 0;  // N
  int64_t in_features = 0;   // K
  int bits = 8;
  int64_t group_size = 0;  // Affine only
  Tensor values;           // I8 [N, K] or U32 [N, K * bits / 32]
  Tensor scales;           // F32 [N] or [N, K / group]
  Tensor biases;           // Affine only: like scales

  // Bytes of values + scales + biases.
  uint64_t bytes() const;
};

// Whether a weight [N, K] can take `mode` (Q4 needs K % 64 == 0, W8A8 K >= kW8A8MinInFeatures;
// None and Int8 always can).
bool quantizable(const Shape& weight_shape, QuantMode mode);

// Quantizes w [N, K] (F32, BF16 or F16; any strides), rows in parallel. Throws when
// !quantizable. Affine scales/biases take w's dtype (F32 for F32), as MLX does.
QuantizedWeight quantize_int8_per_channel(const Tensor& w);
QuantizedWeight quantize_affine(const Tensor& w, int bits, int64_t group_size);
QuantizedWeight quantize(const Tensor& w, QuantMode mode);  // mode != None; W8A8 stores int8

// Wraps stored tensors (e.g. views of a checkpoint) after checking dtypes and shapes against
// [out_features, in_features]; bits and group size are inferred from the shapes. Reads no
// data. Throws a diffuse::Error naming `context` (the tensor) on any inconsistency.
QuantizedWeight int8_from_tensors(Tensor values, Tensor scales, int64_t out_features, int64_t in_features,
                                  const std::string& context);
QuantizedWeight affine_from_tensors(Tensor values, Tensor scales, Tensor biases, int64_t out_features,
                                    int64_t in_features, const std::string& context);

// `q` with every tensor dense and aligned to its element size, copying those that are not
// (checkpoint views may start at any byte offset; the kernels read U32 / F32 words directly).
// The kernels below require this.
QuantizedWeight with_dense_aligned_storage(QuantizedWeight q);

// Rows [row0, row0 + rows) dequantized into dst (rows x K, dense, F32 or BF16 rounded to
// nearest even). Single-threaded: callers parallelize over rows.
void dequantize_rows(const QuantizedWeight& q, int64_t row0, int64_t rows, DType dtype, void* dst);
// The whole weight as a dense [N, K] tensor of `dtype` (F32 or BF16), rows in parallel.
Tensor dequantize(const QuantizedWeight& q, DType dtype);

// Memory a Linear weight of `shape` [N, K] takes stored under `mode` (None: bf16; Q4 with
// bf16 scales and biases; W8A8 the int8 values plus the GEMM's prepacked int8 copy; a weight
// that is not quantizable under `mode` stays bf16).
uint64_t quantized_weight_bytes(const Shape& shape, QuantMode mode);
uint64_t bf16_weight_bytes(const Shape& shape);

}  // namespace diffuse::ops
