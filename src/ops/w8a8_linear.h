// W8A8: int8 weights x int8 activations through oneDNN's int8 matmul (AMX / VNNI), used by
// ops::Linear when it is built on an Int8PerChannel weight with compute dtype I8.
//
//   weights      I8 [N, K], symmetric per output channel: w[n][k] = sw[n] * Wq[n][k]
//   activations  quantized per token (row) on the fly, symmetric:
//                sx[m] = absmax(x[m]) / 127,  Xq[m][k] = round_half_even(x[m][k] * (127 / absmax))
//                clamped to [-127, 127]; an all-zero row has sx = 0 and Xq = 0.
//   GEMM         s8 x s8 -> s32 accumulation (exact), then in the same output pass
//                y[m][n] = (acc * sw[n]) * sx[m] + b[n], followed by the Linear epilogue.
//
// Why symmetric s8 and not asymmetric u8 with a zero point: oneDNN 2.6 takes a source zero
// point only as one value for the whole tensor, so per-token zero points would need our own
// correction pass (zp[m] * sum_k Wq[n][k]) over the output; and on AMX s8 x s8 is a native
// tile product (tdpbssd) that measured as fast as u8 x s8 (bench_w8a8_gemm).
#pragma once

#include <cstdint>

#include <oneapi/dnnl/dnnl.hpp>

#include "tensor/tensor.h"

namespace diffuse::ops {

// x [..., K] (F32 or BF16; any strides with a unit-stride last dim) quantized per row:
// values (rows x K, dense) and scales (rows) as described above. Rows in parallel.
void quantize_per_token(const Tensor& x, int8_t* values, float* scales);

// oneDNN operand descriptions for W8A8 GEMMs. oneDNN 2.6 keeps its int8 brgemm kernels (AMX /
// VNNI) for a per-row post-op operand only when the matmul is 3-D: in 2-D an [M, 1] operand
// sends it to the reference kernel, while [1, M, 1] against a [1, M, N] output does not
// (measured). So every W8A8 operand is a batch of one.
namespace w8a8 {
dnnl::memory::desc src_desc(int64_t m, int64_t k);                 // s8 [1, M, K]
dnnl::memory::desc weights_desc(int64_t k, int64_t n);             // s8 [1, K, N] over PyTorch's [N, K] rows
dnnl::memory::desc any_weights_desc(int64_t k, int64_t n);         // s8 [1, K, N], layout left to oneDNN
dnnl::memory::desc dst_desc(int64_t m, int64_t cols, int64_t ld);  // f32 [1, M, cols], row stride ld
dnnl::memory::desc row_desc(int64_t m);                            // f32 [1, M, 1]: one value per row
dnnl::memory::desc col_desc(int64_t cols);                         // f32 [1, 1, cols]: one per column
}  // namespace w8a8

// The attributes that fold the dequantization into the int8 GEMM's output pass: the weight
// scales (cols values) as constant per-column output scales (oneDNN 2.6 drops its brgemm
// kernels for runtime scales; a layer's scales never change, so each primitive bakes them in),
// then post-ops "multiply by the row's token scale" (row_desc) and, with a bias, "add the bias"
// (col_desc). The caller appends further epilogue post-ops after these; returns how many were
// appended here (the index of the next post-op).
int append_w8a8_dequantize(dnnl::primitive_attr& attr, dnnl::post_ops& ops, const float* weight_scales, int64_t m,
                           int64_t cols, bool bias);

}  // namespace diffuse::ops
