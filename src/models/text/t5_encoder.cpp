#include "models/text/t5_encoder.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "models/common/token_embedding.h"
#include "models/text/t5_encoder_position_bias.h"
#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/norm.h"

namespace diffuse::models {

namespace {

ops::Activation fused_activation(T5Activation a) {
  switch (a) {
    case T5Activation::GeluTanh: return ops::Activation::GeluTanh;
    case T5Activation::GeluErf: return ops::Activation::GeluErf;
    case T5Activation::Silu: return ops::Activation::Silu;
    case T5Activation::Relu: break;  // not an ops::Activation: applied as a clamp
  }
  return ops::Activation::Identity;
}

// The attention mask as 0/1 bytes [B, L]; only 0 and 1 are meaningful to the reference's
// `(1 - mask) * finfo.min`, so other values are rejected.
std::vector<uint8_t> mask_bits(const Tensor& mask, int64_t batch, int64_t len) {
  DIFFUSE_CHECK(mask.ndim() == 2 && mask.dim(0) == batch && mask.dim(1) == len, "T5 encoder: attention_mask ",
                shape_str(mask.shape()), " does not match input_ids [", batch, ", ", len, "]");
  std::vector<uint8_t> bits(static_cast<size_t>(batch * len));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < len; ++j) {
      const double m = mask.item({b, j});
      DIFFUSE_CHECK(m == 0.0 || m == 1.0, "T5 encoder: attention_mask[", b, ", ", j, "] = ", m,
                    " (expected 0 or 1)");
      bits[static_cast<size_t>(b * len + j)] = m != 0.0;
    }
  return bits;
}

// The reference's position_bias as traced: bias [1, H, L, L] + (1 - mask) * finfo(float32).min
// per batch row -> [B, H, L, L], in f32 (a masked key's term is finfo.min, not -inf).
Tensor bias_with_mask(const Tensor& bias, const std::vector<uint8_t>& bits, int64_t batch) {
  const int64_t heads = bias.dim(1), lq = bias.dim(2), lk = bias.dim(3);
  Tensor out = Tensor::empty({batch, heads, lq, lk}, DType::F32);
  const float* src = bias.data<float>();
  float* dst = out.data_mut<float>();
  const float lowest = std::numeric_limits<float>::lowest();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < lq; ++i)
        for (int64_t j = 0; j < lk; ++j) {
          const float keep = bits.empty() ? 1.0f : static_cast<float>(bits[static_cast<size_t>(b * lk + j)]);
          dst[((b * heads + h) * lq + i) * lk + j] = src[(h * lq + i) * lk + j] + (1.0f - keep) * lowest;
        }
  return out;
}

// A row whose mask has no real key: the reference adds finfo.min to every score, which
// absorbs q.k and the bias (|x| << ulp(finfo.min) = 2^104), so all scores are equal and its
// softmax is uniform: every query receives the mean of v over all keys. (The attention op
// outputs 0 for such rows instead.) out, v: [L, inner], contiguous.
void attend_uniformly(Tensor out, const Tensor& v) {
  DIFFUSE_CHECK(out.is_contiguous() && v.is_contiguous() && out.shape() == v.shape(),
                "T5 encoder: uniform attention needs contiguous [L, inner] tensors");
  const int64_t len = v.dim(0), inner = v.dim(1);
  std::vector<double> mean(static_cast<size_t>(inner), 0.0);
  const float* pv = v.data<float>();
  for (int64_t j = 0; j < len; ++j)
    for (int64_t e = 0; e < inner; ++e) mean[static_cast<size_t>(e)] += pv[j * inner + e];
  float* po = out.data_mut<float>();
  for (int64_t i = 0; i < len; ++i)
    for (int64_t e = 0; e < inner; ++e) po[i * inner + e] = static_cast<float>(mean[static_cast<size_t>(e)] / len);
}

}  // namespace

T5Encoder::T5Encoder(const T5EncoderConfig& config, io::WeightBinder& binder, const ModelOptions& options)
    : config_(config), options_(options) {
  const T5EncoderConfig& c = config_;
  const Shape embedding_shape{c.vocab_size, c.d_model};
  // Checkpoints store the embedding as shared.weight; encoder.embed_tokens.weight is its tied
  // copy, present in some files. Take the copy too so it is not reported as unexpected.
  if (binder.binding() && !binder.has("shared.weight") && binder.has("encoder.embed_tokens.weight")) {
    shared_ = binder.take("encoder.embed_tokens.weight", embedding_shape);
  } else {
    shared_ = binder.take("shared.weight", embedding_shape);
    if (binder.has("encoder.embed_tokens.weight")) binder.take_optional("encoder.embed_tokens.weight", embedding_shape);
  }

  const int64_t d = c.d_model, inner = c.inner_dim();
  for (int64_t i = 0; i < c.num_layers; ++i) {
    io::WeightBinder s = binder.scope("encoder.block." + std::to_string(i));
    Block b;
    b.attn_norm = f32_param(s.take("layer.0.layer_norm.weight", {d}));
    b.q = LinearLayer(s, "layer.0.SelfAttention.q", d, inner, false, options);
    b.k = LinearLayer(s, "layer.0.SelfAttention.k", d, inner, false, options);
    b.v = LinearLayer(s, "layer.0.SelfAttention.v", d, inner, false, options);
    b.o = LinearLayer(s, "layer.0.SelfAttention.o", inner, d, false, options);
    if (i == 0) {
      relative_attention_bias_ = f32_param(s.take("layer.0.SelfAttention.relative_attention_bias.weight",
                                                  {c.relative_attention_num_buckets, c.num_heads}));
    }
    b.ffn_norm = f32_param(s.take("layer.1.layer_norm.weight", {d}));
    if (c.is_gated_act) {
      b.wi_0 = LinearLayer(s, "layer.1.DenseReluDense.wi_0", d, c.d_ff, false, options);
      b.wi_1 = LinearLayer(s, "layer.1.DenseReluDense.wi_1", d, c.d_ff, false, options);
    } else {
      b.wi_0 = LinearLayer(s, "layer.1.DenseReluDense.wi", d, c.d_ff, false, options);
    }
    b.wo = LinearLayer(s, "layer.1.DenseReluDense.wo", c.d_ff, d, false, options);
    blocks_.push_back(std::move(b));
  }
  final_norm_ = f32_param(binder.take("encoder.final_layer_norm.weight", {d}));
}

Tensor T5Encoder::embed(const Tensor& ids) const {
  DIFFUSE_CHECK(shared_.defined(), "T5 encoder: no weights loaded (shared.weight)");
  return lookup_token_embeddings(shared_, ids, "T5 encoder");
}

Tensor T5Encoder::rms_norm(const Tensor& x, const Tensor& weight) const {
  // T5LayerNorm: fp32 mean of squares, no mean subtraction, weight multiply in fp32.
  ops::RmsNormOptions o;
  o.flavor = ops::RmsNormFlavor::HfLlm;
  o.eps = static_cast<float>(config_.layer_norm_epsilon);
  return ops::rms_norm(x, &weight, o);
}

Tensor T5Encoder::attention_block(const Block& blk, const Tensor& h, const Tensor& bias, const Tensor& key_mask,
                                  const std::vector<uint8_t>& no_real_key) const {
  const int64_t batch = h.dim(0), len = h.dim(1);
  const Tensor x = rms_norm(h, blk.attn_norm);
  const auto heads = [&](const Tensor& t) {
    return t.reshape({batch, len, config_.num_heads, config_.d_kv}).permute({0, 2, 1, 3});
  };
  const Tensor q = blk.q.forward(x), k = blk.k.forward(x), v = blk.v.forward(x);
  ops::AttentionOptions ao;
  ao.scale = 1.0f;  // T5 folds 1/sqrt(d_kv) into the q initialization
  ao.additive = bias;
  ao.key_mask = key_mask;
  ao.precision = options_.precision == Precision::F32 ? ops::AttentionPrecision::F32 : ops::AttentionPrecision::BF16;
  Tensor out = ops::attention(heads(q), heads(k), heads(v), ao).reshape({batch, len, config_.inner_dim()});
  for (int64_t b = 0; b < batch; ++b)
    if (no_real_key[static_cast<size_t>(b)]) attend_uniformly(out.select(0, b), v.select(0, b));
  return out;
}

Tensor T5Encoder::feed_forward(const Block& blk, const Tensor& x) const {
  const ops::Activation act = fused_activation(config_.activation);
  Tensor a = blk.wi_0.forward(x, {.activation = act});
  if (config_.activation == T5Activation::Relu) ops::clamp_inplace(a, 0.0f, std::numeric_limits<float>::infinity());
  if (config_.is_gated_act) ops::mul_inplace(a, blk.wi_1.forward(x));
  return a;
}

Tensor T5Encoder::run(const Tensor& ids, const Tensor* attention_mask, const Trace* trace,
                      std::vector<Tensor>* hidden_states) const {
  DIFFUSE_CHECK(ids.ndim() == 2 && (ids.dtype() == DType::I64 || ids.dtype() == DType::I32),
                "T5 encoder: input_ids must be [B, L] I64 or I32, got ", shape_str(ids.shape()), " ",
                dtype_name(ids.dtype()));
  const int64_t batch = ids.dim(0), len = ids.dim(1);
  DIFFUSE_CHECK(batch > 0 && len > 0, "T5 encoder: empty input_ids ", shape_str(ids.shape()));

  std::vector<uint8_t> bits;
  if (attention_mask) bits = mask_bits(*attention_mask, batch, len);
  bool all_real = true;
  std::vector<uint8_t> no_real_key(static_cast<size_t>(batch), 0);
  for (int64_t b = 0; b < batch && !bits.empty(); ++b) {
    int64_t n = 0;
    for (int64_t j = 0; j < len; ++j) n += bits[static_cast<size_t>(b * len + j)];
    all_real = all_real && n == len;
    no_real_key[static_cast<size_t>(b)] = n == 0;
  }

  const Tensor bias = t5_position_bias(relative_attention_bias_, len, len, config_.relative_attention_max_distance);
  // Padding keys are skipped through the key mask, which equals the reference's finfo.min
  // additive mask whenever a row has a real key (see attention_block for rows without one).
  Tensor key_mask;
  if (!all_real) {
    key_mask = Tensor::empty({batch, len}, DType::U8);
    std::copy(bits.begin(), bits.end(), key_mask.data_mut<uint8_t>());
  }
  if (trace) trace->record("encoder.position_bias", bias_with_mask(bias, bits, batch));

  Tensor h = embed(ids);
  if (hidden_states) hidden_states->push_back(h.clone());
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& blk = blocks_[i];
    const std::string name = "encoder.block." + std::to_string(i);
    const Tensor attn = attention_block(blk, h, bias, key_mask, no_real_key);
    if (trace) {
      const Tensor o = blk.o.forward(attn);
      models::trace(trace, name + ".layer.0.SelfAttention", o);
      ops::add_inplace(h, o);
    } else {
      blk.o.forward_into(attn, h, {.residual = h});
    }
    const Tensor inner = feed_forward(blk, rms_norm(h, blk.ffn_norm));
    if (trace) {
      const Tensor f = blk.wo.forward(inner);
      models::trace(trace, name + ".layer.1.DenseReluDense", f);
      ops::add_inplace(h, f);
    } else {
      blk.wo.forward_into(inner, h, {.residual = h});
    }
    if (i + 1 < blocks_.size()) {
      if (hidden_states) hidden_states->push_back(h.clone());
    } else {
      models::trace(trace, name + ".output", h);
    }
  }
  Tensor out = rms_norm(h, final_norm_);
  if (hidden_states) hidden_states->push_back(out);
  return out;
}

Tensor T5Encoder::forward(const Tensor& input_ids, const Tensor* attention_mask, const Trace* trace) const {
  return run(input_ids, attention_mask, trace, nullptr);
}

std::vector<Tensor> T5Encoder::forward_hidden_states(const Tensor& input_ids, const Tensor* attention_mask,
                                                     const Trace* trace) const {
  std::vector<Tensor> hs;
  run(input_ids, attention_mask, trace, &hs);
  return hs;
}

}  // namespace diffuse::models
