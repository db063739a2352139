#include "models/text/decoder_llm.h"

#include <algorithm>
#include <limits>

#include "models/common/token_embedding.h"
#include "models/text/decoder_llm_rope.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "runtime/error.h"

namespace diffuse::models {

namespace {

// Checkpoint parts that are not the text model: vision towers, projectors, LM heads.
constexpr const char* kNotTextModel[] = {
    "lm_head.*",         "language_model.lm_head.*", "visual.*",       "model.visual.*",
    "vision_tower.*",    "model.vision_tower.*",     "multi_modal_projector.*",
    "model.multi_modal_projector.*",
};

// The mask as 0/1 bytes [B, S] (all ones when undefined). Other values are rejected: the
// reference's mask arithmetic only means something for 0 and 1.
std::vector<uint8_t> mask_bits(const Tensor& mask, int64_t batch, int64_t len) {
  std::vector<uint8_t> bits(static_cast<size_t>(batch * len), 1);
  if (!mask.defined()) return bits;
  DIFFUSE_CHECK(mask.ndim() == 2 && mask.dim(0) == batch && mask.dim(1) == len, "decoder LLM: attention_mask ",
                shape_str(mask.shape()), " does not match input_ids [", batch, ", ", len, "]");
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < len; ++j) {
      const double m = mask.item({b, j});
      DIFFUSE_CHECK(m == 0.0 || m == 1.0, "decoder LLM: attention_mask[", b, ", ", j, "] = ", m,
                    " (expected 0 or 1)");
      bits[static_cast<size_t>(b * len + j)] = m != 0.0;
    }
  return bits;
}

// get_rope_index's text branch: cumsum(mask) - 1 for real tokens, 1 for padding.
Tensor position_ids(const std::vector<uint8_t>& bits, int64_t batch, int64_t len) {
  Tensor pos = Tensor::empty({batch, len}, DType::I64);
  int64_t* p = pos.data_mut<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t seen = 0;
    for (int64_t j = 0; j < len; ++j) {
      const size_t i = static_cast<size_t>(b * len + j);
      seen += bits[i];
      p[i] = bits[i] ? seen - 1 : 1;
    }
  }
  return pos;
}

Tensor causal_mask(int64_t len) {
  Tensor m = Tensor::empty({len, len}, DType::F32);
  float* p = m.data_mut<float>();
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < len; ++i)
    for (int64_t j = 0; j < len; ++j) p[i * len + j] = j <= i ? 0.0f : -inf;
  return m;
}

}  // namespace

std::string decoder_llm_weight_prefix(const io::WeightBinder& binder, const DecoderLlmConfig& config) {
  if (binder.binding()) {
    for (const char* p : {"model.language_model", "language_model.model", "language_model", "model"}) {
      if (binder.has(std::string(p) + ".embed_tokens.weight")) return p;
    }
  }
  // Mistral3ForConditionalGeneration as saved by transformers 5 nests the text model under model.
  if (config.architecture == "Mistral3ForConditionalGeneration") return "model.language_model";
  switch (config.family) {
    case DecoderLlmFamily::Qwen2: return "model";
    case DecoderLlmFamily::Qwen3: return "model.language_model";
    case DecoderLlmFamily::Mistral: return "language_model";
  }
  return "model";
}

int64_t decoder_llm_hidden_index(const DecoderLlmConfig& config, int64_t index) {
  const int64_t entries = config.num_hidden_layers + 1;
  DIFFUSE_CHECK(index >= -entries && index < entries, "decoder LLM: hidden_states index ", index,
                " is out of range for ", entries, " entries");
  return index < 0 ? index + entries : index;
}

int64_t decoder_llm_layers_needed(const DecoderLlmConfig& config, const std::vector<int>& indices) {
  int64_t needed = 0;
  for (const int i : indices) needed = std::max(needed, decoder_llm_hidden_index(config, i));
  return needed;
}

DecoderLlm::DecoderLlm(const DecoderLlmConfig& config, io::WeightBinder& binder, const ModelOptions& options,
                       int64_t layers_to_run)
    : config_(config), options_(options) {
  const DecoderLlmConfig& c = config_;
  const int64_t n = layers_to_run < 0 ? c.num_hidden_layers : layers_to_run;
  DIFFUSE_CHECK(n <= c.num_hidden_layers, "decoder LLM: ", n, " layers requested, the model has ",
                c.num_hidden_layers);
  prefix_ = decoder_llm_weight_prefix(binder, c);
  for (const char* p : kNotTextModel) binder.ignore(p);
  for (int64_t i = n; i < c.num_hidden_layers; ++i) binder.ignore(prefix_ + ".layers." + std::to_string(i) + ".*");
  if (n < c.num_hidden_layers) binder.ignore(prefix_ + ".norm.weight");

  io::WeightBinder b = binder.scope(prefix_);
  embed_tokens_ = b.take("embed_tokens.weight", {c.vocab_size, c.hidden_size});
  layers_.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    io::WeightBinder lb = b.scope("layers." + std::to_string(i));
    layers_.emplace_back(c, lb, options);
  }
  if (n == c.num_hidden_layers) norm_ = f32_param(b.take("norm.weight", {c.hidden_size}));
  inv_freq_ = decoder_llm_inv_freq(c.rope, c.head_dim);
  attention_factor_ = static_cast<float>(rope_attention_factor(c.rope));
}

Tensor DecoderLlm::embed(const Tensor& ids) const {
  DIFFUSE_CHECK(embed_tokens_.defined(), "decoder LLM: no weights loaded (", prefix_, ".embed_tokens.weight)");
  return lookup_token_embeddings(embed_tokens_, ids, "decoder LLM");
}

std::vector<Tensor> DecoderLlm::forward(const Tensor& ids, const Tensor& attention_mask, const std::vector<int>& indices,
                                        const Trace* trace) const {
  DIFFUSE_CHECK(ids.ndim() == 2 && (ids.dtype() == DType::I64 || ids.dtype() == DType::I32),
                "decoder LLM: input_ids must be [B, S] I64 or I32, got ", shape_str(ids.shape()), " ",
                dtype_name(ids.dtype()));
  const int64_t batch = ids.dim(0), len = ids.dim(1);
  DIFFUSE_CHECK(batch > 0 && len > 0, "decoder LLM: empty input_ids ", shape_str(ids.shape()));
  DIFFUSE_CHECK(!indices.empty(), "decoder LLM: no hidden_states index requested");
  std::vector<int64_t> wanted;
  for (const int i : indices) wanted.push_back(decoder_llm_hidden_index(config_, i));
  const int64_t run = *std::max_element(wanted.begin(), wanted.end());
  DIFFUSE_CHECK(run <= layers_loaded(), "decoder LLM: hidden_states index needs ", run, " layers, ",
                layers_loaded(), " were loaded");
  DIFFUSE_CHECK(!config_.sliding_window || len <= *config_.sliding_window, "decoder LLM: ", len,
                " tokens exceed the sliding window ", *config_.sliding_window, " (not supported)");

  const std::vector<uint8_t> bits = mask_bits(attention_mask, batch, len);
  DecoderLlmStep step;
  step.causal = causal_mask(len);
  if (std::find(bits.begin(), bits.end(), 0) != bits.end()) {
    step.key_mask = Tensor::empty({batch, len}, DType::U8);
    std::copy(bits.begin(), bits.end(), step.key_mask.data_mut<uint8_t>());
  }
  const Tensor pos = position_ids(bits, batch, len);
  ops::RopeTables tables = ops::rope_tables_inv_freq(pos.reshape({batch * len}), inv_freq_, attention_factor_);
  step.cos = tables.cos.reshape({batch, len, config_.head_dim});
  step.sin = tables.sin.reshape({batch, len, config_.head_dim});
  if (trace) {
    models::trace(trace, "rope.inv_freq", inv_freq_);
    models::trace(trace, "position_ids", pos);
    models::trace(trace, "rope.cos", step.cos);
    models::trace(trace, "rope.sin", step.sin);
  }
  if (config_.rope.llama_4_scaling_beta) {
    // Indexed by cache position 0..S-1, not by the mask-aware position ids.
    const Tensor scale = llama4_query_scale(len, *config_.rope.llama_4_scaling_beta,
                                            config_.rope.llama_4_original_max_position_embeddings);
    models::trace(trace, "llama4_scale", scale);
    step.query_scale = scale.reshape({len, 1, 1});
  }

  std::vector<Tensor> out(wanted.size());
  Tensor h = embed(ids);
  const auto capture = [&](int64_t entry, const Tensor& value) {
    for (size_t k = 0; k < wanted.size(); ++k)
      if (wanted[k] == entry) out[k] = value.clone();
  };
  capture(0, h);
  for (int64_t i = 0; i < run; ++i) {
    layers_[static_cast<size_t>(i)].forward(h, step, trace, prefix_ + ".layers." + std::to_string(i));
    if (i + 1 < config_.num_hidden_layers) capture(i + 1, h);
  }
  if (run == config_.num_hidden_layers) {
    ops::RmsNormOptions o;
    o.flavor = ops::RmsNormFlavor::HfLlm;
    o.eps = static_cast<float>(config_.rms_norm_eps);
    capture(run, ops::rms_norm(h, &norm_, o));
  }
  return out;
}

}  // namespace diffuse::models
