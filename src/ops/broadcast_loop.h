// The loop engine behind the elementwise ops: walks an output and up to three inputs that are
// broadcast to the output's shape, each with its own element strides (0 along broadcast dims).
// Adjacent dims that are laid out uniformly in every operand are merged first, so common cases
// reduce to one long inner loop per row; the inner loop is handed pointers and strides and
// picks unit-stride / broadcast specializations itself.
#pragma once

#include <array>
#include <cstdint>

#include "runtime/parallel.h"
#include "tensor/tensor.h"

namespace diffuse::ops {

constexpr int kMaxBroadcastOperands = 4;  // the output plus up to three inputs

struct BroadcastPlan {
  int operands = 0;  // output first
  Shape shape;       // merged output shape (at least one dim)
  std::array<Shape, kMaxBroadcastOperands> strides;  // per operand, aligned to `shape`
};

// Strides of `t` aligned to `out_shape` (t's shape must broadcast to it): missing leading dims
// and stretched size-1 dims get stride 0.
Shape broadcast_strides(const Tensor& t, const Shape& out_shape, const char* op, const char* what);

// Merges dims and drops size-1 dims. strides[k] must be aligned to `shape`.
BroadcastPlan make_broadcast_plan(const Shape& shape, int operands,
                                  const std::array<Shape, kMaxBroadcastOperands>& strides);

// Runs inner(ptrs, strides, n) over every innermost run of the plan, in parallel. ptrs[k] is
// operand k's first element of the run and strides[k] its inner stride; ptrs[0] is the output.
template <typename Inner>
void run_broadcast(const BroadcastPlan& plan, const std::array<float*, kMaxBroadcastOperands>& base,
                   Inner inner) {
  const int rank = static_cast<int>(plan.shape.size());
  const int k_count = plan.operands;
  const int64_t n = plan.shape[rank - 1];
  std::array<int64_t, kMaxBroadcastOperands> inner_strides{};
  for (int k = 0; k < k_count; ++k) inner_strides[k] = plan.strides[k][rank - 1];
  int64_t outer = 1;
  for (int d = 0; d + 1 < rank; ++d) outer *= plan.shape[d];
  constexpr int64_t kGrain = 1 << 14;
  if (outer == 1) {  // one long run: split it
    parallel_for(n, kGrain, [&](int64_t begin, int64_t end) {
      std::array<float*, kMaxBroadcastOperands> p{};
      for (int k = 0; k < k_count; ++k) p[k] = base[k] + begin * inner_strides[k];
      inner(p, inner_strides, end - begin);
    });
    return;
  }
  parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n)), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      std::array<float*, kMaxBroadcastOperands> p{};
      for (int k = 0; k < k_count; ++k) p[k] = base[k];
      int64_t rest = row;
      for (int d = rank - 2; d >= 0; --d) {
        const int64_t i = rest % plan.shape[d];
        rest /= plan.shape[d];
        for (int k = 0; k < k_count; ++k) p[k] += i * plan.strides[k][d];
      }
      inner(p, inner_strides, n);
    }
  });
}

}  // namespace diffuse::ops
