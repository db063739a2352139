// Naive references for quantized weights: element-by-element dequantization straight from the
// format definitions in ops/quantized_weight.h (no packing loops shared with the fast path).
#pragma once

#include "ops/quantized_weight.h"

namespace diffuse::ops::ref {

// The weight [N, K] as f32: scale * q (+ bias), each element computed in double, then rounded.
Tensor dequantize_ref(const QuantizedWeight& q);

}  // namespace diffuse::ops::ref
