// Configuration of diffusers' AutoencoderKL (the 2-D KL-VAE of FLUX.1, Chroma, Z-Image, SD),
// parsed from its real vae/config.json with the reference constructor's defaults for absent
// fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/json_config.h"

namespace diffuse::models {

struct AutoencoderKLConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  // One entry per resolution level; the encoder walks them forwards, the decoder backwards.
  std::vector<int64_t> block_out_channels = {64};
  int64_t layers_per_block = 1;  // encoder blocks hold this many ResNets, decoder blocks one more
  int64_t latent_channels = 4;
  int64_t norm_num_groups = 32;
  bool use_quant_conv = true;       // 1x1 conv on the encoder's [mean | logvar] moments
  bool use_post_quant_conv = true;  // 1x1 conv on the latent before the decoder
  bool mid_block_add_attention = true;
  // Latent normalization applied by pipelines, not inside the VAE (see to_model_latent).
  double scaling_factor = 0.18215;
  std::optional<double> shift_factor;  // null in SD configs: no shift
  // Per-channel latent statistics some pipelines use instead of scaling/shift; kept so that
  // the latent helpers can refuse them rather than silently ignore them.
  std::optional<std::vector<double>> latents_mean, latents_std;

  // Every GroupNorm of the encoder / decoder (fixed in the reference, not configurable).
  static constexpr float kNormEps = 1e-6f;

  int64_t num_levels() const { return static_cast<int64_t>(block_out_channels.size()); }
  // Spatial factor between image and latent: 2^(levels - 1).
  int64_t downscale_factor() const { return int64_t{1} << (num_levels() - 1); }

  // Parses diffusers' AutoencoderKL config.json. Values that would change the math in ways
  // this port does not implement (another activation, block type, latents_mean/std
  // normalization) are errors naming `context`.
  static AutoencoderKLConfig from_json(const io::Json& json, const std::string& context);
};

}  // namespace diffuse::models
