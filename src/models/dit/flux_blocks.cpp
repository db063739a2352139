#include "models/dit/flux_blocks.h"

#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/norm.h"
#include "ops/shape.h"
#include "runtime/parallel.h"
#include "tensor/half.h"

namespace diffuse::models {

namespace {

constexpr float kNormEps = 1e-6f;  // adaLN LayerNorms and QK RMSNorms of every FLUX block

// RoPE on q and k, then softmax(q k^T / sqrt(Dh) [+ mask]) v over the joint sequence, written
// into out4. q4, k4, v4: [B, L, H, Dh] views of the projection buffers; out4 a [B, L, H, Dh] view
// in the output projection's input dtype (the attention rounds each row into it once).
void joint_attention(Tensor& q4, Tensor& k4, const Tensor& v4, const JointAttentionContext& ctx, Tensor& out4) {
  ops::rope_interleaved_inplace(q4, ctx.rope.cos, ctx.rope.sin);
  ops::rope_interleaved_inplace(k4, ctx.rope.cos, ctx.rope.sin);
  ops::AttentionOptions o;
  o.key_mask = ctx.key_mask;
  o.additive = ctx.additive_mask;
  o.precision = ctx.precision == Precision::BF16 ? ops::AttentionPrecision::BF16 : ops::AttentionPrecision::F32;
  const std::vector<int> heads_first{0, 2, 1, 3};
  ops::attention_into(q4.permute(heads_first), k4.permute(heads_first), v4.permute(heads_first), out4, o);
}

// x += gate * ff_out(gelu_tanh(ff_in(LN(x) * (1 + scale) + shift))): the FeedForward half of a
// double-stream block for one stream.
void feed_forward(const LinearLayer& ff_in, const LinearLayer& ff_out, Tensor& x, const Tensor& shift,
                  const Tensor& scale, const Tensor& gate, Precision precision) {
  const Tensor n = ops::layer_norm_modulate(x, &shift, &scale, kNormEps, gemm_dtype(precision));
  // The hidden activations are written once, already in the next GEMM's input dtype.
  Shape hidden_shape = x.shape();
  hidden_shape.back() = ff_in.out_features();
  Tensor hidden = Tensor::empty(hidden_shape, gemm_dtype(precision));
  ff_in.forward_into(n, hidden, {.activation = ops::Activation::GeluTanh});
  ff_out.forward_into(hidden, x, {.gate = gate, .residual = x});
}

void check_stream(const Tensor& t, const char* what, int64_t dim) {
  DIFFUSE_CHECK(t.ndim() == 3 && t.dim(2) == dim && t.dtype() == DType::F32 && t.is_contiguous(),
                "FLUX block: ", what, " must be a contiguous f32 [B, S, ", dim, "] tensor, got ",
                shape_str(t.shape()), " ", dtype_name(t.dtype()));
}

}  // namespace

AdaLnZeroModulation AdaLnZeroModulation::from_rows(const Tensor& rows) {
  DIFFUSE_CHECK(rows.ndim() == 3 && rows.dim(1) == 6, "adaLN-Zero modulation must be [B, 6, D], got ",
                shape_str(rows.shape()));
  return {rows.select(1, 0), rows.select(1, 1), rows.select(1, 2),
          rows.select(1, 3), rows.select(1, 4), rows.select(1, 5)};
}

AdaLnZeroSingleModulation AdaLnZeroSingleModulation::from_rows(const Tensor& rows) {
  DIFFUSE_CHECK(rows.ndim() == 3 && rows.dim(1) == 3,
                "single-block adaLN-Zero modulation must be [B, 3, D], got ", shape_str(rows.shape()));
  return {rows.select(1, 0), rows.select(1, 1), rows.select(1, 2)};
}

ops::RopeTables flux_rope_tables(const Tensor& txt_ids, const Tensor& img_ids,
                                 const std::vector<int64_t>& axes_dims) {
  const int64_t axes = static_cast<int64_t>(axes_dims.size());
  DIFFUSE_CHECK(txt_ids.ndim() == 2 && txt_ids.dim(1) == axes && img_ids.ndim() == 2 && img_ids.dim(1) == axes,
                "FLUX position ids must be [T, ", axes, "] and [N, ", axes, "], got txt_ids ",
                shape_str(txt_ids.shape()), " and img_ids ", shape_str(img_ids.shape()));
  // FluxPosEmbed reads ids as float32 (ids.float()) whatever their stored dtype.
  const Tensor ids = ops::concat({txt_ids.to(DType::F32), img_ids.to(DType::F32)}, 0);
  return ops::rope_tables_multi_axis(ids, axes_dims, 10000.0);
}

DType gemm_dtype(Precision precision) { return precision == Precision::BF16 ? DType::BF16 : DType::F32; }

Tensor gemm_input(const Tensor& x, Precision precision) {
  if (precision == Precision::F32 || x.dtype() == DType::BF16) return x;
  if (x.dtype() != DType::F32 || !x.is_contiguous()) return x.to(DType::BF16);
  // Activations reach 100 MB at real sizes: round them on all threads.
  Tensor out = Tensor::empty(x.shape(), DType::BF16);
  const float* src = x.data<float>();
  uint16_t* dst = out.data_mut<uint16_t>();
  parallel_for(x.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    f32_to_bf16(src + begin, dst + begin, static_cast<size_t>(end - begin));
  });
  return out;
}

QkNorm::QkNorm(io::WeightBinder& binder, const std::string& name, int64_t head_dim)
    : weight_(f32_param(binder.take(name + ".weight", {head_dim}))) {}

void QkNorm::apply(Tensor& heads) const {
  ops::RmsNormOptions o;
  o.flavor = ops::RmsNormFlavor::Torch;
  o.eps = kNormEps;
  ops::rms_norm_inplace(heads, &weight_, o);
}

DoubleBlockNames DoubleBlockNames::flux(bool adaln_linears) {
  if (!adaln_linears) return {"", "", "ff", "ff_context"};
  return {"norm1.linear", "norm1_context.linear", "ff", "ff_context"};
}

DoubleBlockNames DoubleBlockNames::qwen_image() { return {"img_mod.1", "txt_mod.1", "img_mlp", "txt_mlp"}; }

FluxDoubleBlock::FluxDoubleBlock(io::WeightBinder& b, const FluxBlockDims& d, const DoubleBlockNames& names,
                                 const ModelOptions& o)
    : dims_(d), precision_(o.precision) {
  const int64_t dim = d.dim;
  DIFFUSE_CHECK(names.image_modulation.empty() == names.text_modulation.empty(),
                "double block: adaLN linears must be given for both streams or neither");
  if (!names.image_modulation.empty()) {
    image_modulation_.emplace(b, names.image_modulation, dim, 6 * dim, true, o);
    text_modulation_.emplace(b, names.text_modulation, dim, 6 * dim, true, o);
  }
  to_q_ = LinearLayer(b, "attn.to_q", dim, dim, true, o);
  to_k_ = LinearLayer(b, "attn.to_k", dim, dim, true, o);
  to_v_ = LinearLayer(b, "attn.to_v", dim, dim, true, o);
  norm_q_ = QkNorm(b, "attn.norm_q", d.head_dim);
  norm_k_ = QkNorm(b, "attn.norm_k", d.head_dim);
  add_q_proj_ = LinearLayer(b, "attn.add_q_proj", dim, dim, true, o);
  add_k_proj_ = LinearLayer(b, "attn.add_k_proj", dim, dim, true, o);
  add_v_proj_ = LinearLayer(b, "attn.add_v_proj", dim, dim, true, o);
  norm_added_q_ = QkNorm(b, "attn.norm_added_q", d.head_dim);
  norm_added_k_ = QkNorm(b, "attn.norm_added_k", d.head_dim);
  to_out_ = LinearLayer(b, "attn.to_out.0", dim, dim, true, o);
  to_add_out_ = LinearLayer(b, "attn.to_add_out", dim, dim, true, o);
  ff_in_ = LinearLayer(b, names.image_mlp + ".net.0.proj", dim, d.mlp_hidden, true, o);
  ff_out_ = LinearLayer(b, names.image_mlp + ".net.2", d.mlp_hidden, dim, true, o);
  ff_context_in_ = LinearLayer(b, names.text_mlp + ".net.0.proj", dim, d.mlp_hidden, true, o);
  ff_context_out_ = LinearLayer(b, names.text_mlp + ".net.2", d.mlp_hidden, dim, true, o);
}

Tensor FluxDoubleBlock::image_modulation(const Tensor& silu_temb) const {
  DIFFUSE_CHECK(image_modulation_, "double block: built without adaLN linears");
  return image_modulation_->forward(silu_temb).reshape({silu_temb.dim(0), 6, dims_.dim});
}

Tensor FluxDoubleBlock::text_modulation(const Tensor& silu_temb) const {
  DIFFUSE_CHECK(text_modulation_, "double block: built without adaLN linears");
  return text_modulation_->forward(silu_temb).reshape({silu_temb.dim(0), 6, dims_.dim});
}

void FluxDoubleBlock::forward(Tensor& ctx, Tensor& x, const AdaLnZeroModulation& img,
                              const AdaLnZeroModulation& txt, const JointAttentionContext& attn) const {
  check_stream(ctx, "encoder_hidden_states", dims_.dim);
  check_stream(x, "hidden_states", dims_.dim);
  DIFFUSE_CHECK(ctx.dim(0) == x.dim(0), "FLUX double block: batch ", ctx.dim(0), " (text) vs ", x.dim(0),
                " (image)");
  const int64_t batch = x.dim(0), txt_len = ctx.dim(1), len = txt_len + x.dim(1);

  // Joint q / k / v buffers, text rows first; each projection writes its rows in place.
  const Tensor nx = ops::layer_norm_modulate(x, &img.shift_msa, &img.scale_msa, kNormEps, gemm_dtype(precision_));
  const Tensor nc = ops::layer_norm_modulate(ctx, &txt.shift_msa, &txt.scale_msa, kNormEps, gemm_dtype(precision_));
  const Shape joint{batch, len, dims_.dim};
  Tensor q = Tensor::empty(joint, DType::F32), k = Tensor::empty(joint, DType::F32),
         v = Tensor::empty(joint, DType::F32);
  Tensor q_txt_rows = q.slice(1, 0, txt_len), k_txt_rows = k.slice(1, 0, txt_len),
         v_txt_rows = v.slice(1, 0, txt_len);
  Tensor q_img_rows = q.slice(1, txt_len, len), k_img_rows = k.slice(1, txt_len, len),
         v_img_rows = v.slice(1, txt_len, len);
  add_q_proj_.forward_into(nc, q_txt_rows);
  add_k_proj_.forward_into(nc, k_txt_rows);
  add_v_proj_.forward_into(nc, v_txt_rows);
  to_q_.forward_into(nx, q_img_rows);
  to_k_.forward_into(nx, k_img_rows);
  to_v_.forward_into(nx, v_img_rows);

  const Shape heads{batch, len, dims_.heads, dims_.head_dim};
  Tensor q4 = q.reshape(heads), k4 = k.reshape(heads);
  const Tensor v4 = v.reshape(heads);
  Tensor q_txt = q4.slice(1, 0, txt_len), k_txt = k4.slice(1, 0, txt_len);
  Tensor q_img = q4.slice(1, txt_len, len), k_img = k4.slice(1, txt_len, len);
  norm_added_q_.apply(q_txt);
  norm_added_k_.apply(k_txt);
  norm_q_.apply(q_img);
  norm_k_.apply(k_img);
  const Tensor a = Tensor::empty(joint, gemm_dtype(precision_));
  Tensor a4 = a.reshape(heads);
  joint_attention(q4, k4, v4, attn, a4);

  to_out_.forward_into(a.slice(1, txt_len, len), x, {.gate = img.gate_msa, .residual = x});
  to_add_out_.forward_into(a.slice(1, 0, txt_len), ctx, {.gate = txt.gate_msa, .residual = ctx});
  feed_forward(ff_in_, ff_out_, x, img.shift_mlp, img.scale_mlp, img.gate_mlp, precision_);
  feed_forward(ff_context_in_, ff_context_out_, ctx, txt.shift_mlp, txt.scale_mlp, txt.gate_mlp, precision_);
}

FluxSingleBlock::FluxSingleBlock(io::WeightBinder& b, const FluxBlockDims& d, bool adaln_linear,
                                 const ModelOptions& o)
    : dims_(d), precision_(o.precision) {
  const int64_t dim = d.dim;
  if (adaln_linear) norm_linear_.emplace(b, "norm.linear", dim, 3 * dim, true, o);
  proj_mlp_ = LinearLayer(b, "proj_mlp", dim, d.mlp_hidden, true, o);
  proj_out_ = LinearLayer(b, "proj_out", dim + d.mlp_hidden, dim, true, o);
  to_q_ = LinearLayer(b, "attn.to_q", dim, dim, true, o);
  to_k_ = LinearLayer(b, "attn.to_k", dim, dim, true, o);
  to_v_ = LinearLayer(b, "attn.to_v", dim, dim, true, o);
  norm_q_ = QkNorm(b, "attn.norm_q", d.head_dim);
  norm_k_ = QkNorm(b, "attn.norm_k", d.head_dim);
}

Tensor FluxSingleBlock::modulation(const Tensor& silu_temb) const {
  DIFFUSE_CHECK(norm_linear_, "FLUX single block: built without an adaLN linear");
  return norm_linear_->forward(silu_temb).reshape({silu_temb.dim(0), 3, dims_.dim});
}

void FluxSingleBlock::forward(Tensor& h, const AdaLnZeroSingleModulation& mod,
                              const JointAttentionContext& attn) const {
  check_stream(h, "joint hidden_states", dims_.dim);
  const Tensor n = ops::layer_norm_modulate(h, &mod.shift, &mod.scale, kNormEps, gemm_dtype(precision_));
  const Shape heads{h.dim(0), h.dim(1), dims_.heads, dims_.head_dim};
  Tensor q4 = to_q_.forward(n).reshape(heads), k4 = to_k_.forward(n).reshape(heads);
  const Tensor v4 = to_v_.forward(n).reshape(heads);
  norm_q_.apply(q4);
  norm_k_.apply(k4);
  // proj_out consumes cat(attention, mlp) along channels in one GEMM: both halves are written
  // straight into one buffer in the GEMM input dtype (the MLP by its GEMM's epilogue, the
  // attention by its kernel).
  Tensor cat = Tensor::empty({h.dim(0), h.dim(1), dims_.dim + dims_.mlp_hidden}, gemm_dtype(precision_));
  Tensor mlp = cat.slice(2, dims_.dim, dims_.dim + dims_.mlp_hidden);
  proj_mlp_.forward_into(n, mlp, {.activation = ops::Activation::GeluTanh});
  Tensor attention4 = cat.slice(2, 0, dims_.dim).unflatten(2, {dims_.heads, dims_.head_dim});
  joint_attention(q4, k4, v4, attn, attention4);
  proj_out_.forward_into(cat, h, {.gate = mod.gate, .residual = h});
}

}  // namespace diffuse::models
