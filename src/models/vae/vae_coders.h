// The encoder and decoder of diffusers' 2-D KL-VAE (vae.py Encoder / Decoder, group norm
// variant), shared by AutoencoderKL and the FLUX.2 VAE. Layout from the config:
//   Encoder: conv_in -> down_blocks[i] (block_out_channels[i]; all but the last halve H, W)
//            -> mid_block -> conv_norm_out -> SiLU -> conv_out (2 * latent channels: mean | logvar)
//   Decoder: conv_in -> mid_block -> up_blocks[i] (reversed channels, layers_per_block + 1
//            ResNets; all but the last double H, W) -> conv_norm_out -> SiLU -> conv_out
#pragma once

#include <string>
#include <vector>

#include "io/weight_binder.h"
#include "models/common/model_options.h"
#include "models/common/trace.h"
#include "models/vae/autoencoder_kl_config.h"
#include "models/vae/vae_blocks.h"

namespace diffuse::models {

class VaeEncoder {
 public:
  // `binder` is scoped at the encoder ("encoder.").
  VaeEncoder(const AutoencoderKLConfig& cfg, io::WeightBinder& binder, const ModelOptions& options);
  // x [B, in_channels, H, W] -> moments [B, 2 * latent_channels, H / f, W / f] (f the downscale
  // factor; odd sizes round down at each level). Dumps go under `trace_path` + module name.
  Tensor forward(const Tensor& x, const Trace* trace, const std::string& trace_path) const;

 private:
  Conv2dLayer conv_in_;
  std::vector<DownEncoderBlock2D> down_blocks_;
  UNetMidBlock2D mid_block_;
  GroupNormLayer conv_norm_out_;
  Conv2dLayer conv_out_;
};

class VaeDecoder {
 public:
  // `binder` is scoped at the decoder ("decoder.").
  VaeDecoder(const AutoencoderKLConfig& cfg, io::WeightBinder& binder, const ModelOptions& options);
  // z [B, latent_channels, h, w] -> [B, out_channels, h * f, w * f].
  Tensor forward(const Tensor& z, const Trace* trace, const std::string& trace_path) const;

 private:
  Conv2dLayer conv_in_;
  UNetMidBlock2D mid_block_;
  std::vector<UpDecoderBlock2D> up_blocks_;
  GroupNormLayer conv_norm_out_;
  Conv2dLayer conv_out_;
};

}  // namespace diffuse::models
