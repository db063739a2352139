// Random, reproducible inputs and weights for benchmarks: a model is built on random bf16
// weights at its real width without any checkpoint on disk.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "io/weight_binder.h"
#include "tensor/tensor.h"

namespace diffuse::bench {

// f32 tensor, values uniform in [-scale, scale) from a seeded LCG (same seed, same values).
Tensor random_tensor(const Shape& shape, uint32_t seed, float scale);

// A binder holding a random bf16 tensor for each entry of `expected` (seeds seed, seed + 1, ...
// in order): matrices ~ U(+-1.7 / sqrt(fan_in)) so activations keep their scale through a
// Linear, norm scales 1 + U(+-0.05), other vectors (biases) U(+-0.05). The tensors go through a
// temporary safetensors file, removed at once: the binder's mapping keeps the pages alive, and
// models bind them exactly as they bind a real checkpoint.
io::WeightBinder random_weight_binder(const std::vector<io::WeightBinder::Expected>& expected, uint32_t seed = 1);

// Runs `build` once on an expected-only binder to list what it takes, then again on random
// weights for exactly that list; throws if the second binding is incomplete.
template <typename T>
T with_random_weights(const std::function<T(io::WeightBinder&)>& build, uint32_t seed = 1) {
  io::WeightBinder listing = io::WeightBinder::expected_only();
  build(listing);
  io::WeightBinder binder = random_weight_binder(listing.expected(), seed);
  T built = build(binder);
  binder.check();
  return built;
}

}  // namespace diffuse::bench
