// diffusers AutoencoderKLQwenImage (models/autoencoders/autoencoder_kl_qwenimage.py): the
// Wan-2.1-style causal 3-D VAE of Qwen-Image and Nucleus-Image, run on single images (one
// frame; see autoencoder_kl_qwenimage_blocks.h for why that reduces to 2-D convolutions).
// Tensor names bind as in the checkpoint: encoder.*, quant_conv.*, post_quant_conv.*, decoder.*.
//
// Precision: convolutions and norms compute in f32 (bf16 weights are widened once at load);
// with Precision::BF16 the mid-block attention projections and the attention itself run in
// bf16 with f32 accumulation.
#pragma once

#include <optional>

#include "io/weight_binder.h"
#include "models/common/model_options.h"
#include "models/common/trace.h"
#include "models/vae/autoencoder_kl.h"
#include "models/vae/autoencoder_kl_qwenimage_coders.h"
#include "models/vae/autoencoder_kl_qwenimage_config.h"

namespace diffuse::models {

class AutoencoderKLQwenImage {
 public:
  // mean is the posterior's mode; logvar is clamped to [-30, 20] like the reference.
  using Posterior = AutoencoderKL::Posterior;

  // `decoder_only` binds post_quant_conv and the decoder alone (text-to-image only decodes);
  // the checkpoint's encoder.* and quant_conv.* tensors are then ignored, not reported as
  // unexpected, and encode() throws.
  AutoencoderKLQwenImage(const AutoencoderKLQwenImageConfig& cfg, io::WeightBinder& binder,
                         const ModelOptions& options, bool decoder_only = false);

  const AutoencoderKLQwenImageConfig& config() const { return cfg_; }
  bool decoder_only() const { return !encoder_.has_value(); }

  // z [B, z_dim, h, w] or [B, z_dim, 1, h, w] f32, already de-normalised (from_model_latent)
  // -> image [B, input_channels, h * f, w * f] f32 clamped to [-1, 1] (f = downscale factor,
  // 8 for the real config; any h, w >= 1).
  Tensor decode(const Tensor& z, const Trace* trace = nullptr) const;
  // x [B, input_channels, H, W] or [B, input_channels, 1, H, W] f32 in [-1, 1], H and W
  // multiples of f -> posterior over [B, z_dim, H / f, W / f].
  Posterior encode(const Tensor& x, const Trace* trace = nullptr) const;

  // The per-channel latent normalization pipelines apply around the VAE (not part of encode /
  // decode), in f32: model latent = (mean - latents_mean) / latents_std, and its inverse
  // latent * latents_std + latents_mean. 4-D or 5-D like decode's input; shape preserved.
  Tensor to_model_latent(const Tensor& mean) const;
  Tensor from_model_latent(const Tensor& latent) const;

 private:
  AutoencoderKLQwenImageConfig cfg_;
  std::optional<QwenImageEncoder3d> encoder_;
  std::optional<CausalConv3dFrame> quant_conv_;
  CausalConv3dFrame post_quant_conv_;
  QwenImageDecoder3d decoder_;
  Tensor latents_mean_, latents_std_;  // [z_dim, 1, 1] f32
};

}  // namespace diffuse::models
