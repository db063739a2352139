#include "models/vae/autoencoder_kl_qwenimage.h"

#include "ops/elementwise.h"
#include "ops/shape.h"

namespace diffuse::models {

namespace {

// [B, C, H, W], or [B, C, 1, H, W] viewed as such (one frame: the only case this port runs).
Tensor as_image_batch(const Tensor& t, int64_t channels, const char* what) {
  DIFFUSE_CHECK(t.defined(), "AutoencoderKLQwenImage ", what, ": undefined tensor");
  DIFFUSE_CHECK(t.dtype() == DType::F32, "AutoencoderKLQwenImage ", what, ": expected f32, got ",
                dtype_name(t.dtype()));
  const bool frames = t.ndim() == 5;
  DIFFUSE_CHECK((t.ndim() == 4 || frames) && t.dim(1) == channels && (!frames || t.dim(2) == 1),
                "AutoencoderKLQwenImage ", what, ": expected [B, ", channels, ", H, W] or [B, ", channels,
                ", 1, H, W] (single frame), got ", shape_str(t.shape()));
  return frames ? t.squeeze(2) : t;
}

Tensor channel_column(const std::vector<double>& values) {
  std::vector<float> f(values.begin(), values.end());
  return Tensor::from_f32({static_cast<int64_t>(f.size()), 1, 1}, f);
}

}  // namespace

AutoencoderKLQwenImage::AutoencoderKLQwenImage(const AutoencoderKLQwenImageConfig& cfg, io::WeightBinder& binder,
                                               const ModelOptions& options, bool decoder_only)
    : cfg_(cfg),
      post_quant_conv_(binder, "post_quant_conv", cfg.z_dim, cfg.z_dim, 1),
      decoder_([&] {
        io::WeightBinder b = binder.scope("decoder");
        return QwenImageDecoder3d(cfg, b, options);
      }()),
      latents_mean_(channel_column(cfg.latents_mean)),
      latents_std_(channel_column(cfg.latents_std)) {
  if (decoder_only) {
    binder.ignore("encoder.*");
    binder.ignore("quant_conv.*");
    return;
  }
  io::WeightBinder enc = binder.scope("encoder");
  encoder_.emplace(cfg, enc, options);
  quant_conv_.emplace(binder, "quant_conv", 2 * cfg.z_dim, 2 * cfg.z_dim, 1);
}

Tensor AutoencoderKLQwenImage::decode(const Tensor& z_in, const Trace* trace) const {
  const Tensor z = as_image_batch(z_in, cfg_.z_dim, "decode input");
  Tensor h = post_quant_conv_.forward(z);
  models::trace(trace, "post_quant_conv", h);
  h = decoder_.forward(h, trace, "decoder.");
  models::trace(trace, "decoder", h);
  ops::clamp_inplace(h, -1.0f, 1.0f);
  return h;
}

AutoencoderKLQwenImage::Posterior AutoencoderKLQwenImage::encode(const Tensor& x_in, const Trace* trace) const {
  DIFFUSE_CHECK(encoder_.has_value(), "AutoencoderKLQwenImage: encode() on a decoder-only model");
  const Tensor x = as_image_batch(x_in, cfg_.input_channels, "encode input");
  const int64_t f = cfg_.downscale_factor();
  DIFFUSE_CHECK(x.dim(2) % f == 0 && x.dim(3) % f == 0 && x.dim(2) > 0 && x.dim(3) > 0,
                "AutoencoderKLQwenImage encode: image size ", x.dim(2), "x", x.dim(3),
                " is not a positive multiple of the downscale factor ", f);
  Tensor moments = encoder_->forward(x, trace, "encoder.");
  models::trace(trace, "encoder", moments);
  moments = quant_conv_->forward(moments);
  models::trace(trace, "quant_conv", moments);
  // Channels [0, z) are the mean, [z, 2z) the log-variance (torch.chunk(moments, 2, dim=1)).
  const auto halves = ops::chunk(moments, 2, 1);
  Posterior p;
  p.mean = halves[0].contiguous();
  p.logvar = ops::clamp(halves[1], -30.0f, 20.0f);
  return p;
}

Tensor AutoencoderKLQwenImage::to_model_latent(const Tensor& mean) const {
  const Tensor m = as_image_batch(mean, cfg_.z_dim, "to_model_latent input");
  Tensor out = ops::sub(m, latents_mean_);
  ops::div_inplace(out, latents_std_);
  return out.reshape(mean.shape());
}

Tensor AutoencoderKLQwenImage::from_model_latent(const Tensor& latent) const {
  const Tensor l = as_image_batch(latent, cfg_.z_dim, "from_model_latent input");
  Tensor out = ops::mul(l, latents_std_);
  ops::add_inplace(out, latents_mean_);
  return out.reshape(latent.shape());
}

}  // namespace diffuse::models
