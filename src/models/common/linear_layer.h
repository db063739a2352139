// A Linear module bound by reference name: takes "<name>.weight" [out, in] and optionally
// "<name>.bias" [out] from the binder, and runs through ops::Linear at the model's
// precision. In expected-only binding it records the names and holds no kernel.
//
// The weight may be stored quantized (io/quantized_tensors.h), and ModelOptions::quantization
// quantizes a float one at load; then the float weight's pages are released from the mapping,
// so the resident weight is the quantized one.
//
// Its kind (qkv, out-proj, FFN up/down, modulation, other) is decided once from the full module
// name (models/common/linear_kind.h); forward passes are profiled under that kind.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "io/weight_binder.h"
#include "models/common/linear_kind.h"
#include "models/common/model_options.h"
#include "ops/linear.h"

namespace diffuse::models {

class LinearLayer {
 public:
  LinearLayer() = default;
  LinearLayer(io::WeightBinder& binder, const std::string& name, int64_t in_features,
              int64_t out_features, bool bias, const ModelOptions& options);

  bool loaded() const { return linear_.has_value(); }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  LinearKind kind() const { return kind_; }

  Tensor forward(const Tensor& x, const ops::Epilogue& e = {}) const;
  void forward_into(const Tensor& x, Tensor& out, const ops::Epilogue& e = {}) const;

  // The layer's quantized weight, or nullptr when it runs a float weight (or is not loaded).
  const ops::QuantizedWeight* quantized_weight() const;

  // Process-wide counts of loaded layers by how their weight ended up, for load-time reports
  // (take a difference around a model's construction).
  struct QuantizationCounts {
    size_t stored_quantized = 0;  // quantized in the checkpoint
    size_t quantized_at_load = 0;  // float in the checkpoint, quantized by ModelOptions::quantization
    size_t kept_float = 0;         // asked to quantize but not quantizable (in_features vs group size)
  };
  static QuantizationCounts quantization_counts();

 private:
  const ops::Linear& kernel() const;

  std::string name_;
  int64_t in_ = 0, out_ = 0;
  LinearKind kind_ = LinearKind::Other;
  const char* scope_name_ = linear_kind_scope_name(LinearKind::Other);  // of kind_, looked up once
  std::optional<ops::Linear> linear_;
};

}  // namespace diffuse::models
