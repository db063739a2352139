#include "models/text/clip_text_model.h"

#include <algorithm>
#include <limits>

#include "models/common/token_embedding.h"
#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/norm.h"

namespace diffuse::models {

namespace {

// input_ids [B, L] (I64 or I32, any strides) as row-major int64.
std::vector<int64_t> read_ids(const Tensor& ids) {
  DIFFUSE_CHECK(ids.ndim() == 2 && (ids.dtype() == DType::I64 || ids.dtype() == DType::I32),
                "CLIP text model: input_ids must be [B, L] I64 or I32, got ", shape_str(ids.shape()), " ",
                dtype_name(ids.dtype()));
  DIFFUSE_CHECK(ids.dim(0) > 0 && ids.dim(1) > 0, "CLIP text model: empty input_ids ", shape_str(ids.shape()));
  const Tensor c = ids.to(DType::I64);
  const int64_t* p = c.data<int64_t>();
  return std::vector<int64_t>(p, p + c.numel());
}

// transformers' pooling index per row of ids [batch, len] (see pooled_positions in the header).
std::vector<int64_t> eos_positions(const std::vector<int64_t>& ids, int64_t batch, int64_t len, int64_t eos_token_id) {
  std::vector<int64_t> pos(static_cast<size_t>(batch), 0);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* row = ids.data() + b * len;
    // Legacy configs: the end-of-text token is the largest id; std::max_element keeps the
    // first maximum, as torch.argmax does.
    pos[static_cast<size_t>(b)] = eos_token_id == 2 ? std::max_element(row, row + len) - row
                                                    : std::find(row, row + len, eos_token_id) - row;
    if (pos[static_cast<size_t>(b)] == len) pos[static_cast<size_t>(b)] = 0;  // no eos: argmax of all-zero
  }
  return pos;
}

// The padding mask as U8 [B, L], or an undefined tensor when every token is real (no mask
// needed). Only 0 and 1 are meaningful to the reference's `(1 - mask)` form; others are rejected.
Tensor key_mask_from(const Tensor& mask, int64_t batch, int64_t len) {
  DIFFUSE_CHECK(mask.ndim() == 2 && mask.dim(0) == batch && mask.dim(1) == len, "CLIP text model: attention_mask ",
                shape_str(mask.shape()), " does not match input_ids [", batch, ", ", len, "]");
  Tensor bits = Tensor::empty({batch, len}, DType::U8);
  uint8_t* out = bits.data_mut<uint8_t>();
  bool all_real = true;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < len; ++j) {
      const double m = mask.item({b, j});
      DIFFUSE_CHECK(m == 0.0 || m == 1.0, "CLIP text model: attention_mask[", b, ", ", j, "] = ", m,
                    " (expected 0 or 1)");
      out[b * len + j] = m != 0.0;
      all_real = all_real && m != 0.0;
    }
  return all_real ? Tensor() : bits;
}

// Additive [L, L] f32: 0 where key j <= query i, -inf above the diagonal.
Tensor causal_mask(int64_t len) {
  Tensor m = Tensor::empty({len, len}, DType::F32);
  float* p = m.data_mut<float>();
  for (int64_t i = 0; i < len; ++i)
    for (int64_t j = 0; j < len; ++j) p[i * len + j] = j <= i ? 0.0f : -std::numeric_limits<float>::infinity();
  return m;
}

}  // namespace

CLIPTextModel::CLIPTextModel(const CLIPTextModelConfig& config, io::WeightBinder& binder,
                             const ModelOptions& options)
    : config_(config), options_(options) {
  const CLIPTextModelConfig& c = config_;
  const int64_t d = c.hidden_size;
  io::WeightBinder root = binder.scope("text_model");
  // A non-persistent buffer in transformers (positions are recomputed as 0..L-1); older
  // checkpoints still store it. Its values are never read, so its shape is not checked either.
  root.ignore(root.prefix() + "embeddings.position_ids");

  // The token table stays a view of the mapped file (49408 x 768); rows are converted on lookup.
  token_embedding_ = root.take("embeddings.token_embedding.weight", {c.vocab_size, d});
  position_embedding_ = f32_param(root.take("embeddings.position_embedding.weight", {c.max_position_embeddings, d}));

  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    io::WeightBinder s = root.scope("encoder.layers." + std::to_string(i));
    Layer l;
    l.layer_norm1_weight = f32_param(s.take("layer_norm1.weight", {d}));
    l.layer_norm1_bias = f32_param(s.take("layer_norm1.bias", {d}));
    l.q_proj = LinearLayer(s, "self_attn.q_proj", d, d, true, options);
    l.k_proj = LinearLayer(s, "self_attn.k_proj", d, d, true, options);
    l.v_proj = LinearLayer(s, "self_attn.v_proj", d, d, true, options);
    l.out_proj = LinearLayer(s, "self_attn.out_proj", d, d, true, options);
    l.layer_norm2_weight = f32_param(s.take("layer_norm2.weight", {d}));
    l.layer_norm2_bias = f32_param(s.take("layer_norm2.bias", {d}));
    l.fc1 = LinearLayer(s, "mlp.fc1", d, c.intermediate_size, true, options);
    l.fc2 = LinearLayer(s, "mlp.fc2", c.intermediate_size, d, true, options);
    layers_.push_back(std::move(l));
  }
  final_layer_norm_weight_ = f32_param(root.take("final_layer_norm.weight", {d}));
  final_layer_norm_bias_ = f32_param(root.take("final_layer_norm.bias", {d}));

  complete_ = token_embedding_.defined() && position_embedding_.defined() && final_layer_norm_weight_.defined() &&
              final_layer_norm_bias_.defined();
  for (const Layer& l : layers_)
    complete_ = complete_ && l.layer_norm1_weight.defined() && l.layer_norm1_bias.defined() &&
                l.layer_norm2_weight.defined() && l.layer_norm2_bias.defined() && l.q_proj.loaded() &&
                l.k_proj.loaded() && l.v_proj.loaded() && l.out_proj.loaded() && l.fc1.loaded() && l.fc2.loaded();
}

Tensor CLIPTextModel::embed(const Tensor& ids) const {
  Tensor h = lookup_token_embeddings(token_embedding_, ids, "CLIP text model");
  const int64_t d = config_.hidden_size, len = ids.dim(1);
  const float* pos = position_embedding_.data<float>();
  float* x = h.data_mut<float>();
  for (int64_t b = 0; b < ids.dim(0); ++b)
    for (int64_t j = 0; j < len; ++j)
      for (int64_t k = 0; k < d; ++k) x[(b * len + j) * d + k] += pos[j * d + k];
  return h;
}

Tensor CLIPTextModel::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias) const {
  return ops::layer_norm(x, &weight, &bias, static_cast<float>(config_.layer_norm_eps));
}

Tensor CLIPTextModel::self_attention(const Layer& l, const Tensor& x, const Tensor& causal,
                                     const Tensor& key_mask) const {
  const int64_t batch = x.dim(0), len = x.dim(1);
  const auto heads = [&](const Tensor& t) {
    return t.reshape({batch, len, config_.num_attention_heads, config_.head_dim()}).permute({0, 2, 1, 3});
  };
  const Tensor q = l.q_proj.forward(x), k = l.k_proj.forward(x), v = l.v_proj.forward(x);
  ops::AttentionOptions ao;  // default scale 1/sqrt(head_dim), as the reference's head_dim**-0.5
  ao.additive = causal;
  ao.key_mask = key_mask;
  ao.precision = options_.precision == Precision::F32 ? ops::AttentionPrecision::F32 : ops::AttentionPrecision::BF16;
  return ops::attention(heads(q), heads(k), heads(v), ao).reshape({batch, len, config_.hidden_size});
}

std::vector<int64_t> CLIPTextModel::pooled_positions(const Tensor& input_ids, int64_t eos_token_id) {
  return eos_positions(read_ids(input_ids), input_ids.dim(0), input_ids.dim(1), eos_token_id);
}

CLIPTextModel::Output CLIPTextModel::run(const Tensor& ids, const Tensor* attention_mask, const Trace* trace) const {
  DIFFUSE_CHECK(complete_, "CLIP text model: weights are missing (see the weight binder's report)");
  const std::vector<int64_t> id_values = read_ids(ids);
  const int64_t batch = ids.dim(0), len = ids.dim(1);
  DIFFUSE_CHECK(len <= config_.max_position_embeddings, "CLIP text model: sequence length ", len,
                " exceeds max_position_embeddings ", config_.max_position_embeddings);
  const Tensor key_mask = attention_mask ? key_mask_from(*attention_mask, batch, len) : Tensor();
  const Tensor causal = causal_mask(len);

  Tensor h = embed(ids);
  models::trace(trace, "text_model.embeddings", h);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    const std::string name = "text_model.encoder.layers." + std::to_string(i);
    const Tensor attn = self_attention(l, layer_norm(h, l.layer_norm1_weight, l.layer_norm1_bias), causal, key_mask);
    if (trace) {
      const Tensor o = l.out_proj.forward(attn);
      models::trace(trace, name + ".self_attn", o);
      ops::add_inplace(h, o);
    } else {
      l.out_proj.forward_into(attn, h, {.residual = h});
    }
    const Tensor inner = l.fc1.forward(layer_norm(h, l.layer_norm2_weight, l.layer_norm2_bias),
                                       {.activation = config_.activation});
    if (trace) {
      const Tensor m = l.fc2.forward(inner);
      models::trace(trace, name + ".mlp", m);
      ops::add_inplace(h, m);
    } else {
      l.fc2.forward_into(inner, h, {.residual = h});
    }
    models::trace(trace, name, h);
  }

  Output out;
  out.last_hidden_state = layer_norm(h, final_layer_norm_weight_, final_layer_norm_bias_);
  models::trace(trace, "text_model.final_layer_norm", out.last_hidden_state);
  const std::vector<int64_t> pos = eos_positions(id_values, batch, len, config_.eos_token_id);
  out.pooled_output = Tensor::empty({batch, config_.hidden_size}, DType::F32);
  for (int64_t b = 0; b < batch; ++b)
    out.pooled_output.select(0, b).copy_from(out.last_hidden_state.select(0, b).select(0, pos[static_cast<size_t>(b)]));
  return out;
}

CLIPTextModel::Output CLIPTextModel::forward(const Tensor& input_ids, const Trace* trace) const {
  return run(input_ids, nullptr, trace);
}

CLIPTextModel::Output CLIPTextModel::forward(const Tensor& input_ids, const Tensor& attention_mask,
                                             const Trace* trace) const {
  return run(input_ids, &attention_mask, trace);
}

}  // namespace diffuse::models
