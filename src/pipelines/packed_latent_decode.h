// From the sampler's packed latents to an image in [0, 1], for every VAE whose latents are
// 2x2-packed into transformer tokens (FLUX.1 / Chroma's AutoencoderKL, Qwen-Image's
// AutoencoderKLQwenImage): unpack to [B, C, h, w], undo the pipeline's latent normalisation,
// decode, then (x / 2 + 0.5).clamp(0, 1) as the reference image processors do.
#pragma once

#include <functional>

#include "pipelines/latent_geometry.h"
#include "tensor/tensor.h"

namespace diffuse::pipelines {

struct LatentDecoder {
  std::function<Tensor(const Tensor&)> to_vae_space;  // model-space latent -> what decode() takes
  std::function<Tensor(const Tensor&)> decode;        // -> [B, 3, H, W], roughly [-1, 1]
};

// `decoded_trace` (optional) receives the VAE input and its raw output, as the reference
// pipelines' dumps hold them.
Tensor decode_packed_latents(const LatentDecoder& decoder, const Tensor& latents, const LatentGeometry& geometry,
                             const std::function<void(const Tensor& z, const Tensor& raw)>& decoded_trace = {});

}  // namespace diffuse::pipelines
