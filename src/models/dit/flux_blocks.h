// The FLUX.1 transformer blocks, shared by FLUX.1 and Chroma (and the MMDiT pattern that
// Qwen-Image reuses): the double-stream block (separate text / image weights, one joint
// attention over [text, image]) and the single-stream block (one weight set over the joint
// sequence, attention and MLP in parallel). Names follow diffusers' FluxTransformerBlock /
// FluxSingleTransformerBlock (ChromaTransformerBlock / ChromaSingleTransformerBlock are the same
// modules without the per-block adaLN linears).
//
// Data layout: activations are f32 [B, S, D] with D = heads * head_dim. q / k / v are produced
// once per block into [B, L, D] buffers (L = T + N, text first); QK-norm and RoPE run in place on
// [B, L, H, Dh] views of them and attention reads them as permuted views, so nothing is copied
// between the projections and the attention kernel.
#pragma once

#include <optional>
#include <string>

#include "io/weight_binder.h"
#include "models/common/linear_layer.h"
#include "models/common/model_options.h"
#include "ops/rope.h"
#include "tensor/tensor.h"

namespace diffuse::models {

// The modulation vectors of one adaLN-Zero stream (diffusers chunk order): each [B, D], any batch
// stride, contiguous last dim (views into a modulation output; never copied).
struct AdaLnZeroModulation {
  Tensor shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp;
  // rows: [B, 6, D] (e.g. `linear(silu(temb)).reshape({B, 6, D})` or six rows of Chroma's
  // approximator output), in the order above.
  static AdaLnZeroModulation from_rows(const Tensor& rows);
};

// The single-stream block's (shift, scale, gate), each [B, D].
struct AdaLnZeroSingleModulation {
  Tensor shift, scale, gate;
  static AdaLnZeroSingleModulation from_rows(const Tensor& rows);  // rows: [B, 3, D]
};

// What every block's attention shares within one forward pass.
struct JointAttentionContext {
  ops::RopeTables rope;  // cos / sin [L, head_dim] over cat(txt_ids, img_ids)
  // Optional masks over the joint sequence (text first):
  Tensor key_mask;       // [B, L] U8, nonzero = this key may be attended
  Tensor additive_mask;  // f32 broadcastable to [B, H, L, L], added to the logits
  Precision precision = Precision::BF16;
};

// cos / sin tables of FluxPosEmbed (theta 10000) for ids = cat(txt_ids, img_ids) ([T, A], [N, A]).
ops::RopeTables flux_rope_tables(const Tensor& txt_ids, const Tensor& img_ids,
                                 const std::vector<int64_t>& axes_dims);

struct FluxBlockDims {
  int64_t dim = 0;       // inner dim = heads * head_dim
  int64_t heads = 0;
  int64_t head_dim = 0;
  int64_t mlp_hidden = 0;  // int(dim * mlp_ratio), mlp_ratio 4
};

// The f32 activation matrix a Linear of `precision` consumes, converted once so that several
// projections of the same input (q, k, v, mlp) share one rounding pass: `x` itself in F32 mode,
// a bf16 copy in BF16 mode.
Tensor gemm_input(const Tensor& x, Precision precision);
// The dtype GEMM inputs take under `precision` (BF16 or F32).
DType gemm_dtype(Precision precision);

// QK-norm: torch.nn.RMSNorm(head_dim, eps 1e-6) with weight, over each head of a [B, S, H, Dh]
// f32 view, in place.
class QkNorm {
 public:
  QkNorm() = default;
  QkNorm(io::WeightBinder& binder, const std::string& name, int64_t head_dim);
  void apply(Tensor& heads) const;

 private:
  Tensor weight_;  // [head_dim] f32
};

// Where the double-stream block's models keep its modules: the same math under different names
// (diffusers FluxTransformerBlock / ChromaTransformerBlock vs QwenImageTransformerBlock).
struct DoubleBlockNames {
  // The per-stream adaLN linears (dim -> 6 dim) applied to SiLU(temb); empty = the block has none
  // and its modulation comes from elsewhere (Chroma's approximator).
  std::string image_modulation, text_modulation;
  // The per-stream FeedForward modules (".net.0.proj" dim -> 4 dim, ".net.2" 4 dim -> dim).
  std::string image_mlp, text_mlp;

  // FLUX: norm1.linear / norm1_context.linear (or none: Chroma), ff / ff_context.
  static DoubleBlockNames flux(bool adaln_linears);
  // Qwen-Image: img_mod.1 / txt_mod.1 (index 1 of nn.Sequential(SiLU, Linear)), img_mlp / txt_mlp.
  static DoubleBlockNames qwen_image();
};

// transformer_blocks.i (FluxTransformerBlock / ChromaTransformerBlock / QwenImageTransformerBlock):
// adaLN-Zero (shift, scale, gate) x 2 per stream, joint attention over [text, image], GELU-tanh
// MLPs, raw gates.
class FluxDoubleBlock {
 public:
  FluxDoubleBlock(io::WeightBinder& binder, const FluxBlockDims& dims, const DoubleBlockNames& names,
                  const ModelOptions& options);
  // `adaln_linears`: FLUX's norm1.linear / norm1_context.linear (dim -> 6 dim); Chroma has none.
  FluxDoubleBlock(io::WeightBinder& binder, const FluxBlockDims& dims, bool adaln_linears,
                  const ModelOptions& options)
      : FluxDoubleBlock(binder, dims, DoubleBlockNames::flux(adaln_linears), options) {}

  // The block's own adaLN linears of SiLU(temb) as [B, 6, D] rows (FLUX, Qwen-Image).
  Tensor image_modulation(const Tensor& silu_temb) const;
  Tensor text_modulation(const Tensor& silu_temb) const;

  // Updates ctx [B, T, D] and x [B, N, D] (contiguous f32) in place.
  void forward(Tensor& ctx, Tensor& x, const AdaLnZeroModulation& img, const AdaLnZeroModulation& txt,
               const JointAttentionContext& attn) const;

 private:
  FluxBlockDims dims_;
  Precision precision_;
  std::optional<LinearLayer> image_modulation_, text_modulation_;
  LinearLayer to_q_, to_k_, to_v_, add_q_proj_, add_k_proj_, add_v_proj_, to_out_, to_add_out_;
  QkNorm norm_q_, norm_k_, norm_added_q_, norm_added_k_;
  LinearLayer ff_in_, ff_out_, ff_context_in_, ff_context_out_;
};

// single_transformer_blocks.i (FluxSingleTransformerBlock / ChromaSingleTransformerBlock).
class FluxSingleBlock {
 public:
  // `adaln_linear`: FLUX's norm.linear (dim -> 3 dim); Chroma has none.
  FluxSingleBlock(io::WeightBinder& binder, const FluxBlockDims& dims, bool adaln_linear,
                  const ModelOptions& options);

  Tensor modulation(const Tensor& silu_temb) const;  // FLUX only: [B, 3, D]

  // Updates the joint stream h [B, T + N, D] (contiguous f32, text first) in place.
  void forward(Tensor& h, const AdaLnZeroSingleModulation& mod, const JointAttentionContext& attn) const;

 private:
  FluxBlockDims dims_;
  Precision precision_;
  std::optional<LinearLayer> norm_linear_;
  LinearLayer to_q_, to_k_, to_v_, proj_mlp_, proj_out_;
  QkNorm norm_q_, norm_k_;
};

}  // namespace diffuse::models
