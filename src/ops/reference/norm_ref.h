// Plain reference implementations of the norms (ops/norm.h) for tests: straightforward loops,
// statistics in double, inputs read element by element through Tensor::item (any layout).
#pragma once

#include "ops/norm.h"
#include "tensor/tensor.h"

namespace diffuse::ops::ref {

Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps);
Tensor layer_norm_modulate(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps);
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor* weight, const Tensor* bias, float eps,
                  bool fuse_silu);
// Follows each flavour's reference code statement by statement, rounding where it casts.
Tensor rms_norm(const Tensor& x, const Tensor* weight, const RmsNormOptions& options);

}  // namespace diffuse::ops::ref
