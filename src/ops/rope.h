// Rotary position embeddings: f32 cos/sin tables and their in-place application to q / k.
// Tables are always built from f32 (or wider) positions: an integer position grid silently
// breaks fractional or centred ids.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace diffuse::ops {

struct RopeTables {
  Tensor cos;  // [S, D] (or [B, S, D])
  Tensor sin;
};

// FLUX-style multi-axis tables (diffusers FluxPosEmbed / get_1d_rotary_pos_embed with
// use_real=True, repeat_interleave_real=True). ids: [S, n_axes] (F32, or I32/I64), axes_dim:
// one even width per axis, D = sum(axes_dim). For axis a with width d_a, pair j gets
// freq = 1 / theta^(2j / d_a) and angle = id * freq, both in float64 (as the reference does on
// CPU); cos/sin are rounded to f32 and each value is repeated for the adjacent pair (2j, 2j+1).
// Axis blocks are concatenated in order.
RopeTables rope_tables_multi_axis(const Tensor& ids, const std::vector<int64_t>& axes_dim,
                                  double theta);

// LLM tables from an inverse-frequency vector (transformers rotary embeddings, incl. YaRN /
// partial rotary): positions [S] (F32, I32 or I64; converted to f32), inv_freq [R/2] f32.
// angle = f32(pos) * inv_freq in f32 (as the reference's f32 matmul), cos/sin of it rounded to
// f32, then multiplied by attention_scaling in f32 (YaRN's mscale; 1 otherwise). Layout
// cat(freqs, freqs): cos/sin are [S, R].
RopeTables rope_tables_inv_freq(const Tensor& positions, const Tensor& inv_freq,
                                float attention_scaling = 1.0f);

// Default inverse frequencies 1 / theta^(2j / rot_dim), j < rot_dim/2, computed in f32 like
// transformers' default rope init (arange(0, dim, 2).float() / dim, then base ** that).
Tensor rope_inv_freq(int64_t rot_dim, float theta);

// Interleaved-pair rotation (FLUX, Chroma, Qwen-Image, Z-Image: pairs (2i, 2i+1)), in place:
//   out[2i]   = x[2i]   * cos[2i]   - x[2i+1] * sin[2i]
//   out[2i+1] = x[2i+1] * cos[2i+1] + x[2i]   * sin[2i+1]
// x: writable f32 [B, S, H, D] view with a contiguous last dim (e.g. a reshape of a projection
// output, or a column slice of a fused QKV buffer); cos/sin: f32 [S, D] shared by the batch or
// [B, S, D] per batch, contiguous.
void rope_interleaved_inplace(Tensor& x, const Tensor& cos, const Tensor& sin);

// Rotate-half rotation (transformers LLMs, ERNIE DiT), in place, over the first R = cos.dim(-1)
// channels of each head (partial rotary: channels R..D-1 pass through); h = R/2:
//   out[i]   = x[i]   * cos[i]   - x[i+h] * sin[i]
//   out[i+h] = x[i+h] * cos[i+h] + x[i]   * sin[i+h]          (i < h)
// Shapes as for rope_interleaved_inplace with tables [S, R] or [B, S, R].
void rope_rotate_half_inplace(Tensor& x, const Tensor& cos, const Tensor& sin);

}  // namespace diffuse::ops
