// Pointwise activations on f32 tensors and the gated (GLU-family) MLP activations.
// Formulas follow PyTorch's (same association of operations); the transcendental parts use
// vectorizable approximations (ops/vec_math.h), a few ulp from libm.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace diffuse::ops {

enum class Activation {
  Identity,
  GeluErf,    // x * 0.5 * (1 + erf(x / sqrt(2)))           (F.gelu, nn.GELU())
  GeluTanh,   // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))  (approximate="tanh")
  Silu,       // x / (1 + exp(-x))
  QuickGelu,  // x * sigmoid(1.702 x)                        (CLIP "quick_gelu")
};

const char* activation_name(Activation a);

// Raw kernel: data[i] = act(data[i]) for n contiguous floats; for fusing into other passes.
void apply_activation(float* data, int64_t n, Activation act);

// The same for results that are rounded to bf16 next (a GEMM epilogue writing the next GEMM's
// bf16 input): on AVX-512 CPUs GELU (tanh) runs a faster form accurate to < 1e-5 relative, far
// below bf16's 2^-9 spacing; everything else runs apply_activation.
void apply_activation_for_bf16(float* data, int64_t n, Activation act);

// Out of place (x: f32, any strides; result contiguous) and in place (writable contiguous f32).
Tensor activation(const Tensor& x, Activation act);
void activation_inplace(Tensor& x, Activation act);

inline Tensor gelu_erf(const Tensor& x) { return activation(x, Activation::GeluErf); }
inline Tensor gelu_tanh(const Tensor& x) { return activation(x, Activation::GeluTanh); }
inline Tensor silu(const Tensor& x) { return activation(x, Activation::Silu); }
inline void gelu_erf_inplace(Tensor& x) { activation_inplace(x, Activation::GeluErf); }
inline void gelu_tanh_inplace(Tensor& x) { activation_inplace(x, Activation::GeluTanh); }
inline void silu_inplace(Tensor& x) { activation_inplace(x, Activation::Silu); }

// Which half of a fused [..., 2F] projection is passed through the activation.
enum class GatedHalves {
  // out = first * act(second): diffusers SwiGLU and GEGLU (`hidden, gate = chunk(2)`;
  // `hidden * act(gate)`), e.g. Nucleus dense MLP and shared expert.
  ValueGate,
  // out = act(first) * second: fused gate_up projections (Nucleus routed experts).
  GateUp,
};

// Gated activation of a fused projection x [..., 2F] (f32, contiguous last dim, any leading
// strides) -> contiguous [..., F].
Tensor gated(const Tensor& x, Activation act, GatedHalves halves);
inline Tensor swiglu(const Tensor& x, GatedHalves halves) { return gated(x, Activation::Silu, halves); }
inline Tensor geglu(const Tensor& x, GatedHalves halves) { return gated(x, Activation::GeluErf, halves); }

// Two-tensor form: act(gate) * up, both [..., F] f32 of the same shape (contiguous last dims):
// LLaMA-style MLPs (silu(gate_proj x) * up_proj x), T5 gated-GELU (gelu_tanh(wi_0 x) * wi_1 x),
// ERNIE (gelu_erf(gate_proj x) * up_proj x).
Tensor gated(Activation act, const Tensor& gate, const Tensor& up);

}  // namespace diffuse::ops
