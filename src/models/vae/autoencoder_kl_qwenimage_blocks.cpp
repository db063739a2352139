#include "models/vae/autoencoder_kl_qwenimage_blocks.h"

#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "ops/shape.h"
#include "ops/upsample.h"

namespace diffuse::models {

namespace {

std::vector<QwenImageResidualBlock> make_resnets(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels,
                                                 int64_t count) {
  io::WeightBinder scope = binder.scope("resnets");
  std::vector<QwenImageResidualBlock> resnets;
  resnets.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    io::WeightBinder b = scope.scope(std::to_string(i));
    resnets.emplace_back(b, i == 0 ? in_channels : out_channels, out_channels);
  }
  return resnets;
}

// A 1x1 Conv2d checkpoint weight [O, I, 1, 1] as the [O, I] GEMM weight of `precision`.
std::optional<ops::Linear> pointwise_linear(io::WeightBinder& binder, const std::string& name, int64_t in_channels,
                                            int64_t out_channels, const ModelOptions& options) {
  const Tensor w = binder.take(name + ".weight", {out_channels, in_channels, 1, 1});
  const Tensor b = binder.take(name + ".bias", {out_channels});
  if (!w.defined() || !b.defined()) return std::nullopt;
  ops::LinearOptions lo;
  lo.prepack = options.prepack;
  return ops::Linear(gemm_weight(w.reshape({out_channels, in_channels}), options.precision), &b, lo);
}

}  // namespace

CausalConv3dFrame::CausalConv3dFrame(io::WeightBinder& binder, const std::string& name, int64_t in_channels,
                                     int64_t out_channels, int64_t kernel)
    : name_(binder.prefix() + name) {
  const Tensor w = binder.take(name + ".weight", {out_channels, in_channels, kernel, kernel, kernel});
  const Tensor b = binder.take(name + ".bias", {out_channels});
  if (!w.defined() || !b.defined()) return;  // expected-only or missing: no kernel
  // Only the newest temporal tap sees the frame (the others see the causal zero padding);
  // Conv2d keeps its own f32 copy of this strided slice.
  conv_.emplace(w.select(2, kernel - 1), &b, ops::Conv2dOptions::symmetric(1, (kernel - 1) / 2));
}

Tensor CausalConv3dFrame::forward(const Tensor& x) const {
  DIFFUSE_CHECK(conv_.has_value(), "causal conv '", name_, "' has no weights loaded");
  return conv_->forward(x);
}

QwenImageRmsNorm::QwenImageRmsNorm(io::WeightBinder& binder, const std::string& name, int64_t channels, bool images)
    : name_(binder.prefix() + name) {
  const Shape shape = images ? Shape{channels, 1, 1} : Shape{channels, 1, 1, 1};
  const Tensor g = binder.take(name + ".gamma", shape);
  if (g.defined()) gamma_ = f32_param(g.reshape({channels}));
}

Tensor QwenImageRmsNorm::forward(const Tensor& x, bool silu) const {
  DIFFUSE_CHECK(gamma_.defined(), "RMS norm '", name_, "' has no weights loaded");
  return ops::channel_rms_norm(x, &gamma_, nullptr, silu);
}

QwenImageResidualBlock::QwenImageResidualBlock(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels)
    : norm1_(binder, "norm1", in_channels, /*images=*/false),
      norm2_(binder, "norm2", out_channels, /*images=*/false),
      conv1_(binder, "conv1", in_channels, out_channels, 3),
      conv2_(binder, "conv2", out_channels, out_channels, 3) {
  if (in_channels != out_channels) conv_shortcut_.emplace(binder, "conv_shortcut", in_channels, out_channels, 1);
}

Tensor QwenImageResidualBlock::forward(Tensor x) const {
  Tensor h = norm1_.forward(x, /*silu=*/true);
  // The residual is formed before conv1 so that x can be released first: one full-resolution
  // activation fewer stays alive during the convolutions.
  Tensor residual = conv_shortcut_ ? conv_shortcut_->forward(x) : std::move(x);
  x = Tensor();
  h = conv1_.forward(h);
  h = norm2_.forward(h, /*silu=*/true);
  h = conv2_.forward(h);
  ops::add_inplace(h, residual);
  return h;
}

QwenImageAttentionBlock::QwenImageAttentionBlock(io::WeightBinder& binder, int64_t channels,
                                                 const ModelOptions& options)
    : name_(binder.prefix()),
      channels_(channels),
      bf16_(options.precision == Precision::BF16),
      norm_(binder, "norm", channels, /*images=*/true),
      to_qkv_(pointwise_linear(binder, "to_qkv", channels, 3 * channels, options)),
      proj_(pointwise_linear(binder, "proj", channels, channels, options)) {}

Tensor QwenImageAttentionBlock::forward(const Tensor& x) const {
  DIFFUSE_CHECK(to_qkv_ && proj_, "attention block '", name_, "' has no weights loaded");
  DIFFUSE_CHECK(x.ndim() == 4 && x.dim(1) == channels_, "attention block '", name_, "': input ",
                shape_str(x.shape()), " is not [B, ", channels_, ", H, W]");
  const int64_t b = x.dim(0), c = channels_, h = x.dim(2), w = x.dim(3), s = h * w;
  // Tokens are the H*W positions with their C channels: [B, C, S] -> [B, S, C].
  Tensor tokens = ops::permute_copy(norm_.forward(x, /*silu=*/false).reshape({b, c, s}), {0, 2, 1});
  const Tensor qkv = to_qkv_->forward(tokens);  // [B, S, 3C]: q | k | v along channels
  tokens = Tensor();
  const auto part = [&](int64_t i) {
    return qkv.reshape({b, s, 3, c}).slice(2, i, i + 1).permute({0, 2, 1, 3});  // [B, 1, S, C] view
  };
  ops::AttentionOptions ao;
  ao.precision = bf16_ ? ops::AttentionPrecision::BF16 : ops::AttentionPrecision::F32;
  const Tensor attn = ops::attention(part(0), part(1), part(2), ao);  // [B, S, 1, C]
  const Tensor projected = proj_->forward(attn.reshape({b, s, c}));
  Tensor out = ops::permute_copy(projected, {0, 2, 1});  // back to [B, C, S]
  ops::add_inplace(out, x.reshape({b, c, s}));
  return out.reshape({b, c, h, w});
}

QwenImageMidBlock::QwenImageMidBlock(io::WeightBinder& binder, int64_t channels, const ModelOptions& options)
    : resnets_(make_resnets(binder, channels, channels, 2)), attention_([&] {
        io::WeightBinder b = binder.scope("attentions.0");
        return QwenImageAttentionBlock(b, channels, options);
      }()) {}

Tensor QwenImageMidBlock::forward(Tensor x) const {
  x = resnets_[0].forward(std::move(x));
  x = attention_.forward(x);
  return resnets_[1].forward(std::move(x));
}

namespace {

bool is_upsample(QwenImageResample::Mode m) {
  return m == QwenImageResample::Mode::Upsample2d || m == QwenImageResample::Mode::Upsample3d;
}

Conv2dLayer make_resample_conv(io::WeightBinder& binder, int64_t channels, QwenImageResample::Mode mode) {
  if (is_upsample(mode)) {
    return Conv2dLayer(binder, "resample.1", channels, channels / 2, 3, ops::Conv2dOptions::symmetric(1, 1));
  }
  // nn.ZeroPad2d((0, 1, 0, 1)) before a padding-0 stride-2 conv.
  ops::Conv2dOptions o;
  o.stride_h = o.stride_w = 2;
  o.pad_bottom = o.pad_right = 1;
  return Conv2dLayer(binder, "resample.1", channels, channels, 3, o);
}

}  // namespace

QwenImageResample::QwenImageResample(io::WeightBinder& binder, int64_t channels, Mode mode)
    : upsample_(is_upsample(mode)), resample_(make_resample_conv(binder, channels, mode)) {
  // Bound so that checkpoints load cleanly; unused for a single frame (see the header).
  if (mode == Mode::Upsample3d) {
    binder.take("time_conv.weight", {2 * channels, channels, 3, 1, 1});
    binder.take("time_conv.bias", {2 * channels});
  } else if (mode == Mode::Downsample3d) {
    binder.take("time_conv.weight", {channels, channels, 3, 1, 1});
    binder.take("time_conv.bias", {channels});
  }
}

Tensor QwenImageResample::forward(Tensor x) const {
  if (!upsample_) return resample_.forward(x);
  // nearest-exact with an integer factor picks source index dst / 2, like plain nearest.
  Tensor up = ops::upsample_nearest2d(x, 2);
  x = Tensor();
  return resample_.forward(up);
}

QwenImageUpBlock::QwenImageUpBlock(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels,
                                   int64_t num_res_blocks, std::optional<QwenImageResample::Mode> upsample)
    : resnets_(make_resnets(binder, in_channels, out_channels, num_res_blocks + 1)) {
  if (upsample) {
    io::WeightBinder b = binder.scope("upsamplers.0");
    upsampler_.emplace(b, out_channels, *upsample);
  }
}

Tensor QwenImageUpBlock::forward(Tensor x) const {
  for (const auto& r : resnets_) x = r.forward(std::move(x));
  if (upsampler_) x = upsampler_->forward(std::move(x));
  return x;
}

}  // namespace diffuse::models
