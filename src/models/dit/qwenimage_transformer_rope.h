// Qwen-Image rotary position tables (diffusers QwenEmbedRope with scale_rope=True, theta 10000):
// three axes (frame, row, column) over the packed latent grid, rows and columns CENTRED on zero,
// and text tokens placed on the diagonal just past the image's positive half.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/rope.h"
#include "tensor/tensor.h"

namespace diffuse::models {

// The packed token grid of one image: frames x height x width tokens (height = H/16 for an
// H-pixel image with the 8x VAE and 2x2 packing). Tokens are ordered frame, row, column.
struct QwenImageGrid {
  int64_t frames = 1;
  int64_t height = 0;
  int64_t width = 0;
  int64_t tokens() const { return frames * height * width; }
};

// The position of each rotary axis for one token.
struct QwenRopePosition {
  int64_t frame, row, col;
};

// Image token (f, r, c): (f, r - (h - h/2), c - (w - w/2)) -- rows run from -(h - h/2) to
// h/2 - 1, likewise columns. Text token j: (p, p, p) with p = max(h/2, w/2) + j over the padded
// text length (integer halves).
QwenRopePosition qwen_image_token_position(const QwenImageGrid& grid, int64_t frame, int64_t row, int64_t col);
int64_t qwen_text_position_base(const QwenImageGrid& grid);

// cos / sin [txt_len + N, head_dim] (text rows first, as the joint sequence) in the interleaved-
// pair layout ops::rope_interleaved_inplace applies: head channels [0, a0) rotate with the frame
// position, [a0, a0 + a1) with the row, the rest with the column; pair k of an axis of width d
// turns by angle pos * theta^(-2k/d). Angle and inverse frequency are f32 products as the
// reference forms them (float(index) * f32 inverse frequency), cos / sin rounded to f32.
ops::RopeTables qwen_image_rope_tables(const QwenImageGrid& grid, int64_t txt_len,
                                       const std::vector<int64_t>& axes_dims, float theta = 10000.0f);

}  // namespace diffuse::models
