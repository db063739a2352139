// Sinusoidal timestep embedding with diffusers `get_timestep_embedding` semantics.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace diffuse::ops {

struct TimestepEmbeddingOptions {
  bool flip_sin_to_cos = false;        // true: [cos, sin] (FLUX, Qwen-Image, ...); false: [sin, cos]
  float downscale_freq_shift = 1.0f;   // diffusers' default; the DiTs use 0
  float scale = 1.0f;                  // multiplies the argument (Qwen-Image Timesteps(scale=1000))
  double max_period = 10000.0;
};

// t: [B] (F32, or BF16 / F16 / I32 / I64, converted to f32 first) -> [B, dim] f32.
// half = dim / 2; freq_j = exp(-ln(max_period) * j / (half - downscale_freq_shift));
// arg = scale * (t * freq_j); emb = [sin(arg), cos(arg)] (or flipped), zero column appended for
// odd dim.
//
// Float32 operation order (the reference's, so results agree to ~1 ulp): -ln(max_period) is
// rounded to f32 and multiplied by j in f32; divided by (half - shift) in f32; exp is evaluated
// exactly and rounded to f32; t * freq and scale * (.) are f32 products; sin / cos are
// evaluated exactly on that f32 argument and rounded. The f32 rounding of the argument is
// deliberate: at arguments near 1000 one f32 ulp is 6e-5 rad, so computing the argument in
// double would move the result by up to ~6e-5 away from what the reference (and the trained
// model) sees.
Tensor timestep_embedding(const Tensor& t, int64_t dim, const TimestepEmbeddingOptions& options = {});

}  // namespace diffuse::ops
