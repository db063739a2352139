// The encoder and decoder of the Qwen-Image causal VAE (QwenImageEncoder3d /
// QwenImageDecoder3d) for single frames. With C_i = base_dim * dim_mult[i]:
//   Encoder: conv_in (input -> C_0) -> down_blocks, a flat list: per level i, num_res_blocks
//            residual blocks (C_{i-1} -> C_i, C_{-1} = C_0), then a downsample except after the
//            last level -> mid_block -> norm_out -> SiLU -> conv_out (C_last -> 2 * z_dim).
//   Decoder: conv_in (z_dim -> C_last) -> mid_block -> up_blocks (reversed levels,
//            num_res_blocks + 1 residual blocks each, an upsample halving the channels except
//            after the last) -> norm_out -> SiLU -> conv_out (C_0 -> input channels).
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "models/common/trace.h"
#include "models/vae/autoencoder_kl_qwenimage_blocks.h"
#include "models/vae/autoencoder_kl_qwenimage_config.h"

namespace diffuse::models {

class QwenImageEncoder3d {
 public:
  // `binder` is scoped at the encoder ("encoder.").
  QwenImageEncoder3d(const AutoencoderKLQwenImageConfig& cfg, io::WeightBinder& binder, const ModelOptions& options);
  // x [B, input_channels, H, W] (H, W multiples of the downscale factor) -> moments
  // [B, 2 * z_dim, H / f, W / f]. Dumps go under `trace_path` + module name.
  Tensor forward(const Tensor& x, const Trace* trace, const std::string& trace_path) const;

 private:
  using DownLayer = std::variant<QwenImageResidualBlock, QwenImageResample>;
  static std::vector<DownLayer> make_down_blocks(const AutoencoderKLQwenImageConfig& cfg, io::WeightBinder& binder);

  CausalConv3dFrame conv_in_;
  std::vector<DownLayer> down_blocks_;
  QwenImageMidBlock mid_block_;
  QwenImageRmsNorm norm_out_;
  CausalConv3dFrame conv_out_;
};

class QwenImageDecoder3d {
 public:
  // `binder` is scoped at the decoder ("decoder.").
  QwenImageDecoder3d(const AutoencoderKLQwenImageConfig& cfg, io::WeightBinder& binder, const ModelOptions& options);
  // z [B, z_dim, h, w] -> [B, input_channels, h * f, w * f], not clamped.
  Tensor forward(const Tensor& z, const Trace* trace, const std::string& trace_path) const;

 private:
  static std::vector<QwenImageUpBlock> make_up_blocks(const AutoencoderKLQwenImageConfig& cfg,
                                                      io::WeightBinder& binder);

  CausalConv3dFrame conv_in_;
  QwenImageMidBlock mid_block_;
  std::vector<QwenImageUpBlock> up_blocks_;
  QwenImageRmsNorm norm_out_;
  CausalConv3dFrame conv_out_;
};

}  // namespace diffuse::models
