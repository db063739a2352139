// How a model is instantiated: the compute precision of its GEMMs / attention, and
// whether weights are prepacked. Activations, norms, softmax, RoPE and timestep
// embeddings are always f32 (DESIGN.md precision policy).
#pragma once

#include "ops/quantized_weight.h"
#include "tensor/tensor.h"

namespace diffuse::models {

enum class Precision {
  F32,   // f32 GEMMs: bf16-stored weights are upcast once at load (for fp32 parity runs)
  BF16,  // bf16 x bf16 -> f32 GEMMs: bf16 weights used as mapped; f32-stored weights rounded once
};

struct ModelOptions {
  Precision precision = Precision::BF16;
  bool prepack = true;  // reorder GEMM weights once into the kernel's blocked layout
  // Linear weights stored as float are quantized at load (int8 per output channel, or 4-bit
  // group-64 affine; layers whose in_features is not a multiple of 64 keep float weights under
  // Q4). Weights a checkpoint already stores quantized are used as stored whatever this says,
  // except that W8A8 also runs stored int8 weights on the int8 x int8 GEMM. W8A8 quantizes
  // weights to int8 per channel and activations per token (ops/w8a8_linear.h); layers with
  // in_features < ops::kW8A8MinInFeatures stay bf16.
  ops::QuantMode quantization = ops::QuantMode::None;
};

// The weight as the GEMMs of `precision` consume it: a view when the stored dtype already
// matches, else a converted owned copy. Undefined stays undefined (expected-only binding).
Tensor gemm_weight(const Tensor& stored, Precision precision);

// A small parameter (norm scale, bias, embedding table) as an owned f32 tensor.
Tensor f32_param(const Tensor& stored);

}  // namespace diffuse::models
