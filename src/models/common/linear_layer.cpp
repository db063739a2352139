#include "models/common/linear_layer.h"

#include <atomic>

#include "runtime/profiler.h"

namespace diffuse::models {

namespace {

std::atomic<size_t> stored_quantized{0}, quantized_at_load{0}, kept_float{0};

}  // namespace

LinearLayer::LinearLayer(io::WeightBinder& binder, const std::string& name, int64_t in_features,
                         int64_t out_features, bool bias, const ModelOptions& options)
    : name_(binder.prefix() + name),
      in_(in_features),
      out_(out_features),
      kind_(linear_kind_from_name(name_)),
      scope_name_(linear_kind_scope_name(kind_)) {
  const std::string weight_name = name + ".weight";
  io::WeightBinder::LinearWeight w = binder.take_linear_weight(weight_name, {out_features, in_features});
  const Tensor b = bias ? binder.take(name + ".bias", {out_features}) : Tensor();
  if (!w.defined() || (bias && !b.defined())) return;  // expected-only or missing: no kernel
  ops::LinearOptions lo;
  lo.prepack = options.prepack;
  const DType compute = options.precision == Precision::F32 ? DType::F32 : DType::BF16;
  // W8A8 runs int8 per-channel weights (stored so, or quantized below) on the int8 x int8 GEMM;
  // affine weights and layers with K < kW8A8MinInFeatures keep their float GEMM.
  const bool w8a8 = options.quantization == ops::QuantMode::W8A8 && in_features >= ops::kW8A8MinInFeatures;
  if (w.quantized) {
    const bool int8 = w.quantized->format == ops::QuantFormat::Int8PerChannel;
    linear_.emplace(std::move(*w.quantized), bias ? &b : nullptr, w8a8 && int8 ? DType::I8 : compute, lo);
    ++stored_quantized;
    return;
  }
  if (options.quantization != ops::QuantMode::None) {
    if (ops::quantizable(w.weight.shape(), options.quantization)) {
      linear_.emplace(ops::quantize(w.weight, options.quantization), bias ? &b : nullptr, w8a8 ? DType::I8 : compute,
                      lo);
      w.weight = Tensor();
      binder.release(weight_name);
      ++quantized_at_load;
      return;
    }
    ++kept_float;
  }
  linear_.emplace(gemm_weight(w.weight, options.precision), bias ? &b : nullptr, lo);
}

const ops::QuantizedWeight* LinearLayer::quantized_weight() const {
  return linear_ ? linear_->quantized_weight() : nullptr;
}

LinearLayer::QuantizationCounts LinearLayer::quantization_counts() {
  return {stored_quantized.load(), quantized_at_load.load(), kept_float.load()};
}

const ops::Linear& LinearLayer::kernel() const {
  DIFFUSE_CHECK(linear_.has_value(), "linear layer '", name_, "' has no weights loaded");
  return *linear_;
}

Tensor LinearLayer::forward(const Tensor& x, const ops::Epilogue& e) const {
  ProfileScope scope(scope_name_);
  return kernel().forward(x, e);
}

void LinearLayer::forward_into(const Tensor& x, Tensor& out, const ops::Epilogue& e) const {
  ProfileScope scope(scope_name_);
  kernel().forward_into(x, out, e);
}

}  // namespace diffuse::models
