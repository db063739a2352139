// Naive 2-D convolution (seven nested loops, double accumulation) for testing ops/conv.
#pragma once

#include "ops/conv.h"
#include "tensor/tensor.h"

namespace diffuse::ops::ref {

// x [N, I, H, W], weight [O, I, KH, KW], bias [O] or nullptr -> [N, O, OH, OW] f32.
Tensor conv2d_ref(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dOptions& options);

}  // namespace diffuse::ops::ref
