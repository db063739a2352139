// diffusers AutoencoderKL (models/autoencoders/autoencoder_kl.py): the 2-D KL-VAE of FLUX.1,
// Chroma, Z-Image and LLaDA2.0-Uni. Tensor names bind as in the checkpoint: encoder.*,
// decoder.*, and quant_conv.* / post_quant_conv.* when the config enables them.
//
// Precision: convolutions and norms compute in f32 (bf16 weights are widened once at load);
// with Precision::BF16 the mid-block attention projections and the attention itself run in
// bf16 with f32 accumulation.
#pragma once

#include <optional>

#include "io/weight_binder.h"
#include "models/common/model_options.h"
#include "models/common/trace.h"
#include "models/vae/autoencoder_kl_config.h"
#include "models/vae/vae_coders.h"
#include "models/vae/vae_layers.h"

namespace diffuse::models {

class AutoencoderKL {
 public:
  // The diagonal Gaussian over latents the encoder predicts; `mean` is its mode (what
  // img2img pipelines use), `logvar` is clamped to [-30, 20] like the reference.
  struct Posterior {
    Tensor mean, logvar;  // [B, latent_channels, h, w] f32
  };

  AutoencoderKL(const AutoencoderKLConfig& cfg, io::WeightBinder& binder, const ModelOptions& options);

  const AutoencoderKLConfig& config() const { return cfg_; }

  // z [B, latent_channels, h, w] f32 in VAE space (already un-scaled: from_model_latent) ->
  // image [B, out_channels, h * f, w * f] f32, nominally in [-1, 1] and not clamped.
  Tensor decode(const Tensor& z, const Trace* trace = nullptr) const;
  // x [B, in_channels, H, W] f32 image in [-1, 1] -> posterior over [B, latent_channels,
  // H / f, W / f] (f = config().downscale_factor(); odd sizes round down at each level).
  Posterior encode(const Tensor& x, const Trace* trace = nullptr) const;

  // The latent normalization pipelines apply around the VAE (not part of encode/decode):
  // model latent = (z - shift_factor) * scaling_factor, and its inverse z / scaling_factor +
  // shift_factor, in f32 like the reference (shift 0 when the config has none).
  Tensor to_model_latent(const Tensor& z) const;
  Tensor from_model_latent(const Tensor& latent) const;

 private:
  void check_plain_latent_scaling() const;

  AutoencoderKLConfig cfg_;
  VaeEncoder encoder_;
  VaeDecoder decoder_;
  std::optional<Conv2dLayer> quant_conv_, post_quant_conv_;
};

}  // namespace diffuse::models
