// Plain reference implementations of RoPE (ops/rope.h) for tests.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/rope.h"
#include "tensor/tensor.h"

namespace diffuse::ops::ref {

// Tables straight from the definition: angle = id * theta^(-2j/d) in double, one axis block
// after another, each value written to both channels of its pair.
RopeTables rope_tables_multi_axis(const Tensor& ids, const std::vector<int64_t>& axes_dim, double theta);

// Out-of-place rotations of x [B, S, H, D] (any layout) with tables [S, R] or [B, S, R], in
// double; channels beyond R (rotate-half) pass through.
Tensor rope_interleaved(const Tensor& x, const Tensor& cos, const Tensor& sin);
Tensor rope_rotate_half(const Tensor& x, const Tensor& cos, const Tensor& sin);

}  // namespace diffuse::ops::ref
