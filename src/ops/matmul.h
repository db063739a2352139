// Batched matrix product for activations x activations (VAE attention, small heads):
// a [..., M, K] x b [..., K, N] -> [..., M, N] f32, batch dims broadcast NumPy-style.
// Both bf16 -> bf16 products with f32 accumulation; otherwise f32 (bf16 widened exactly).
// Operands may be row-major or transposed views (b = k.transpose(-1, -2) costs no copy).
#pragma once

#include "tensor/tensor.h"

namespace diffuse::ops {

Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace diffuse::ops
