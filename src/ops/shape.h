// Shape ops: concatenation, splitting into views, fast materialization of permuted views,
// constant padding, and the latent <-> token packing used by the DiTs. These work on any dtype
// (bytes are moved, never converted) unless noted.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace diffuse::ops {

// Concatenation along `dim` (negative counts from the end) into a new contiguous tensor. All
// parts share dtype and every other dim; they may be strided views.
Tensor concat(const std::vector<Tensor>& parts, int dim);

// Views (no copy) of consecutive pieces along `dim` with the given sizes (they must sum to the
// dim's size); chunk() splits into n equal pieces (torch.chunk with divisible sizes).
std::vector<Tensor> split(const Tensor& t, const std::vector<int64_t>& sizes, int dim);
std::vector<Tensor> chunk(const Tensor& t, int64_t n, int dim);

// A contiguous copy of any view, fast for the layouts models produce: rows that are contiguous
// in memory are copied with memcpy (e.g. [B,S,H,D] -> [B,H,S,D]), and views whose innermost dim
// is strided (e.g. [N,C,HW] -> [N,HW,C]) use a cache-blocked 2-D transpose. Returns `t` itself
// when it is already contiguous.
Tensor materialize(const Tensor& t);
// materialize(t.permute(order)).
Tensor permute_copy(const Tensor& t, const std::vector<int>& order);

// Constant padding like torch.nn.functional.pad(mode="constant"): `pads` holds (before, after)
// pairs starting from the LAST dim: {last_before, last_after, second_last_before, ...}; pads
// must be >= 0. F32 only (value is a float).
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value = 0.0f);

// Feature order inside a packed token of a p x p latent patch.
enum class PatchOrder {
  // feature = c * p*p + dy * p + dx: FLUX, Chroma, Qwen-Image, Nucleus, ERNIE
  // (view(B,C,H/p,p,W/p,p).permute(0,2,4,1,3,5)).
  ChannelMajor,
  // feature = (dy * p + dx) * C + c: Z-Image, LLaDA decoder (channel innermost).
  ChannelMinor,
};

// z [B, C, H, W] -> tokens [B, (H/p)*(W/p), C*p*p], tokens row-major over the (H/p, W/p) grid.
Tensor pack_patches(const Tensor& z, int64_t patch, PatchOrder order);
// Inverse of pack_patches: tokens [B, (H/p)*(W/p), C*p*p] -> [B, C, H, W] (H, W: latent size).
Tensor unpack_patches(const Tensor& tokens, int64_t height, int64_t width, int64_t patch, PatchOrder order);

// The FLUX / Qwen-Image convention: 2x2 patches, channel-major features c*4 + dy*2 + dx.
inline Tensor pack_latents_2x2(const Tensor& z) { return pack_patches(z, 2, PatchOrder::ChannelMajor); }
inline Tensor unpack_latents_2x2(const Tensor& tokens, int64_t height, int64_t width) {
  return unpack_patches(tokens, height, width, 2, PatchOrder::ChannelMajor);
}

}  // namespace diffuse::ops
