// Plain reference implementations of activations, gated activations and softmax for tests:
// exact math in double (libm erf / tanh / exp), any input layout.
#pragma once

#include "ops/activation.h"
#include "tensor/tensor.h"

namespace diffuse::ops::ref {

double activation(double x, Activation act);
Tensor activation(const Tensor& x, Activation act);
Tensor gated(const Tensor& x, Activation act, GatedHalves halves);
Tensor gated(Activation act, const Tensor& gate, const Tensor& up);

// Softmax / log-softmax over the last dim in double; all -inf rows give 0 / -inf (the
// documented convention of ops/softmax.h).
Tensor softmax(const Tensor& x);
Tensor log_softmax(const Tensor& x);

}  // namespace diffuse::ops::ref
