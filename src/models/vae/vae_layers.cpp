#include "models/vae/vae_layers.h"

#include "models/common/model_options.h"
#include "ops/norm.h"

namespace diffuse::models {

Conv2dLayer::Conv2dLayer(io::WeightBinder& binder, const std::string& name, int64_t in_channels,
                         int64_t out_channels, int64_t kernel, ops::Conv2dOptions options)
    : name_(binder.prefix() + name), in_(in_channels), out_(out_channels) {
  const Tensor w = binder.take(name + ".weight", {out_channels, in_channels, kernel, kernel});
  const Tensor b = binder.take(name + ".bias", {out_channels});
  if (!w.defined() || !b.defined()) return;  // expected-only or missing: no kernel
  conv_.emplace(w, &b, options);
}

Tensor Conv2dLayer::forward(const Tensor& x) const {
  DIFFUSE_CHECK(conv_.has_value(), "conv layer '", name_, "' has no weights loaded");
  return conv_->forward(x);
}

GroupNormLayer::GroupNormLayer(io::WeightBinder& binder, const std::string& name, int64_t channels,
                               int64_t groups, float eps)
    : name_(binder.prefix() + name), groups_(groups), eps_(eps) {
  weight_ = f32_param(binder.take(name + ".weight", {channels}));
  bias_ = f32_param(binder.take(name + ".bias", {channels}));
}

Tensor GroupNormLayer::forward(const Tensor& x, bool silu) const {
  DIFFUSE_CHECK(weight_.defined() && bias_.defined(), "group norm '", name_, "' has no weights loaded");
  return ops::group_norm(x, groups_, &weight_, &bias_, eps_, silu);
}

}  // namespace diffuse::models
