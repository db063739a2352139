#include "models/text/decoder_llm_layer.h"

#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "ops/rope.h"

namespace diffuse::models {

DecoderLlmLayer::DecoderLlmLayer(const DecoderLlmConfig& c, io::WeightBinder& b, const ModelOptions& options)
    : config_(c), options_(options) {
  const int64_t h = c.hidden_size, q_dim = c.num_attention_heads * c.head_dim,
                kv_dim = c.num_key_value_heads * c.head_dim;
  input_layernorm_ = f32_param(b.take("input_layernorm.weight", {h}));
  q_proj_ = LinearLayer(b, "self_attn.q_proj", h, q_dim, c.qkv_bias, options);
  k_proj_ = LinearLayer(b, "self_attn.k_proj", h, kv_dim, c.qkv_bias, options);
  v_proj_ = LinearLayer(b, "self_attn.v_proj", h, kv_dim, c.qkv_bias, options);
  o_proj_ = LinearLayer(b, "self_attn.o_proj", q_dim, h, c.o_bias, options);
  if (c.qk_norm) {
    q_norm_ = f32_param(b.take("self_attn.q_norm.weight", {c.head_dim}));
    k_norm_ = f32_param(b.take("self_attn.k_norm.weight", {c.head_dim}));
  }
  post_attention_layernorm_ = f32_param(b.take("post_attention_layernorm.weight", {h}));
  gate_proj_ = LinearLayer(b, "mlp.gate_proj", h, c.intermediate_size, false, options);
  up_proj_ = LinearLayer(b, "mlp.up_proj", h, c.intermediate_size, false, options);
  down_proj_ = LinearLayer(b, "mlp.down_proj", c.intermediate_size, h, false, options);
}

Tensor DecoderLlmLayer::rms_norm(const Tensor& x, const Tensor& weight) const {
  ops::RmsNormOptions o;
  o.flavor = ops::RmsNormFlavor::HfLlm;
  o.eps = static_cast<float>(config_.rms_norm_eps);
  return ops::rms_norm(x, &weight, o);
}

Tensor DecoderLlmLayer::attention(const Tensor& x, const DecoderLlmStep& step) const {
  const DecoderLlmConfig& c = config_;
  const int64_t batch = x.dim(0), len = x.dim(1);
  Tensor q = q_proj_.forward(x).reshape({batch, len, c.num_attention_heads, c.head_dim});
  Tensor k = k_proj_.forward(x).reshape({batch, len, c.num_key_value_heads, c.head_dim});
  const Tensor v = v_proj_.forward(x).reshape({batch, len, c.num_key_value_heads, c.head_dim});
  if (c.qk_norm) {
    ops::RmsNormOptions o;
    o.flavor = ops::RmsNormFlavor::HfLlm;
    o.eps = static_cast<float>(c.rms_norm_eps);
    ops::rms_norm_inplace(q, &q_norm_, o);
    ops::rms_norm_inplace(k, &k_norm_, o);
  }
  ops::rope_rotate_half_inplace(q, step.cos, step.sin);
  ops::rope_rotate_half_inplace(k, step.cos, step.sin);
  if (step.query_scale.defined()) ops::mul_inplace(q, step.query_scale);

  ops::AttentionOptions ao;
  ao.additive = step.causal;
  ao.key_mask = step.key_mask;
  ao.precision = options_.precision == Precision::F32 ? ops::AttentionPrecision::F32 : ops::AttentionPrecision::BF16;
  const std::vector<int> heads_first{0, 2, 1, 3};
  return ops::attention(q.permute(heads_first), k.permute(heads_first), v.permute(heads_first), ao)
      .reshape({batch, len, c.num_attention_heads * c.head_dim});
}

Tensor DecoderLlmLayer::gated_mlp(const Tensor& x) const {
  Tensor a = gate_proj_.forward(x, {.activation = ops::Activation::Silu});
  ops::mul_inplace(a, up_proj_.forward(x));
  return a;
}

void DecoderLlmLayer::forward(Tensor& h, const DecoderLlmStep& step, const Trace* trace,
                              const std::string& path) const {
  const Tensor attn = attention(rms_norm(h, input_layernorm_), step);
  if (trace) {
    const Tensor o = o_proj_.forward(attn);
    models::trace(trace, path + ".self_attn", o);
    ops::add_inplace(h, o);
  } else {
    o_proj_.forward_into(attn, h, {.residual = h});
  }
  const Tensor inner = gated_mlp(rms_norm(h, post_attention_layernorm_));
  if (trace) {
    const Tensor m = down_proj_.forward(inner);
    models::trace(trace, path + ".mlp", m);
    ops::add_inplace(h, m);
  } else {
    down_proj_.forward_into(inner, h, {.residual = h});
  }
}

}  // namespace diffuse::models
