#include "models/common/linear_layer.h"

namespace diffuse::models {

LinearLayer::LinearLayer(io::WeightBinder& binder, const std::string& name, int64_t in_features,
                         int64_t out_features, bool bias, const ModelOptions& options)
    : name_(binder.prefix() + name), in_(in_features), out_(out_features) {
  const Tensor w = binder.take(name + ".weight", {out_features, in_features});
  const Tensor b = bias ? binder.take(name + ".bias", {out_features}) : Tensor();
  if (!w.defined() || (bias && !b.defined())) return;  // expected-only or missing: no kernel
  ops::LinearOptions lo;
  lo.prepack = options.prepack;
  linear_.emplace(gemm_weight(w, options.precision), bias ? &b : nullptr, lo);
}

const ops::Linear& LinearLayer::kernel() const {
  DIFFUSE_CHECK(linear_.has_value(), "linear layer '", name_, "' has no weights loaded");
  return *linear_;
}

Tensor LinearLayer::forward(const Tensor& x, const ops::Epilogue& e) const { return kernel().forward(x, e); }

void LinearLayer::forward_into(const Tensor& x, Tensor& out, const ops::Epilogue& e) const {
  kernel().forward_into(x, out, e);
}

}  // namespace diffuse::models
