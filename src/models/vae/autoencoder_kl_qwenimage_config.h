// Configuration of diffusers' AutoencoderKLQwenImage (the Wan-2.1-style causal 3-D VAE of
// Qwen-Image and Nucleus-Image), parsed from its real vae/config.json with the reference
// constructor's defaults for absent fields.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/json_config.h"

namespace diffuse::models {

struct AutoencoderKLQwenImageConfig {
  int64_t base_dim = 96;
  int64_t z_dim = 16;
  // Channel multipliers per resolution level (encoder order); all but the last level resample.
  std::vector<int64_t> dim_mult = {1, 2, 4, 4};
  int64_t num_res_blocks = 2;
  // Per resampling level: whether it also resamples time. Only selects which modules hold a
  // (for single frames unused) time_conv; the decoder reads it reversed.
  std::vector<bool> temperal_downsample = {false, true, true};
  double dropout = 0.0;  // training only
  int64_t input_channels = 3;
  // Per-channel latent statistics the pipelines apply around the VAE (length z_dim).
  std::vector<double> latents_mean = {-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                                      0.4134,  -0.0715, 0.5517,  -0.3632, -0.1922, -0.9497, 0.2503, -0.2921};
  std::vector<double> latents_std = {2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                                     3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160};

  int64_t num_levels() const { return static_cast<int64_t>(dim_mult.size()); }
  // Spatial factor between image and latent: 2^(levels - 1).
  int64_t downscale_factor() const { return int64_t{1} << (num_levels() - 1); }
  // Channels of encoder level i (i in [0, levels)): base_dim * dim_mult[i].
  int64_t level_channels(int64_t i) const { return base_dim * dim_mult[static_cast<size_t>(i)]; }

  // Parses the config. attn_scales other than [] (attention blocks inside the resolution
  // levels) and values that break the layout are errors naming `context`.
  static AutoencoderKLQwenImageConfig from_json(const io::Json& json, const std::string& context);
};

}  // namespace diffuse::models
