#include "models/dit/flux_backbone.h"

#include "ops/shape.h"

namespace diffuse::models {

FluxBlockDims FluxBackboneConfig::block_dims() const {
  // mlp_ratio 4.0 in both block types: int(dim * 4.0).
  return {inner_dim(), num_attention_heads, attention_head_dim, 4 * inner_dim()};
}

FluxBackboneConfig FluxBackboneConfig::from_json(const io::Json& j, const std::string& ctx) {
  FluxBackboneConfig c;
  c.patch_size = io::get_int(j, "patch_size", c.patch_size, ctx);
  c.in_channels = io::get_int(j, "in_channels", c.in_channels, ctx);
  c.out_channels = io::get_optional_int(j, "out_channels", ctx).value_or(0);
  if (c.out_channels == 0) c.out_channels = c.in_channels;  // `out_channels or in_channels`
  c.num_layers = io::get_int(j, "num_layers", c.num_layers, ctx);
  c.num_single_layers = io::get_int(j, "num_single_layers", c.num_single_layers, ctx);
  c.attention_head_dim = io::get_int(j, "attention_head_dim", c.attention_head_dim, ctx);
  c.num_attention_heads = io::get_int(j, "num_attention_heads", c.num_attention_heads, ctx);
  c.joint_attention_dim = io::get_int(j, "joint_attention_dim", c.joint_attention_dim, ctx);
  c.axes_dims_rope = io::get_int_array(j, "axes_dims_rope", c.axes_dims_rope, ctx);

  DIFFUSE_CHECK(c.patch_size > 0 && c.in_channels > 0 && c.out_channels > 0, ctx,
                ": patch_size, in_channels and out_channels must be positive");
  DIFFUSE_CHECK(c.num_layers >= 0 && c.num_single_layers >= 0, ctx, ": negative layer count");
  DIFFUSE_CHECK(c.attention_head_dim > 0 && c.num_attention_heads > 0 && c.joint_attention_dim > 0, ctx,
                ": attention_head_dim, num_attention_heads and joint_attention_dim must be positive");
  int64_t rope_dim = 0;
  for (int64_t a : c.axes_dims_rope) {
    DIFFUSE_CHECK(a > 0 && a % 2 == 0, ctx, ": axes_dims_rope entries must be positive and even, got ", a);
    rope_dim += a;
  }
  // RoPE rotates every channel of a head: the axes must tile the head exactly.
  DIFFUSE_CHECK(rope_dim == c.attention_head_dim, ctx, ": axes_dims_rope sum to ", rope_dim,
                " but attention_head_dim is ", c.attention_head_dim);
  return c;
}

FluxBackbone::FluxBackbone(const FluxBackboneConfig& c, io::WeightBinder& b, bool adaln_linears,
                           const ModelOptions& o)
    : config_(c), precision_(o.precision) {
  const int64_t dim = c.inner_dim();
  x_embedder_ = LinearLayer(b, "x_embedder", c.in_channels, dim, true, o);
  context_embedder_ = LinearLayer(b, "context_embedder", c.joint_attention_dim, dim, true, o);
  const FluxBlockDims dims = c.block_dims();
  double_blocks_.reserve(static_cast<size_t>(c.num_layers));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    io::WeightBinder scope = b.scope("transformer_blocks").scope(std::to_string(i));
    double_blocks_.emplace_back(scope, dims, adaln_linears, o);
  }
  single_blocks_.reserve(static_cast<size_t>(c.num_single_layers));
  for (int64_t i = 0; i < c.num_single_layers; ++i) {
    io::WeightBinder scope = b.scope("single_transformer_blocks").scope(std::to_string(i));
    single_blocks_.emplace_back(scope, dims, adaln_linears, o);
  }
  proj_out_ = LinearLayer(b, "proj_out", dim, c.patch_size * c.patch_size * c.out_channels, true, o);
}

Tensor FluxBackbone::embed_image(const Tensor& hidden_states) const {
  return x_embedder_.forward(gemm_input(hidden_states, precision_));
}

Tensor FluxBackbone::embed_text(const Tensor& encoder_hidden_states) const {
  return context_embedder_.forward(gemm_input(encoder_hidden_states, precision_));
}

Tensor FluxBackbone::run_blocks(Tensor ctx, Tensor x, const FluxBlockModulation& mod,
                                const JointAttentionContext& attn, SingleBlockTrace trace_style,
                                const Trace* tr) const {
  DIFFUSE_CHECK(mod.image.size() == double_blocks_.size() && mod.text.size() == double_blocks_.size() &&
                    mod.single.size() == single_blocks_.size(),
                "FLUX backbone: modulation for ", mod.image.size(), "/", mod.text.size(), " double and ",
                mod.single.size(), " single blocks, model has ", double_blocks_.size(), " and ",
                single_blocks_.size());
  for (size_t i = 0; i < double_blocks_.size(); ++i) {
    double_blocks_[i].forward(ctx, x, mod.image[i], mod.text[i], attn);
    const std::string name = "transformer_blocks." + std::to_string(i);
    trace(tr, name + ".0", ctx);
    trace(tr, name + ".1", x);
  }
  const int64_t txt_len = ctx.dim(1), len = txt_len + x.dim(1);
  Tensor h = ops::concat({ctx, x}, 1);
  for (size_t i = 0; i < single_blocks_.size(); ++i) {
    single_blocks_[i].forward(h, mod.single[i], attn);
    const std::string name = "single_transformer_blocks." + std::to_string(i);
    if (trace_style == SingleBlockTrace::Joint) {
      trace(tr, name, h);
    } else {
      trace(tr, name + ".0", h.slice(1, 0, txt_len));
      trace(tr, name + ".1", h.slice(1, txt_len, len));
    }
  }
  return h.slice(1, txt_len, len).contiguous();
}

Tensor FluxBackbone::project_out(const Tensor& x) const { return proj_out_.forward(gemm_input(x, precision_)); }

void check_input(const Tensor& t, const std::string& model, const std::string& name, const Shape& expected) {
  DIFFUSE_CHECK(t.defined(), model, ": input ", name, " is missing");
  bool ok = t.ndim() == static_cast<int>(expected.size());
  for (int i = 0; ok && i < t.ndim(); ++i) ok = expected[i] < 0 || t.dim(i) == expected[i];
  Shape shown = expected;
  std::string want = "[";
  for (size_t i = 0; i < shown.size(); ++i)
    want += (i ? ", " : "") + (shown[i] < 0 ? std::string("*") : std::to_string(shown[i]));
  want += "]";
  DIFFUSE_CHECK(ok, model, ": input ", name, " has shape ", shape_str(t.shape()), ", expected ", want);
  DIFFUSE_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::BF16 || t.dtype() == DType::F16, model,
                ": input ", name, " has dtype ", dtype_name(t.dtype()), ", expected a float type");
}

}  // namespace diffuse::models
