// Scaled dot-product attention, fused and tiled (flash-attention style): for each
// (batch, head, block of queries) the kernel walks the keys in blocks, keeping a running
// row max and row sum (online softmax) and rescaling its output accumulator, so the
// Sq x Sk score matrix is never materialized.
//
// Kernels (picked at run time): bf16 on AMX tiles when the CPU has them; otherwise a tiled
// f32 kernel, hand-vectorized for AVX-512 or with portable 4-wide vectors. bf16 mode on the
// f32 kernels rounds q, k, v to bf16 first, so every kernel computes the same products.
//
// Each call first converts q, k, v once into kernel-friendly layouts, in scratch memory that
// the calling thread keeps for later calls (about (B*Hq*Sq + 2*B*Hkv*Sk) * D * 2 bytes for
// bf16, twice that for f32: 85 MB for bf16 at S = 4608, 24 heads, D = 128).
#pragma once

#include <optional>

#include "tensor/tensor.h"

namespace diffuse::ops {

enum class AttentionPrecision {
  F32,   // f32 products and accumulation (parity runs)
  BF16,  // q, k, v rounded to bf16; QK^T and PV products in bf16 with f32 accumulation;
         // softmax in f32 (the probabilities are rounded to bf16 for the PV product)
};

// Which kernel runs; Auto picks the fastest the CPU supports. The others exist for tests and
// benchmarks and throw when the CPU (or precision) cannot run them.
enum class AttentionKernel { Auto, Portable, Avx512, Amx };

struct AttentionOptions {
  std::optional<float> scale{};  // default 1 / sqrt(D)
  // [B, Sk] Bool, U8 or I64; nonzero = the key may be attended.
  Tensor key_mask{};
  // F32, broadcastable to [B, Hq, Sq, Sk] (right-aligned; size-1 dims broadcast), added to the
  // scaled scores before the softmax (-inf allowed).
  Tensor additive{};
  AttentionPrecision precision = AttentionPrecision::BF16;
  AttentionKernel kernel = AttentionKernel::Auto;
};

// q [B, Hq, Sq, D], k and v [B, Hkv, Sk, D]: f32 or bf16 views with any strides on B, H, S and
// unit stride on D (e.g. [B, S, H*D] projections viewed as reshape({B,S,H,D}).permute({0,2,1,3})).
// Hq must be a multiple of Hkv (grouped-query attention: query head h reads kv head
// h / (Hq / Hkv)). Returns contiguous [B, Sq, Hq, D] f32, token-major so that
// .reshape({B, Sq, Hq * D}) feeds the output projection.
// A query row whose keys are all masked out (key_mask and/or -inf additive terms) outputs 0.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options = {});

// The same, written into `out` [B, Sq, Hq, D]: F32, or BF16 (each row rounded once, nearest even:
// the output projection's input written directly), any strides with a unit-stride D, e.g. the
// leading channels of a wider [B, Sq, C] buffer viewed as heads. Must not overlap q, k or v.
void attention_into(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
                    const AttentionOptions& options = {});

// The kernel Auto resolves to for a precision on this CPU (for logs and benchmarks).
AttentionKernel attention_auto_kernel(AttentionPrecision precision);
const char* attention_kernel_name(AttentionKernel kernel);

}  // namespace diffuse::ops
