#include "models/vae/autoencoder_kl.h"

#include "ops/elementwise.h"
#include "ops/shape.h"

namespace diffuse::models {

namespace {

void check_nchw(const Tensor& t, int64_t channels, const char* what) {
  DIFFUSE_CHECK(t.defined() && t.ndim() == 4 && t.dim(1) == channels, "AutoencoderKL ", what, ": expected [B, ",
                channels, ", H, W], got ", t.defined() ? shape_str(t.shape()) : "an undefined tensor");
  DIFFUSE_CHECK(t.dtype() == DType::F32, "AutoencoderKL ", what, ": expected f32, got ", dtype_name(t.dtype()));
}

}  // namespace

AutoencoderKL::AutoencoderKL(const AutoencoderKLConfig& cfg, io::WeightBinder& binder, const ModelOptions& options)
    : cfg_(cfg),
      encoder_([&] {
        io::WeightBinder b = binder.scope("encoder");
        return VaeEncoder(cfg, b, options);
      }()),
      decoder_([&] {
        io::WeightBinder b = binder.scope("decoder");
        return VaeDecoder(cfg, b, options);
      }()) {
  const ops::Conv2dOptions pointwise = ops::Conv2dOptions::symmetric(1, 0);
  const int64_t moments = 2 * cfg.latent_channels;
  if (cfg.use_quant_conv) quant_conv_.emplace(binder, "quant_conv", moments, moments, 1, pointwise);
  if (cfg.use_post_quant_conv) {
    post_quant_conv_.emplace(binder, "post_quant_conv", cfg.latent_channels, cfg.latent_channels, 1, pointwise);
  }
}

Tensor AutoencoderKL::decode(const Tensor& z, const Trace* trace) const {
  check_nchw(z, cfg_.latent_channels, "decode input");
  if (!post_quant_conv_) return decoder_.forward(z, trace, "decoder.");
  const Tensor mixed = post_quant_conv_->forward(z);
  models::trace(trace, "post_quant_conv", mixed);
  return decoder_.forward(mixed, trace, "decoder.");
}

AutoencoderKL::Posterior AutoencoderKL::encode(const Tensor& x, const Trace* trace) const {
  check_nchw(x, cfg_.in_channels, "encode input");
  Tensor moments = encoder_.forward(x, trace, "encoder.");
  if (quant_conv_) {
    moments = quant_conv_->forward(moments);
    models::trace(trace, "quant_conv", moments);
  }
  // Channels [0, C) are the mean, [C, 2C) the log-variance (torch.chunk(moments, 2, dim=1)).
  const auto halves = ops::chunk(moments, 2, 1);
  Posterior p;
  p.mean = halves[0].contiguous();
  p.logvar = ops::clamp(halves[1], -30.0f, 20.0f);
  return p;
}

void AutoencoderKL::check_plain_latent_scaling() const {
  DIFFUSE_CHECK(!cfg_.latents_mean && !cfg_.latents_std,
                "AutoencoderKL: latents_mean / latents_std normalization is not supported by the latent helpers");
}

Tensor AutoencoderKL::to_model_latent(const Tensor& z) const {
  check_plain_latent_scaling();
  check_nchw(z, cfg_.latent_channels, "to_model_latent input");
  const float shift = static_cast<float>(cfg_.shift_factor.value_or(0.0));
  Tensor out = ops::sub(z, shift);
  ops::mul_inplace(out, static_cast<float>(cfg_.scaling_factor));
  return out;
}

Tensor AutoencoderKL::from_model_latent(const Tensor& latent) const {
  check_plain_latent_scaling();
  check_nchw(latent, cfg_.latent_channels, "from_model_latent input");
  Tensor out = ops::div(latent, static_cast<float>(cfg_.scaling_factor));
  ops::add_inplace(out, static_cast<float>(cfg_.shift_factor.value_or(0.0)));
  return out;
}

}  // namespace diffuse::models
