// Layers of the 2-D KL-VAEs bound by reference name: Conv2d ("<name>.weight" [O, I, k, k],
// "<name>.bias" [O]) and GroupNorm ("<name>.weight" / "<name>.bias" [C]). In expected-only
// binding they record their names and hold no weights; forward then throws.
#pragma once

#include <optional>
#include <string>

#include "io/weight_binder.h"
#include "ops/conv.h"

namespace diffuse::models {

class Conv2dLayer {
 public:
  Conv2dLayer() = default;
  // A k x k convolution with bias; `options` gives stride and per-side padding.
  Conv2dLayer(io::WeightBinder& binder, const std::string& name, int64_t in_channels, int64_t out_channels,
              int64_t kernel, ops::Conv2dOptions options);

  int64_t in_channels() const { return in_; }
  int64_t out_channels() const { return out_; }
  // x [N, in, H, W] f32 -> [N, out, OH, OW] f32.
  Tensor forward(const Tensor& x) const;

 private:
  std::string name_;
  int64_t in_ = 0, out_ = 0;
  std::optional<ops::Conv2d> conv_;
};

class GroupNormLayer {
 public:
  GroupNormLayer() = default;
  GroupNormLayer(io::WeightBinder& binder, const std::string& name, int64_t channels, int64_t groups, float eps);

  // x [N, C, ...] contiguous f32; `silu` applies SiLU in the same pass (norm -> act pairs).
  Tensor forward(const Tensor& x, bool silu) const;

 private:
  std::string name_;
  int64_t groups_ = 1;
  float eps_ = 0;
  Tensor weight_, bias_;  // f32 copies (a few KB)
};

}  // namespace diffuse::models
