// Classifier-free guidance combiners (shared/fixtures/README.md, "Guidance").
#pragma once

#include "tensor/tensor.h"

namespace diffuse {

// uncond + scale * (cond - uncond), elementwise in f32 (FLUX true CFG, Chroma, ERNIE).
Tensor cfg_combine(const Tensor& cond, const Tensor& uncond, float scale);

}  // namespace diffuse
