// PyTorch-compatible CPU random numbers: torch.Generator('cpu').manual_seed(seed) followed
// by torch.randn(shape, generator=g, dtype=...). diffusers draws its initial latents this
// way, so the same seed gives the same starting noise as the reference pipelines.
#pragma once

#include <cstdint>
#include <random>

#include "tensor/tensor.h"

namespace diffuse {

class TorchGenerator {
 public:
  explicit TorchGenerator(uint64_t seed = 67280421310721ull) { manual_seed(seed); }
  void manual_seed(uint64_t seed);

  uint32_t random() { return static_cast<uint32_t>(engine_()); }
  // Two 32-bit draws, the first in the high half (PyTorch's random64()).
  uint64_t random64();

  // torch.randn with this generator. dtype F32 or BF16 (BF16 values are generated with
  // bf16 arithmetic as PyTorch does, then stored as BF16).
  Tensor randn(const Shape& shape, DType dtype = DType::F32);

 private:
  friend struct NormalSampler;
  std::mt19937 engine_;
  // Box-Muller produces pairs; PyTorch caches the second value of a scalar draw.
  bool has_cached_normal_ = false;
  double cached_normal_ = 0;
};

}  // namespace diffuse
