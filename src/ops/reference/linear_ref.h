// Naive references for the GEMM ops, accumulating in double. They mirror the precision
// policy of the optimized ops (inputs rounded to bf16 where those ops round), so tests can
// use tight tolerances: what remains is only accumulation order.
#pragma once

#include "ops/linear.h"
#include "tensor/tensor.h"

namespace diffuse::ops::ref {

// y = x W^T + b with the Epilogue applied (out = residual + gate * act(y)), f32 result.
// A bf16 weight rounds x to bf16 first.
Tensor linear_ref(const Tensor& x, const Tensor& weight, const Tensor* bias = nullptr,
                  const Epilogue& epilogue = {});

// Batched a [..., M, K] x b [..., K, N] with broadcast batch dims; bf16 x bf16 stays exact.
Tensor matmul_ref(const Tensor& a, const Tensor& b);

}  // namespace diffuse::ops::ref
