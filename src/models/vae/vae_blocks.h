// Building blocks of the 2-D KL-VAE encoder / decoder (diffusers resnet.py, downsampling.py,
// upsampling.py, unet_2d_blocks.py and the mid-block Attention), named like the reference
// modules so checkpoints bind as they are. Activations are NCHW f32.
//
// Memory: forward functions that take a Tensor by value consume it, so a caller that moves
// its activation in lets the block free it as soon as it is no longer needed (a 128-channel
// 1024x1024 activation is 512 MB in f32).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/weight_binder.h"
#include "models/common/linear_layer.h"
#include "models/common/model_options.h"
#include "models/vae/vae_layers.h"

namespace diffuse::models {

// ResnetBlock2D without time embedding (temb None, output_scale_factor 1, dropout off):
//   h = conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))); out = shortcut(x) + h
// with a 1x1 conv_shortcut when the channel count changes.
class ResnetBlock2D {
 public:
  ResnetBlock2D(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels, int64_t groups, float eps);
  Tensor forward(Tensor x) const;

 private:
  GroupNormLayer norm1_, norm2_;
  Conv2dLayer conv1_, conv2_;
  std::optional<Conv2dLayer> conv_shortcut_;
};

// The VAE mid-block Attention: GroupNorm, then single-head self-attention over the H*W
// positions (head dim = channels, scale 1/sqrt(C), biased q/k/v/out projections), plus the
// input (residual_connection, rescale_output_factor 1).
class SpatialSelfAttention {
 public:
  SpatialSelfAttention(io::WeightBinder& binder, int64_t channels, int64_t groups, float eps,
                       const ModelOptions& options);
  Tensor forward(const Tensor& x) const;

 private:
  int64_t channels_;
  bool bf16_;
  GroupNormLayer group_norm_;
  LinearLayer to_q_, to_k_, to_v_, to_out_;
};

// UNetMidBlock2D with one layer: resnets.0 -> attentions.0 (optional) -> resnets.1.
class UNetMidBlock2D {
 public:
  UNetMidBlock2D(io::WeightBinder& binder, int64_t channels, int64_t groups, float eps, bool add_attention,
                 const ModelOptions& options);
  Tensor forward(Tensor x) const;

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::optional<SpatialSelfAttention> attention_;
};

// DownEncoderBlock2D: `layers` ResNets, then (if not the last level) Downsample2D with
// padding 0: zero-pad right and bottom by one, then a 3x3 stride-2 conv ("downsamplers.0.conv").
class DownEncoderBlock2D {
 public:
  DownEncoderBlock2D(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels, int64_t layers,
                     bool add_downsample, int64_t groups, float eps);
  Tensor forward(Tensor x) const;

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::optional<Conv2dLayer> downsample_;
};

// UpDecoderBlock2D: `layers` ResNets, then (if not the last level) Upsample2D: nearest x2,
// then a 3x3 conv ("upsamplers.0.conv").
class UpDecoderBlock2D {
 public:
  UpDecoderBlock2D(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels, int64_t layers,
                   bool add_upsample, int64_t groups, float eps);
  Tensor forward(Tensor x) const;

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::optional<Conv2dLayer> upsample_;
};

}  // namespace diffuse::models
