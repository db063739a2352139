#include "ops/broadcast_loop.h"

namespace diffuse::ops {

Shape broadcast_strides(const Tensor& t, const Shape& out_shape, const char* op, const char* what) {
  const int rank = static_cast<int>(out_shape.size());
  const int trank = t.ndim();
  DIFFUSE_CHECK(trank <= rank, op, ": ", what, " ", shape_str(t.shape()),
                " does not broadcast to ", shape_str(out_shape));
  Shape strides(rank, 0);
  for (int d = 0; d < trank; ++d) {
    const int od = rank - trank + d;
    const int64_t size = t.shape()[d];
    DIFFUSE_CHECK(size == out_shape[od] || size == 1, op, ": ", what, " ", shape_str(t.shape()),
                  " does not broadcast to ", shape_str(out_shape));
    strides[od] = size == 1 ? 0 : t.strides()[d];
  }
  return strides;
}

BroadcastPlan make_broadcast_plan(const Shape& shape, int operands,
                                  const std::array<Shape, kMaxBroadcastOperands>& strides) {
  BroadcastPlan plan;
  plan.operands = operands;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !plan.shape.empty();
    for (int k = 0; merge && k < operands; ++k) {
      merge = plan.strides[k].back() == strides[k][d] * shape[d];
    }
    if (merge) {
      plan.shape.back() *= shape[d];
      for (int k = 0; k < operands; ++k) plan.strides[k].back() = strides[k][d];
    } else {
      plan.shape.push_back(shape[d]);
      for (int k = 0; k < operands; ++k) plan.strides[k].push_back(strides[k][d]);
    }
  }
  if (plan.shape.empty()) {  // a scalar or all-ones shape: one element
    plan.shape.push_back(1);
    for (int k = 0; k < operands; ++k) plan.strides[k].push_back(0);
  }
  return plan;
}

}  // namespace diffuse::ops
