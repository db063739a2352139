// Threading. Our kernels use the same OpenMP runtime as oneDNN, so the two never
// oversubscribe the cores and one setting (set_num_threads) governs both.
#pragma once

#include <cstdint>
#include <functional>

namespace diffuse {

// Number of worker threads used by ops (defaults to the OpenMP default: all cores).
int num_threads();
void set_num_threads(int n);

// Calls fn(begin, end) on disjoint chunks covering [0, n), in parallel. Chunks hold at
// least `grain` items so tiny loops stay on one thread.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace diffuse
