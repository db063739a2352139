// Image size <-> latent grid <-> packed token grid for the pipelines that 2x2-pack VAE
// latents into transformer tokens (FLUX.1, Chroma, Qwen-Image, Nucleus-Image), and their
// seeded initial noise.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace diffuse::pipelines {

struct LatentGeometry {
  int64_t height = 0, width = 0;      // image pixels (multiples of 2 * vae_factor)
  int64_t latent_h = 0, latent_w = 0;  // VAE latent grid (even)
  int64_t token_rows() const { return latent_h / 2; }
  int64_t token_cols() const { return latent_w / 2; }
  int64_t tokens() const { return token_rows() * token_cols(); }

  // The reference pipelines round the requested size down to a multiple of 2 * vae_factor
  // (`2 * (height // (vae_scale_factor * 2))` latent rows). Sizes below one token are an error.
  static LatentGeometry from_image_size(int64_t height, int64_t width, int64_t vae_factor);
};

// FLUX-style image position ids [tokens, 3] f32: (0, row, col), row-major over the token grid.
Tensor flux_image_ids(const LatentGeometry& g);

// Seeded initial noise exactly as diffusers draws it: torch.randn([1, C, h, w]) with a CPU
// generator (in bf16 when the model runs bf16), then 2x2-packed.
Tensor initial_noise(uint64_t seed, int64_t channels, const LatentGeometry& geometry, DType dtype);

}  // namespace diffuse::pipelines
