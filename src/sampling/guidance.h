// Classifier-free guidance combiners (shared/fixtures/README.md, "Guidance").
#pragma once

#include "tensor/tensor.h"

namespace diffuse {

// uncond + scale * (cond - uncond), elementwise in f32 (FLUX true CFG, Chroma, ERNIE).
Tensor cfg_combine(const Tensor& cond, const Tensor& uncond, float scale);

// Qwen-Image's true CFG: comb = uncond + scale * (cond - uncond), then every vector along the
// last dim (one packed token) is rescaled to the norm of cond's: comb * (|cond| / |comb|).
// A token whose combined vector is exactly zero stays zero (the reference would divide by 0).
Tensor cfg_combine_norm_rescaled(const Tensor& cond, const Tensor& uncond, float scale);

}  // namespace diffuse
