// Nearest-neighbour upsampling by an integer factor (VAE decoder up-blocks use factor 2).
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace diffuse::ops {

// x [N, C, H, W] f32 (contiguous) -> [N, C, H*factor, W*factor] with out[y][x] = in[y/f][x/f]
// (integer division; torch's "nearest" gives the same indices for integer scale factors).
Tensor upsample_nearest2d(const Tensor& x, int64_t factor = 2);

}  // namespace diffuse::ops
