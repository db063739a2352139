#include "models/vae/vae_blocks.h"

#include <string>

#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/shape.h"
#include "ops/upsample.h"

namespace diffuse::models {

namespace {

const ops::Conv2dOptions kSame3x3 = ops::Conv2dOptions::symmetric(1, 1);
const ops::Conv2dOptions kPointwise = ops::Conv2dOptions::symmetric(1, 0);

std::vector<ResnetBlock2D> make_resnets(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels,
                                        int64_t layers, int64_t groups, float eps) {
  io::WeightBinder scope = binder.scope("resnets");
  std::vector<ResnetBlock2D> resnets;
  resnets.reserve(static_cast<size_t>(layers));
  for (int64_t i = 0; i < layers; ++i) {
    io::WeightBinder b = scope.scope(std::to_string(i));
    resnets.emplace_back(b, i == 0 ? in_channels : out_channels, out_channels, groups, eps);
  }
  return resnets;
}

Tensor run_resnets(const std::vector<ResnetBlock2D>& resnets, Tensor x) {
  for (const auto& r : resnets) x = r.forward(std::move(x));
  return x;
}

}  // namespace

ResnetBlock2D::ResnetBlock2D(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels,
                             int64_t groups, float eps)
    : norm1_(binder, "norm1", in_channels, groups, eps),
      norm2_(binder, "norm2", out_channels, groups, eps),
      conv1_(binder, "conv1", in_channels, out_channels, 3, kSame3x3),
      conv2_(binder, "conv2", out_channels, out_channels, 3, kSame3x3) {
  if (in_channels != out_channels) conv_shortcut_.emplace(binder, "conv_shortcut", in_channels, out_channels, 1, kPointwise);
}

Tensor ResnetBlock2D::forward(Tensor x) const {
  Tensor h = norm1_.forward(x, /*silu=*/true);
  // The residual is formed before conv1 so that x can be released first: at full resolution
  // this keeps one activation fewer alive during the convolutions.
  Tensor residual = conv_shortcut_ ? conv_shortcut_->forward(x) : std::move(x);
  x = Tensor();
  h = conv1_.forward(h);
  h = norm2_.forward(h, /*silu=*/true);
  h = conv2_.forward(h);
  ops::add_inplace(h, residual);
  return h;
}

SpatialSelfAttention::SpatialSelfAttention(io::WeightBinder& binder, int64_t channels, int64_t groups, float eps,
                                           const ModelOptions& options)
    : channels_(channels),
      bf16_(options.precision == Precision::BF16),
      group_norm_(binder, "group_norm", channels, groups, eps),
      to_q_(binder, "to_q", channels, channels, true, options),
      to_k_(binder, "to_k", channels, channels, true, options),
      to_v_(binder, "to_v", channels, channels, true, options),
      to_out_(binder, "to_out.0", channels, channels, true, options) {}

Tensor SpatialSelfAttention::forward(const Tensor& x) const {
  DIFFUSE_CHECK(x.ndim() == 4 && x.dim(1) == channels_, "mid-block attention: input ", shape_str(x.shape()),
                " is not [B, ", channels_, ", H, W]");
  const int64_t b = x.dim(0), c = channels_, h = x.dim(2), w = x.dim(3), s = h * w;
  // Tokens are the H*W positions with their C channels: [B, C, S] -> [B, S, C].
  Tensor tokens = ops::permute_copy(group_norm_.forward(x, false).reshape({b, c, s}), {0, 2, 1});
  const Tensor q = to_q_.forward(tokens), k = to_k_.forward(tokens), v = to_v_.forward(tokens);
  tokens = Tensor();
  const auto heads = [&](const Tensor& t) { return t.reshape({b, s, 1, c}).permute({0, 2, 1, 3}); };
  ops::AttentionOptions ao;
  ao.precision = bf16_ ? ops::AttentionPrecision::BF16 : ops::AttentionPrecision::F32;
  const Tensor attn = ops::attention(heads(q), heads(k), heads(v), ao);  // [B, S, 1, C]
  const Tensor projected = to_out_.forward(attn.reshape({b, s, c}));
  Tensor out = ops::permute_copy(projected, {0, 2, 1});  // back to [B, C, S]
  ops::add_inplace(out, x.reshape({b, c, s}));
  return out.reshape({b, c, h, w});
}

UNetMidBlock2D::UNetMidBlock2D(io::WeightBinder& binder, int64_t channels, int64_t groups, float eps,
                               bool add_attention, const ModelOptions& options)
    : resnets_(make_resnets(binder, channels, channels, 2, groups, eps)) {
  if (add_attention) {
    io::WeightBinder attn = binder.scope("attentions.0");
    attention_.emplace(attn, channels, groups, eps, options);
  }
}

Tensor UNetMidBlock2D::forward(Tensor x) const {
  x = resnets_[0].forward(std::move(x));
  if (attention_) x = attention_->forward(x);
  return resnets_[1].forward(std::move(x));
}

DownEncoderBlock2D::DownEncoderBlock2D(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels,
                                       int64_t layers, bool add_downsample, int64_t groups, float eps)
    : resnets_(make_resnets(binder, in_channels, out_channels, layers, groups, eps)) {
  if (add_downsample) {
    // torch pads (left 0, right 1, top 0, bottom 1) before a padding-0 stride-2 conv.
    ops::Conv2dOptions o;
    o.stride_h = o.stride_w = 2;
    o.pad_bottom = o.pad_right = 1;
    io::WeightBinder down = binder.scope("downsamplers.0");
    downsample_.emplace(down, "conv", out_channels, out_channels, 3, o);
  }
}

Tensor DownEncoderBlock2D::forward(Tensor x) const {
  x = run_resnets(resnets_, std::move(x));
  if (downsample_) x = downsample_->forward(x);
  return x;
}

UpDecoderBlock2D::UpDecoderBlock2D(io::WeightBinder& binder, int64_t in_channels, int64_t out_channels,
                                   int64_t layers, bool add_upsample, int64_t groups, float eps)
    : resnets_(make_resnets(binder, in_channels, out_channels, layers, groups, eps)) {
  if (add_upsample) {
    io::WeightBinder up = binder.scope("upsamplers.0");
    upsample_.emplace(up, "conv", out_channels, out_channels, 3, kSame3x3);
  }
}

Tensor UpDecoderBlock2D::forward(Tensor x) const {
  x = run_resnets(resnets_, std::move(x));
  if (upsample_) {
    x = ops::upsample_nearest2d(x, 2);
    x = upsample_->forward(x);
  }
  return x;
}

}  // namespace diffuse::models
