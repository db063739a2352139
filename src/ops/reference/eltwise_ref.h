// Plain reference implementations of the elementwise and shape ops for tests: every output
// element is computed from its multi-index, reading inputs through Tensor::item (any layout).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "ops/shape.h"
#include "tensor/tensor.h"

namespace diffuse::ops::ref {

// out[idx] = f(inputs[k][broadcast idx]...) with NumPy broadcasting, in double.
Tensor broadcast_map(const std::vector<Tensor>& inputs,
                     const std::function<double(const std::vector<double>&)>& f);

Tensor concat(const std::vector<Tensor>& parts, int dim);
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value);
Tensor permute_copy(const Tensor& t, const std::vector<int>& order);
// Direct formulas: token (r, c) of batch b holds z[b, ch, r*p + dy, c*p + dx] at its feature.
Tensor pack_patches(const Tensor& z, int64_t patch, PatchOrder order);
Tensor upsample_nearest2d(const Tensor& x, int64_t factor);

}  // namespace diffuse::ops::ref
