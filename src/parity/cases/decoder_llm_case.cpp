// Decoder-LLM text encoder cases (Qwen2.5-VL, Qwen3-VL, Mistral3Model text paths): the
// output_hidden_states tuple, the per-layer dumps, and each pipeline's use of it
// (case.json "pipeline_index"; Qwen-Image's masked extract with the case's drop_idx).
//
// Padding positions: where case.json says to compare only positions with
// attention_mask == 1, the engine's values at padded positions (unspecified: fully masked
// query rows) are replaced by the reference's before comparing, so only real tokens count.
// M-RoPE dumps hold one row per position stream (t, h, w); for text all rows are the 1-D
// tables, so the engine's tables are repeated to that layout.
#include <filesystem>
#include <cctype>

#include "io/checkpoint.h"
#include "models/text/decoder_llm.h"
#include "parity/cases/cases.h"
#include "pipelines/qwen_image_text.h"

namespace diffuse::parity {

namespace {

// The integer right after `key` in the case.json text field `field` (e.g. "drop_idx=5" in
// pipeline_postprocess, "hidden_states[-8]" in pipeline_index).
std::optional<int64_t> int_in_text(const FixtureCase& c, const char* field, const std::string& key) {
  const auto it = c.json().find(field);
  if (it == c.json().end() || !it->is_string()) return std::nullopt;
  const std::string s = it->get<std::string>();
  const size_t at = s.find(key);
  if (at == std::string::npos) return std::nullopt;
  size_t end = at + key.size();
  if (end < s.size() && s[end] == '-') ++end;
  while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
  const std::string digits = s.substr(at + key.size(), end - at - key.size());
  if (digits.empty() || digits == "-") return std::nullopt;
  return std::stoll(digits);
}

bool real_tokens_only(const FixtureCase& c) {
  const auto it = c.json().find("compare_positions");
  return it != c.json().end() && it->is_string() && it->get<std::string>().find("attention_mask==1") != std::string::npos;
}

// actual [B, S, ...] with the reference's values where mask[b, s] == 0.
Tensor reference_at_padding(Tensor actual, const Tensor& expected, const Tensor& mask) {
  if (actual.shape() != expected.shape() || actual.ndim() < 2 || actual.dim(0) != mask.dim(0) ||
      actual.dim(1) != mask.dim(1)) {
    return actual;  // a shape mismatch is reported by the comparison
  }
  for (int64_t b = 0; b < mask.dim(0); ++b)
    for (int64_t s = 0; s < mask.dim(1); ++s)
      if (mask.item({b, s}) == 0.0) actual.select(0, b).select(0, s).copy_from(expected.select(0, b).select(0, s));
  return actual;
}

// [k, ...shape] from k copies of t when the reference has that layout (M-RoPE rows).
Tensor to_reference_rows(const Tensor& t, const Tensor& expected) {
  if (expected.ndim() != t.ndim() + 1) return t;
  Shape rest(expected.shape().begin() + 1, expected.shape().end());
  if (rest != t.shape()) return t;
  Tensor out = Tensor::empty(expected.shape(), t.dtype());
  for (int64_t r = 0; r < expected.dim(0); ++r) out.select(0, r).copy_from(t);
  return out;
}

}  // namespace

ProducedSet run_decoder_llm_case(const FixtureCase& c, const RunOptions& o) {
  namespace fs = std::filesystem;
  const std::string config_path = (fs::path(c.dir()) / "config.json").string();
  const auto config = models::DecoderLlmConfig::from_json(io::load_json(config_path), config_path);
  io::WeightBinder binder(io::WeightSource::open_file((fs::path(c.dir()) / "model.safetensors").string()));
  models::ModelOptions options;
  options.precision = o.bf16 ? models::Precision::BF16 : models::Precision::F32;
  const models::DecoderLlm model(config, binder, options);
  binder.check();

  const Tensor ids = c.tensor("in.input_ids");
  const Tensor mask = c.tensor("in.attention_mask");
  const bool masked = real_tokens_only(c);
  const auto for_compare = [&](const std::string& name, Tensor t, bool token_rows) {
    const Tensor expected = c.tensor(name);
    t = to_reference_rows(t, expected);
    return masked && token_rows ? reference_at_padding(t, expected, mask) : t;
  };

  ProducedSet out;
  const models::Trace trace([&](const std::string& path, const Tensor& value) {
    const std::string name = "dump." + path;
    if (!c.has(name)) return;
    const bool token_rows = path.ends_with(".self_attn") || path.ends_with(".mlp");
    out.dumps.push_back({name, for_compare(name, value, token_rows), std::nullopt});
  });
  std::vector<int> all(static_cast<size_t>(config.num_hidden_layers + 1));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  const std::vector<Tensor> hs = model.forward(ids, mask, all, &trace);
  for (size_t i = 0; i < hs.size(); ++i) {
    const std::string name = "out.hidden_states." + std::to_string(i);
    if (c.has(name)) out.outputs.push_back({name, for_compare(name, hs[i], true), std::nullopt});
  }

  // The pipeline's selected hidden state, e.g. "hidden_states[-8]" or "hidden_states[-2][0]".
  const auto index = int_in_text(c, "pipeline_index", "hidden_states[");
  if (!index) return out;
  const Tensor selected = hs[static_cast<size_t>(models::decoder_llm_hidden_index(config, *index))];
  if (c.has("out.pipeline.text_hidden")) {  // ERNIE-Image: batch of one, row 0
    out.outputs.push_back({"out.pipeline.text_hidden", selected.select(0, 0), std::nullopt});
  }
  if (c.has("out.pipeline.prompt_embeds")) {
    const auto drop_idx = int_in_text(c, "pipeline_postprocess", "drop_idx=");
    if (drop_idx) {  // Qwen-Image: masked extract, drop the template prefix, zero re-pad
      const auto e = pipelines::qwen_image_select_prompt_tokens(selected, mask, *drop_idx,
                                                                pipelines::kQwenImageMaxSequenceLengthLimit);
      out.outputs.push_back({"out.pipeline.prompt_embeds", e.embeds, std::nullopt});
      out.outputs.push_back({"out.pipeline.prompt_embeds_mask", e.mask, std::nullopt});
    } else {  // NucleusMoE-Image: the whole sequence with the tokenizer mask
      out.outputs.push_back({"out.pipeline.prompt_embeds", for_compare("out.pipeline.prompt_embeds", selected, true),
                             std::nullopt});
      out.outputs.push_back({"out.pipeline.prompt_embeds_mask", mask, std::nullopt});
    }
  }
  return out;
}

}  // namespace diffuse::parity
