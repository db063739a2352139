// Normalizations over f32 activations: LayerNorm, GroupNorm, RMSNorm (three reference
// flavours), and the fused adaLN pre-norm `LN(x) * (1 + scale) + shift` every DiT block uses.
// Weights and biases may be F32, BF16 or F16 (views into mapped checkpoints; read, never written).
// Statistics are accumulated in double and normalization uses (x - mean) * rstd, so hidden
// states far from zero mean (DiT streams reach 1e7) lose no precision.
#pragma once

#include <cstdint>
#include <optional>

#include "tensor/tensor.h"

namespace diffuse::ops {

// LayerNorm over the last dim of a contiguous f32 x [..., C]: (x - mean) / sqrt(var + eps)
// (biased variance), then * weight + bias when given ([C]; either may be null).
Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps);

// adaLN: LayerNorm without affine over x [B, S, C] (contiguous f32), then * (1 + scale) + shift.
// shift / scale: f32, [B, C], [B, 1, C] or [B, S, C] (per-token modulation), any strides with a
// contiguous last dim (e.g. chunks of one [B, 6C] modulation output). Either may be null
// (no shift: Nucleus / Z-Image; no scale: identity). Rounding matches the reference
// `norm(x) * (1 + scale) + shift`: (1 + scale) is formed in f32 first. `out_dtype` BF16 rounds
// the f32 result once as it is stored (a GEMM input written in its own dtype, no f32 copy).
Tensor layer_norm_modulate(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps,
                           DType out_dtype = DType::F32);

// GroupNorm over x [N, C, *spatial] (contiguous f32): statistics per (n, group) over
// C/groups channels x spatial, then per-channel weight / bias ([C]; null = no affine).
// `fuse_silu` applies SiLU to the result in the same pass (VAE ResNet blocks: norm -> SiLU).
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor* weight, const Tensor* bias,
                  float eps, bool fuse_silu = false);

// The three RMSNorm implementations found in reference code. All compute
// r = rsqrt(mean(x^2) + eps) in fp32 and y = x * r; they differ in where they round:
enum class RmsNormFlavor {
  // diffusers.models.normalization.RMSNorm: if the weight is bf16/f16, y is cast to the weight
  // dtype and multiplied in it (output in the weight dtype); f32 weight: y * weight in fp32;
  // no weight: y cast to the input dtype.
  Diffusers,
  // torch.nn.RMSNorm / F.rms_norm (PyTorch >= 2.6 composite): y * weight in fp32 (weight
  // upcast), one cast to the input dtype at the end. eps = nullopt means FLT_EPSILON.
  Torch,
  // transformers LLM RMSNorm (Llama, Qwen2/3, Mistral): y cast to the input dtype, then
  // weight * y in the promoted dtype of (weight, input).
  HfLlm,
};

struct RmsNormOptions {
  RmsNormFlavor flavor = RmsNormFlavor::Diffusers;
  // nullopt: torch.nn.RMSNorm(eps=None), i.e. float32 machine epsilon 1.1920929e-07.
  std::optional<float> eps = 1e-6f;
  // The dtypes the reference module computed in; they decide where the flavours round.
  // Our activations are always f32, so the input dtype defaults to F32 (set BF16 to emulate a
  // reference whose hidden stream is bf16). The weight dtype defaults to the weight's storage
  // dtype; set F32 when the reference upcast the weights (fixtures computed in f32 from
  // bf16-rounded weights). Results are returned as F32 holding the rounded values.
  DType reference_input_dtype = DType::F32;
  std::optional<DType> reference_weight_dtype;
};

// RMSNorm over the last dim of x (f32, any strides with a contiguous last dim); weight [D] or
// null. Returns a new contiguous tensor.
Tensor rms_norm(const Tensor& x, const Tensor* weight, const RmsNormOptions& options);

// In place over the last dim of a writable f32 view with a contiguous last dim: e.g. per-head
// QK-norm on q.reshape({B, S, H, D}) with a [D] weight, or on a strided column slice of a
// fused QKV buffer.
void rms_norm_inplace(Tensor& x, const Tensor* weight, const RmsNormOptions& options);

// RMS normalization across the channels of each position of x [N, C, *spatial] (contiguous
// f32), the norm of the Wan / Qwen-Image causal VAE (F.normalize over dim 1, then the
// module's scale): y = x / max(||x[n, :, p]||_2, 1e-12) * sqrt(C) * gamma[c] + bias[c].
// gamma and bias are [C] (any float dtype) or null; `fuse_silu` applies SiLU in the same pass.
// The squared norms are accumulated in double.
Tensor channel_rms_norm(const Tensor& x, const Tensor* gamma, const Tensor* bias, bool fuse_silu = false);

}  // namespace diffuse::ops
