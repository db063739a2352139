// 8-bit images as the engine hands them to encoders (PNG) and receives them from decoders.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace diffuse::io {

// Row-major, channels interleaved (RGB or RGBA), no row padding.
struct Image8 {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels
};

// A decoded image tensor [C,H,W] (C = 3 or 4, values nominally in [0,1], any float dtype)
// to 8-bit, exactly as diffusers' numpy_to_pil does: clamp to [0,1], multiply by 255 in
// float32, round half to even (numpy's round), cast. NaN becomes 0.
Image8 image_to_rgb8(const Tensor& image);

// The float32 value -> byte mapping used by image_to_rgb8.
uint8_t unit_float_to_byte(float x);

}  // namespace diffuse::io
