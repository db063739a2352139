// Naive attention for testing ops/attention: materializes each query row's scores and
// computes softmax and the weighted sum in double. With AttentionPrecision::BF16 it rounds
// q, k, v to bf16 first (the optimized kernels' inputs) and is otherwise exact.
#pragma once

#include "ops/attention.h"

namespace diffuse::ops::ref {

// Same contract as ops::attention (shapes, GQA, masks, fully masked rows -> 0).
Tensor attention_ref(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options = {});

}  // namespace diffuse::ops::ref
