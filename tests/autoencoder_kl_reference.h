// A naive AutoencoderKL forward for tests, written from the reference module tree (diffusers
// vae.py / resnet.py / unet_2d_blocks.py) on top of the plain reference ops: double-
// accumulating convolutions, norms and attention, explicit zero padding for the encoder's
// downsampling, and elementwise sums through broadcast_map. It reads weights by checkpoint
// name from a map, so it shares nothing with the model code except the op references.
#pragma once

#include <map>
#include <string>

#include "models/vae/autoencoder_kl_config.h"
#include "ops/reference/attention_ref.h"
#include "ops/reference/conv_ref.h"
#include "ops/reference/eltwise_ref.h"
#include "ops/reference/linear_ref.h"
#include "ops/reference/norm_ref.h"

namespace diffuse::testing {

class AutoencoderKLReference {
 public:
  AutoencoderKLReference(const models::AutoencoderKLConfig& cfg, std::map<std::string, Tensor> weights)
      : cfg_(cfg), w_(std::move(weights)) {}

  Tensor decode(const Tensor& z) const {
    Tensor h = cfg_.use_post_quant_conv ? conv("post_quant_conv", z, 0) : z;
    h = conv("decoder.conv_in", h, 1);
    h = mid_block("decoder.mid_block.", h);
    const int64_t levels = cfg_.num_levels();
    for (int64_t i = 0; i < levels; ++i) {
      const std::string p = "decoder.up_blocks." + std::to_string(i) + ".";
      for (int64_t j = 0; j <= cfg_.layers_per_block; ++j) h = resnet(p + "resnets." + std::to_string(j) + ".", h);
      if (i + 1 < levels) h = conv(p + "upsamplers.0.conv", ops::ref::upsample_nearest2d(h, 2), 1);
    }
    h = norm("decoder.conv_norm_out", h, true);
    return conv("decoder.conv_out", h, 1);
  }

  // Returns the moments [B, 2C, h, w] after quant_conv (mean channels first).
  Tensor encode_moments(const Tensor& x) const {
    Tensor h = conv("encoder.conv_in", x, 1);
    const int64_t levels = cfg_.num_levels();
    for (int64_t i = 0; i < levels; ++i) {
      const std::string p = "encoder.down_blocks." + std::to_string(i) + ".";
      for (int64_t j = 0; j < cfg_.layers_per_block; ++j) h = resnet(p + "resnets." + std::to_string(j) + ".", h);
      if (i + 1 < levels) {
        // F.pad(h, (0, 1, 0, 1)): one zero column on the right, one zero row at the bottom.
        const Tensor padded = ops::ref::pad(h, {0, 1, 0, 1}, 0.0f);
        h = ops::ref::conv2d_ref(padded, w(p + "downsamplers.0.conv.weight"), &w(p + "downsamplers.0.conv.bias"),
                                 ops::Conv2dOptions::symmetric(2, 0));
      }
    }
    h = mid_block("encoder.mid_block.", h);
    h = norm("encoder.conv_norm_out", h, true);
    h = conv("encoder.conv_out", h, 1);
    return cfg_.use_quant_conv ? conv("quant_conv", h, 0) : h;
  }

 private:
  const Tensor& w(const std::string& name) const {
    auto it = w_.find(name);
    if (it == w_.end()) throw std::runtime_error("reference: no weight " + name);
    return it->second;
  }
  bool has(const std::string& name) const { return w_.count(name) > 0; }

  Tensor conv(const std::string& name, const Tensor& x, int64_t padding) const {
    return ops::ref::conv2d_ref(x, w(name + ".weight"), &w(name + ".bias"), ops::Conv2dOptions::symmetric(1, padding));
  }
  Tensor norm(const std::string& name, const Tensor& x, bool silu) const {
    return ops::ref::group_norm(x, cfg_.norm_num_groups, &w(name + ".weight"), &w(name + ".bias"), 1e-6f, silu);
  }
  static Tensor sum(const Tensor& a, const Tensor& b) {
    return ops::ref::broadcast_map({a, b}, [](const std::vector<double>& v) { return v[0] + v[1]; });
  }

  Tensor resnet(const std::string& p, const Tensor& x) const {
    Tensor h = conv(p + "conv1", norm(p + "norm1", x, true), 1);
    h = conv(p + "conv2", norm(p + "norm2", h, true), 1);
    const Tensor shortcut = has(p + "conv_shortcut.weight") ? conv(p + "conv_shortcut", x, 0) : x;
    return sum(shortcut, h);
  }

  Tensor attention(const std::string& p, const Tensor& x) const {
    const int64_t b = x.dim(0), c = x.dim(1), hh = x.dim(2), ww = x.dim(3), s = hh * ww;
    const Tensor tokens = ops::ref::permute_copy(norm(p + "group_norm", x, false).reshape({b, c, s}), {0, 2, 1});
    const auto proj = [&](const std::string& name, const Tensor& t) {
      return ops::ref::linear_ref(t, w(p + name + ".weight"), &w(p + name + ".bias"));
    };
    const auto heads = [&](const Tensor& t) { return t.reshape({b, 1, s, c}); };  // one head of width C
    ops::AttentionOptions o;
    o.precision = ops::AttentionPrecision::F32;
    const Tensor attn = ops::ref::attention_ref(heads(proj("to_q", tokens)), heads(proj("to_k", tokens)),
                                                heads(proj("to_v", tokens)), o);
    const Tensor out = proj("to_out.0", attn.reshape({b, s, c}));
    return sum(ops::ref::permute_copy(out, {0, 2, 1}).reshape({b, c, hh, ww}), x);
  }

  Tensor mid_block(const std::string& p, const Tensor& x) const {
    Tensor h = resnet(p + "resnets.0.", x);
    if (cfg_.mid_block_add_attention) h = attention(p + "attentions.0.", h);
    return resnet(p + "resnets.1.", h);
  }

  models::AutoencoderKLConfig cfg_;
  std::map<std::string, Tensor> w_;
};

}  // namespace diffuse::testing
