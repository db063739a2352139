// A Linear module bound by reference name: takes "<name>.weight" [out, in] and optionally
// "<name>.bias" [out] from the binder, and runs through ops::Linear at the model's
// precision. In expected-only binding it records the names and holds no kernel.
#pragma once

#include <optional>
#include <string>

#include "io/weight_binder.h"
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

  Tensor forward(const Tensor& x, const ops::Epilogue& e = {}) const;
  void forward_into(const Tensor& x, Tensor& out, const ops::Epilogue& e = {}) const;

 private:
  const ops::Linear& kernel() const;

  std::string name_;
  int64_t in_ = 0, out_ = 0;
  std::optional<ops::Linear> linear_;
};

}  // namespace diffuse::models
