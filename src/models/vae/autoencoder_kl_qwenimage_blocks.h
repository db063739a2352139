// Building blocks of the Qwen-Image causal VAE (diffusers autoencoder_kl_qwenimage.py), for a
// single frame: a video of one image with no feature cache. Module and tensor names follow the
// reference so checkpoints bind as they are. Activations are NCHW f32 (the frame axis of the
// reference's [B, C, T, H, W] is dropped).
//
// Why single frames reduce to 2-D: a causal Conv3d pads time only on the past side (2 * pad
// frames of zeros in front), so for one frame only the last temporal kernel slice meets real
// data; a k x k x k causal conv is a k x k Conv2d with weight[:, :, k - 1].
//
// Memory: forward functions taking a Tensor by value consume it, so callers that move their
// activation in let it be freed as soon as possible (a 96-channel 1024x1024 map is 400 MB).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/weight_binder.h"
#include "models/common/model_options.h"
#include "models/vae/vae_layers.h"
#include "ops/linear.h"

namespace diffuse::models {

// QwenImageCausalConv3d (cubic kernel k, padding (k - 1) / 2, stride 1) applied to one frame:
// binds "<name>.weight" [O, I, k, k, k] and "<name>.bias" [O]; keeps an f32 copy of the last
// temporal slice as a 2-D kernel.
class CausalConv3dFrame {
 public:
  CausalConv3dFrame(io::WeightBinder& binder, const std::string& name, int64_t in_channels, int64_t out_channels,
                    int64_t kernel);
  Tensor forward(const Tensor& x) const;  // [N, I, H, W] -> [N, O, H, W]

 private:
  std::string name_;
  std::optional<ops::Conv2d> conv_;
};

// QwenImageRMS_norm (bias off, as everywhere in the VAE): binds "<name>.gamma" with the
// reference's broadcast shape ([C, 1, 1, 1] inside residual blocks and norm_out, [C, 1, 1] in
// attention) and normalizes over channels (ops::channel_rms_norm).
class QwenImageRmsNorm {
 public:
  QwenImageRmsNorm(io::WeightBinder& binder, const std::string& name, int64_t channels, bool images);
  Tensor forward(const Tensor& x, bool silu) const;

 private:
  std::string name_;
  Tensor gamma_;  // [C] f32
};

// QwenImageResidualBlock: h = shortcut(x) (1x1x1 causal conv when channels change);
// x = conv1(SiLU(norm1(x))); x = conv2(SiLU(norm2(x))) (dropout is identity); x + h.
class QwenImageResidualBlock {
 public:
  QwenImageResidualBlock(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels);
  Tensor forward(Tensor x) const;

 private:
  QwenImageRmsNorm norm1_, norm2_;
  CausalConv3dFrame conv1_, conv2_;
  std::optional<CausalConv3dFrame> conv_shortcut_;
};

// QwenImageAttentionBlock: RMS norm, to_qkv (1x1 Conv2d C -> 3C, run as a GEMM over the H*W
// tokens), single-head attention over H*W (scale 1/sqrt(C)), proj (1x1 C -> C), plus the input.
// With Precision::BF16 the projections and the attention run in bf16 with f32 accumulation.
class QwenImageAttentionBlock {
 public:
  QwenImageAttentionBlock(io::WeightBinder& binder, int64_t channels, const ModelOptions& options);
  Tensor forward(const Tensor& x) const;

 private:
  std::string name_;
  int64_t channels_;
  bool bf16_;
  QwenImageRmsNorm norm_;
  std::optional<ops::Linear> to_qkv_, proj_;
};

// QwenImageMidBlock with one layer: resnets.0 -> attentions.0 -> resnets.1.
class QwenImageMidBlock {
 public:
  QwenImageMidBlock(io::WeightBinder& binder, int64_t channels, const ModelOptions& options);
  Tensor forward(Tensor x) const;

 private:
  std::vector<QwenImageResidualBlock> resnets_;
  QwenImageAttentionBlock attention_;
};

// QwenImageResample in its four resampling modes, spatial path "resample.1" (a Conv2d):
//   upsample2d / upsample3d: nearest x2, then 3x3 conv C -> C / 2;
//   downsample2d / downsample3d: zero-pad right and bottom by one, then 3x3 stride-2 conv C -> C.
// The 3d modes also hold "time_conv" (a causal conv over time). The reference skips it on the
// first chunk of frames, which for an image is the only one, so its weights are bound (the
// checkpoint has them) but never used.
class QwenImageResample {
 public:
  enum class Mode { Upsample2d, Upsample3d, Downsample2d, Downsample3d };
  QwenImageResample(io::WeightBinder& binder, int64_t channels, Mode mode);
  Tensor forward(Tensor x) const;

 private:
  bool upsample_;
  Conv2dLayer resample_;
};

// QwenImageUpBlock: num_res_blocks + 1 residual blocks, then optionally upsamplers.0.
class QwenImageUpBlock {
 public:
  QwenImageUpBlock(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels, int64_t num_res_blocks,
                   std::optional<QwenImageResample::Mode> upsample);
  Tensor forward(Tensor x) const;

 private:
  std::vector<QwenImageResidualBlock> resnets_;
  std::optional<QwenImageResample> upsampler_;
};

}  // namespace diffuse::models
