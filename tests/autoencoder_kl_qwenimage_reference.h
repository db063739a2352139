// A naive AutoencoderKLQwenImage forward for one frame, written from the reference module tree
// (diffusers autoencoder_kl_qwenimage.py) on top of the plain reference ops. Causal 3-D
// convolutions are computed as 3-D convolutions over the time-padded frame stack (2 * pad
// zero frames in front of the one real frame), so the engine's reduction to the last temporal
// kernel slice is checked, not assumed. Norms, 1x1 projections and attention accumulate in
// double. Weights are read by checkpoint name from a map; nothing is shared with the model code
// except the op references.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/vae/autoencoder_kl_qwenimage_config.h"
#include "ops/reference/attention_ref.h"
#include "ops/reference/conv_ref.h"
#include "ops/reference/eltwise_ref.h"

namespace diffuse::testing {

class AutoencoderKLQwenImageReference {
 public:
  AutoencoderKLQwenImageReference(const models::AutoencoderKLQwenImageConfig& cfg,
                                  std::map<std::string, Tensor> weights)
      : cfg_(cfg), w_(std::move(weights)) {}

  // z [B, z_dim, h, w] -> unclamped decoder output [B, 3, h * f, w * f].
  Tensor decode_unclamped(const Tensor& z) const {
    Tensor h = causal_conv("post_quant_conv", z);
    h = causal_conv("decoder.conv_in", h);
    h = mid_block("decoder.mid_block.", h);
    const int64_t levels = cfg_.num_levels();
    std::vector<bool> temporal(cfg_.temperal_downsample.rbegin(), cfg_.temperal_downsample.rend());
    for (int64_t i = 0; i < levels; ++i) {
      const std::string p = "decoder.up_blocks." + std::to_string(i) + ".";
      for (int64_t j = 0; j <= cfg_.num_res_blocks; ++j) h = resnet(p + "resnets." + std::to_string(j) + ".", h);
      if (i + 1 < levels) {
        // time_conv of an upsample3d is skipped on the first (only) chunk; it must exist though.
        if (temporal[static_cast<size_t>(i)]) w(p + "upsamplers.0.time_conv.weight");
        h = conv2d(p + "upsamplers.0.resample.1", ops::ref::upsample_nearest2d(h, 2), 1, 1);
      }
    }
    h = silu(rms_norm("decoder.norm_out", h));
    return causal_conv("decoder.conv_out", h);
  }

  // x [B, 3, H, W] -> moments [B, 2 * z_dim, H / f, W / f] after quant_conv.
  Tensor encode_moments(const Tensor& x) const {
    Tensor h = causal_conv("encoder.conv_in", x);
    int64_t index = 0;
    for (int64_t level = 0; level < cfg_.num_levels(); ++level) {
      for (int64_t r = 0; r < cfg_.num_res_blocks; ++r) {
        h = resnet("encoder.down_blocks." + std::to_string(index++) + ".", h);
      }
      if (level + 1 < cfg_.num_levels()) {
        const std::string p = "encoder.down_blocks." + std::to_string(index++) + ".";
        if (cfg_.temperal_downsample[static_cast<size_t>(level)]) w(p + "time_conv.weight");
        // ZeroPad2d((0, 1, 0, 1)): one zero column on the right, one zero row at the bottom.
        h = conv2d(p + "resample.1", ops::ref::pad(h, {0, 1, 0, 1}, 0.0f), 2, 0);
      }
    }
    h = mid_block("encoder.mid_block.", h);
    h = silu(rms_norm("encoder.norm_out", h));
    h = causal_conv("encoder.conv_out", h);
    return causal_conv("quant_conv", h);
  }

 private:
  const Tensor& w(const std::string& name) const {
    auto it = w_.find(name);
    if (it == w_.end()) throw std::runtime_error("reference: no weight " + name);
    return it->second;
  }
  bool has(const std::string& name) const { return w_.count(name) > 0; }

  // Causal Conv3d (cubic kernel k, padding p = (k - 1) / 2: H and W padded by p on both sides,
  // time by 2p in front) over the single frame x [B, I, H, W].
  Tensor causal_conv(const std::string& name, const Tensor& x_in) const {
    const Tensor x = x_in.contiguous();
    const Tensor& wt = w(name + ".weight");
    const std::vector<float> wv = wt.to_f32_vector(), bv = w(name + ".bias").to_f32_vector(), xv = x.to_f32_vector();
    const int64_t o = wt.dim(0), in = wt.dim(1), k = wt.dim(2), p = (k - 1) / 2;
    const int64_t b = x.dim(0), hh = x.dim(2), ww = x.dim(3), tp = 1 + 2 * p;
    // Time-padded input stack [B, I, tp, H, W]: zero frames, then the real frame last.
    std::vector<double> stack(static_cast<size_t>(b * in * tp * hh * ww), 0.0);
    for (int64_t n = 0; n < b; ++n)
      for (int64_t c = 0; c < in; ++c)
        for (int64_t i = 0; i < hh * ww; ++i)
          stack[static_cast<size_t>(((n * in + c) * tp + (tp - 1)) * hh * ww + i)] = xv[static_cast<size_t>((n * in + c) * hh * ww + i)];
    Tensor out = Tensor::zeros({b, o, hh, ww}, DType::F32);
    float* ov = out.data_mut<float>();
    for (int64_t n = 0; n < b; ++n)
      for (int64_t oc = 0; oc < o; ++oc)
        for (int64_t y = 0; y < hh; ++y)
          for (int64_t xx = 0; xx < ww; ++xx) {
            double acc = bv[static_cast<size_t>(oc)];
            for (int64_t c = 0; c < in; ++c)
              for (int64_t kt = 0; kt < k; ++kt)  // output frame 0 reads padded frames [0, k)
                for (int64_t ky = 0; ky < k; ++ky)
                  for (int64_t kx = 0; kx < k; ++kx) {
                    const int64_t sy = y + ky - p, sx = xx + kx - p;
                    if (sy < 0 || sy >= hh || sx < 0 || sx >= ww) continue;
                    acc += static_cast<double>(wv[static_cast<size_t>((((oc * in + c) * k + kt) * k + ky) * k + kx)]) *
                           stack[static_cast<size_t>((((n * in + c) * tp + kt) * hh + sy) * ww + sx)];
                  }
            ov[((n * o + oc) * hh + y) * ww + xx] = static_cast<float>(acc);
          }
    return out;
  }

  Tensor conv2d(const std::string& name, const Tensor& x, int64_t stride, int64_t padding) const {
    return ops::ref::conv2d_ref(x, w(name + ".weight"), &w(name + ".bias"), ops::Conv2dOptions::symmetric(stride, padding));
  }

  // F.normalize over channels * sqrt(C) * gamma (gamma [C, 1, 1(, 1)]).
  Tensor rms_norm(const std::string& name, const Tensor& x_in) const {
    const Tensor x = x_in.contiguous();
    const std::vector<float> g = w(name + ".gamma").to_f32_vector(), xv = x.to_f32_vector();
    const int64_t b = x.dim(0), c = x.dim(1), s = x.dim(2) * x.dim(3);
    Tensor out = Tensor::empty(x.shape(), DType::F32);
    float* ov = out.data_mut<float>();
    for (int64_t n = 0; n < b; ++n)
      for (int64_t i = 0; i < s; ++i) {
        double sq = 0;
        for (int64_t ch = 0; ch < c; ++ch) sq += std::pow(static_cast<double>(xv[static_cast<size_t>((n * c + ch) * s + i)]), 2);
        const double norm = std::max(std::sqrt(sq), 1e-12);
        for (int64_t ch = 0; ch < c; ++ch) {
          const size_t at = static_cast<size_t>((n * c + ch) * s + i);
          ov[at] = static_cast<float>(xv[at] / norm * std::sqrt(static_cast<double>(c)) * g[static_cast<size_t>(ch)]);
        }
      }
    return out;
  }

  static Tensor silu(const Tensor& x) {
    return ops::ref::broadcast_map({x}, [](const std::vector<double>& v) { return v[0] / (1.0 + std::exp(-v[0])); });
  }
  static Tensor sum(const Tensor& a, const Tensor& b) {
    return ops::ref::broadcast_map({a, b}, [](const std::vector<double>& v) { return v[0] + v[1]; });
  }

  Tensor resnet(const std::string& p, const Tensor& x) const {
    Tensor h = causal_conv(p + "conv1", silu(rms_norm(p + "norm1", x)));
    h = causal_conv(p + "conv2", silu(rms_norm(p + "norm2", h)));
    const Tensor shortcut = has(p + "conv_shortcut.weight") ? causal_conv(p + "conv_shortcut", x) : x;
    return sum(h, shortcut);
  }

  Tensor attention(const std::string& p, const Tensor& x) const {
    const int64_t b = x.dim(0), c = x.dim(1), hh = x.dim(2), ww = x.dim(3), s = hh * ww;
    // to_qkv as the 1x1 Conv2d it is, then [B, 3C, S] -> [B, S, 3C] split into q | k | v.
    const Tensor qkv = ops::ref::permute_copy(conv2d(p + "to_qkv", rms_norm(p + "norm", x), 1, 0).reshape({b, 3 * c, s}),
                                              {0, 2, 1});
    const auto part = [&](int64_t i) {
      return ops::ref::permute_copy(qkv.slice(2, i * c, (i + 1) * c), {0, 1, 2}).reshape({b, 1, s, c});
    };
    ops::AttentionOptions o;
    o.precision = ops::AttentionPrecision::F32;
    const Tensor attn = ops::ref::attention_ref(part(0), part(1), part(2), o);  // [B, S, 1, C]
    const Tensor image = ops::ref::permute_copy(attn.reshape({b, s, c}), {0, 2, 1}).reshape({b, c, hh, ww});
    return sum(conv2d(p + "proj", image, 1, 0), x);
  }

  Tensor mid_block(const std::string& p, const Tensor& x) const {
    Tensor h = resnet(p + "resnets.0.", x);
    h = attention(p + "attentions.0.", h);
    return resnet(p + "resnets.1.", h);
  }

  models::AutoencoderKLQwenImageConfig cfg_;
  std::map<std::string, Tensor> w_;
};

}  // namespace diffuse::testing
