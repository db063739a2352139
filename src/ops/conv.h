// 2-D convolution (NCHW activations, OIHW weights, dilation 1, groups 1) on oneDNN.
// Computed in f32: bf16/f16 weights are widened once at construction. Padding is given per
// side so that asymmetric cases (VAE downsampling pads (0,1,0,1)) need no separate pad op.
#pragma once

#include <memory>

#include "tensor/tensor.h"

namespace diffuse::ops {

struct Conv2dOptions {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;

  // Same stride and padding on every side.
  static Conv2dOptions symmetric(int64_t stride, int64_t padding) {
    return {stride, stride, padding, padding, padding, padding};
  }
};

class Conv2d {
 public:
  // weight [O, I, KH, KW] (f32, bf16 or f16), bias [O] or nullptr.
  Conv2d(const Tensor& weight, const Tensor* bias, Conv2dOptions options);
  ~Conv2d();
  Conv2d(Conv2d&&) noexcept;
  Conv2d& operator=(Conv2d&&) noexcept;

  int64_t in_channels() const;
  int64_t out_channels() const;

  // x [N, I, H, W] (f32, or bf16/f16 widened; any strides) -> [N, O, OH, OW] f32 contiguous.
  // Primitives (and oneDNN's blocked weight layout) are cached per input shape.
  Tensor forward(const Tensor& x) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-shot convolution (builds and discards a Conv2d).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, Conv2dOptions options);

}  // namespace diffuse::ops
