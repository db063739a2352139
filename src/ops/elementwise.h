// Elementwise arithmetic on f32 tensors with NumPy / PyTorch broadcasting: shapes are aligned
// at the trailing dim and size-1 (or missing leading) dims stretch. Inputs may be any strided
// views; F32 is expected (BF16 / F16 operands are converted to f32 first). Results are new
// contiguous F32 tensors; *_inplace variants write into their first argument (a writable
// view whose shape is the broadcast shape), which the other operands must not overlap.
// Equal-shape, per-row ([.., C] + [C]) and per-channel ([N,C,H,W] * [C,1,1]) cases run as
// unit-stride or broadcast-scalar inner loops after adjacent dims are merged.
#pragma once

#include "tensor/tensor.h"

namespace diffuse::ops {

// The broadcast shape of a and b; throws naming both shapes if they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// Tensor (op) scalar: a + s, a - s, a * s, a / s (a true division, as torch does).
Tensor add(const Tensor& a, float s);
Tensor sub(const Tensor& a, float s);
Tensor mul(const Tensor& a, float s);
Tensor div(const Tensor& a, float s);

void add_inplace(Tensor& x, const Tensor& b);
void sub_inplace(Tensor& x, const Tensor& b);
void mul_inplace(Tensor& x, const Tensor& b);
void div_inplace(Tensor& x, const Tensor& b);
void add_inplace(Tensor& x, float s);
void mul_inplace(Tensor& x, float s);

// a * b + c (product rounded, then the sum), all three broadcast together.
Tensor mul_add(const Tensor& a, const Tensor& b, const Tensor& c);
// x += value * a * b, evaluated as x + (value * a) * b like torch.addcmul_ (value 1: x + a*b).
// E.g. the gated residual of a DiT block: addcmul_inplace(h, attn_out, gate[B,1,C]).
void addcmul_inplace(Tensor& x, const Tensor& a, const Tensor& b, float value = 1.0f);

// min(max(x, lo), hi); NaN stays NaN.
Tensor clamp(const Tensor& x, float lo, float hi);
void clamp_inplace(Tensor& x, float lo, float hi);

}  // namespace diffuse::ops
