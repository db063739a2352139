// Linear layers (PyTorch layout: weight [N, K] = [out, in], bias [N]): on our AMX tile kernels
// (ops/amx_gemm.h) for bf16 / int8 weights where the CPU has AMX, else on oneDNN's matmul.
//
// Precision follows the weight (see gemm_dtype_for_weight): bf16 weights run bf16 x bf16
// products with f32 accumulation (x rounded to bf16 once, to nearest even); f32 weights run
// an f32 GEMM. The output is always f32.
//
// The epilogue computes out = residual + gate * act(x W^T + b) in the GEMM's own pass
// whenever oneDNN can express it (activation and per-batch gate as post-ops, residual as a
// post-op add, or as an in-place accumulate when `residual` is the output itself). What it
// cannot express runs as one extra pass over the output right after the GEMM.
#pragma once

#include <memory>

#include "ops/activation.h"
#include "ops/quantized_weight.h"
#include "tensor/tensor.h"

namespace diffuse::ops {

struct Epilogue {
  Activation activation = Activation::Identity;
  // [G, N] or [N] (f32 or bf16). Row g multiplies the outputs of batch g, where batches are
  // x's first dim (G == 1 broadcasts over everything): FLUX's adaLN gate [B, N] with x [B, S, K].
  Tensor gate{};
  // Added last; same shape as the output, f32. May be the output tensor itself, which turns
  // forward_into(x, h, {.gate = g, .residual = h}) into h += g * (x W^T + b).
  Tensor residual{};
};

struct LinearOptions {
  // Reorder the weight once into oneDNN's blocked layout (a copy the size of the weight).
  // Measured here: ~1.3x faster bf16 GEMMs at M >= 1024; off, the weight is used in place.
  bool prepack = true;
  // With prepack, run the GEMMs on our AMX kernels (ops/amx_gemm.h) where the CPU has the tiles
  // for the GEMM type: measured 1.3-1.7x oneDNN 2.6's bf16 matmul at DiT shapes. false keeps
  // oneDNN's (benchmarks compare both; DIFFUSE_GEMM=onednn does it process-wide).
  bool amx = true;
};

// The GEMM element type for a weight dtype, in one place so that new weight types (int8)
// plug in here: F32 -> F32, BF16 -> BF16, F16 -> F32 (converted once at construction).
DType gemm_dtype_for_weight(DType weight_dtype);

class Linear {
 public:
  // `weight` [N, K] is kept as a view (no copy unless prepacked or converted); `bias` [N] is
  // copied to f32.
  explicit Linear(const Tensor& weight, const Tensor* bias = nullptr, LinearOptions options = {});
  // A quantized weight, run as `compute` (BF16 or F32) GEMMs: each forward dequantizes the
  // weight into one per-thread buffer shared by all quantized layers (so only the largest
  // layer's full-precision copy ever exists) and runs the same GEMM as a float weight. Same
  // forward / epilogue semantics as above.
  // compute == I8 (W8A8, Int8PerChannel weights only): the int8 weight runs as is (prepacked)
  // against activations quantized to int8 per token on the fly, s8 x s8 -> s32, with the
  // dequantization folded into the GEMM's output pass (ops/w8a8_linear.h); gemm_dtype() is I8.
  Linear(QuantizedWeight weight, const Tensor* bias, DType compute, LinearOptions options = {});
  ~Linear();
  Linear(Linear&&) noexcept;
  Linear& operator=(Linear&&) noexcept;

  int64_t in_features() const;
  int64_t out_features() const;
  DType gemm_dtype() const;
  // nullptr for a float weight. A W8A8 weight packed for the AMX kernels keeps its scales but
  // not its values (the packed tiles are the only copy).
  const QuantizedWeight* quantized_weight() const;

  // x [..., K] (f32 or bf16, any strides with a unit-stride last dim) -> [..., N] f32.
  Tensor forward(const Tensor& x, const Epilogue& epilogue = {}) const;
  // Writes into `out` [..., N] f32, which may be a strided view (e.g. a column slice of a wider
  // buffer) as long as its last dim has unit stride. Not safe for concurrent calls. A BF16 `out`
  // (no residual) receives the f32 result rounded to nearest even: the next GEMM's input written
  // once, without an f32 copy in between.
  void forward_into(const Tensor& x, Tensor& out, const Epilogue& epilogue = {}) const;

 private:
  bool forward_per_batch_item(const Tensor& x, Tensor& out, const Epilogue& epilogue) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-shot y = x W^T + b -> [..., N] f32 (no prepack; for tests and rarely used layers).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias = nullptr);

}  // namespace diffuse::ops
