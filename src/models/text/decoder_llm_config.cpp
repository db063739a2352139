#include "models/text/decoder_llm_config.h"

#include <numeric>

#include "runtime/error.h"

namespace diffuse::models {

namespace {

struct FamilyDefaults {
  DecoderLlmFamily family;
  double rope_theta;
  double rms_norm_eps;
};

// The text model_types this port follows and the reference config defaults it relies on.
std::optional<FamilyDefaults> family_of(const std::string& model_type) {
  if (model_type == "qwen2_5_vl" || model_type == "qwen2_5_vl_text") {
    return FamilyDefaults{DecoderLlmFamily::Qwen2, 1000000.0, 1e-6};
  }
  if (model_type == "qwen3_vl" || model_type == "qwen3_vl_text") {
    return FamilyDefaults{DecoderLlmFamily::Qwen3, 5000000.0, 1e-6};
  }
  if (model_type == "ministral3" || model_type == "mistral3") {
    return FamilyDefaults{DecoderLlmFamily::Mistral, 1000000.0, 1e-5};
  }
  if (model_type == "mistral") return FamilyDefaults{DecoderLlmFamily::Mistral, 10000.0, 1e-6};
  return std::nullopt;
}

// Ministral3Config's rope_parameters when config.json has none (TEXT_ENCODERS.md §4).
io::Json ministral3_default_rope() {
  return io::Json{{"rope_type", "yarn"},         {"rope_theta", 1000000.0},
                  {"factor", 16.0},              {"original_max_position_embeddings", 16384},
                  {"max_position_embeddings", 262144}, {"beta_fast", 32.0},
                  {"beta_slow", 1.0},            {"mscale", 1.0},
                  {"mscale_all_dim", 1.0},       {"llama_4_scaling_beta", 0.1}};
}

// get("x") or nothing, treating JSON null as absent.
std::optional<double> opt_double(const io::Json& o, const char* key, const std::string& ctx) {
  return io::get_optional_double(o, key, ctx);
}

DecoderLlmRope parse_rope(const io::Json& text, const FamilyDefaults& fam, const std::string& model_type,
                          int64_t head_dim, const std::string& ctx) {
  DecoderLlmRope rope;
  // transformers v5 writes "rope_parameters" (with rope_theta inside); v4 "rope_scaling".
  io::Json params;
  std::string field = "rope_parameters";
  if (auto it = text.find("rope_parameters"); it != text.end() && !it->is_null()) {
    params = *it;
  } else if (auto it2 = text.find("rope_scaling"); it2 != text.end() && !it2->is_null()) {
    params = *it2;
    field = "rope_scaling";
  } else if (model_type == "ministral3") {
    params = ministral3_default_rope();
  } else {
    params = io::Json::object();
  }
  DIFFUSE_CHECK(params.is_object(), ctx, ": field '", field, "' must be an object");
  const std::string pctx = ctx + ": " + field;

  rope.theta = io::get_double(params, "rope_theta", io::get_double(text, "rope_theta", fam.rope_theta, ctx), pctx);
  DIFFUSE_CHECK(rope.theta > 1.0, pctx, ": rope_theta must be > 1, got ", rope.theta);
  const double partial = io::get_double(text, "partial_rotary_factor",
                                        io::get_double(params, "partial_rotary_factor", 1.0, pctx), ctx);
  DIFFUSE_CHECK(partial == 1.0, ctx, ": partial_rotary_factor ", partial, " is not supported (only 1.0)");

  std::string type = io::get_string(params, "rope_type", io::get_string(params, "type", "default", pctx), pctx);
  // Qwen2.5-VL's {"type": "mrope"} is default RoPE with M-RoPE sections.
  if (type == "mrope") type = "default";
  if (type == "default") {
    rope.kind = RopeKind::Default;
  } else if (type == "yarn") {
    rope.kind = RopeKind::Yarn;
  } else {
    fail(pctx, ": rope_type '", type, "' is not supported (default, mrope, yarn)");
  }

  rope.mrope_section = io::get_int_array(params, "mrope_section", {}, pctx);
  rope.mrope_interleaved = io::get_bool(params, "mrope_interleaved", false, pctx);
  if (!rope.mrope_section.empty()) {
    DIFFUSE_CHECK(rope.mrope_section.size() == 3, pctx, ": mrope_section must have 3 entries (t, h, w)");
    for (const int64_t s : rope.mrope_section) DIFFUSE_CHECK(s >= 0, pctx, ": mrope_section has a negative entry");
    const int64_t sum = std::accumulate(rope.mrope_section.begin(), rope.mrope_section.end(), int64_t{0});
    // The plain merge splits cos/sin into mrope_section*2 chunks, which must cover head_dim.
    DIFFUSE_CHECK(rope.mrope_interleaved || 2 * sum == head_dim, pctx, ": mrope_section sums to ", sum,
                  ", expected head_dim / 2 = ", head_dim / 2);
  }

  if (rope.kind == RopeKind::Yarn) {
    YarnParams& y = rope.yarn;
    const auto factor = opt_double(params, "factor", pctx);
    DIFFUSE_CHECK(factor.has_value(), pctx, ": yarn needs 'factor'");
    y.factor = *factor;
    DIFFUSE_CHECK(y.factor >= 1.0, pctx, ": yarn factor must be >= 1, got ", y.factor);
    const auto orig = io::get_optional_int(params, "original_max_position_embeddings", pctx);
    y.original_max_position_embeddings =
        orig ? *orig : io::get_int(text, "max_position_embeddings", 0, ctx);
    DIFFUSE_CHECK(y.original_max_position_embeddings > 0, pctx,
                  ": yarn needs a positive original_max_position_embeddings");
    // beta_fast/beta_slow: `or 32` / `or 1` in the reference, so 0 also takes the default.
    y.beta_fast = opt_double(params, "beta_fast", pctx).value_or(0.0);
    if (y.beta_fast == 0.0) y.beta_fast = 32.0;
    y.beta_slow = opt_double(params, "beta_slow", pctx).value_or(0.0);
    if (y.beta_slow == 0.0) y.beta_slow = 1.0;
    DIFFUSE_CHECK(y.beta_fast > 0 && y.beta_slow > 0, pctx, ": yarn beta_fast/beta_slow must be positive");
    y.mscale = opt_double(params, "mscale", pctx);
    y.mscale_all_dim = opt_double(params, "mscale_all_dim", pctx);
    y.attention_factor = opt_double(params, "attention_factor", pctx);
    y.truncate = io::get_bool(params, "truncate", true, pctx);
  }

  rope.llama_4_scaling_beta = opt_double(params, "llama_4_scaling_beta", pctx);
  if (rope.llama_4_scaling_beta) {
    DIFFUSE_CHECK(fam.family == DecoderLlmFamily::Mistral, pctx,
                  ": llama_4_scaling_beta is only applied by the Ministral 3 attention");
    const auto orig = io::get_optional_int(params, "original_max_position_embeddings", pctx);
    DIFFUSE_CHECK(orig && *orig > 0, pctx, ": llama_4_scaling_beta needs original_max_position_embeddings");
    rope.llama_4_original_max_position_embeddings = *orig;
  }
  return rope;
}

}  // namespace

DecoderLlmConfig DecoderLlmConfig::from_json(const io::Json& json, const std::string& context) {
  DIFFUSE_CHECK(json.is_object(), context, ": config must be a JSON object");
  const std::string outer_type = io::get_string(json, "model_type", "", context);
  // Text fields: the nested text_config wins; fields it lacks fall back to the flat top level
  // (Qwen2.5-VL configs saved by transformers 4.5x carry both copies).
  io::Json merged;
  const io::Json* text = &json;
  std::string ctx = context;
  if (auto it = json.find("text_config"); it != json.end() && it->is_object()) {
    merged = json;
    merged.erase("text_config");
    for (const auto& [key, value] : it->items()) merged[key] = value;
    text = &merged;
    ctx = context + ": text_config";
  }
  DecoderLlmConfig c;
  c.model_type = io::get_string(*text, "model_type", outer_type, ctx);
  if (auto it = json.find("architectures"); it != json.end() && it->is_array() && !it->empty() && it->front().is_string()) {
    c.architecture = it->front().get<std::string>();
  }
  auto fam = family_of(c.model_type);
  if (!fam) fam = family_of(outer_type);
  DIFFUSE_CHECK(fam.has_value(), ctx, ": model_type '", c.model_type,
                "' is not a supported decoder text encoder (qwen2_5_vl, qwen3_vl, ministral3, mistral)");
  c.family = fam->family;

  c.hidden_size = io::require_int(*text, "hidden_size", ctx);
  c.intermediate_size = io::require_int(*text, "intermediate_size", ctx);
  c.num_hidden_layers = io::require_int(*text, "num_hidden_layers", ctx);
  c.num_attention_heads = io::require_int(*text, "num_attention_heads", ctx);
  c.vocab_size = io::require_int(*text, "vocab_size", ctx);
  c.num_key_value_heads = io::get_optional_int(*text, "num_key_value_heads", ctx).value_or(c.num_attention_heads);
  for (const auto& [name, v] : {std::pair{"hidden_size", c.hidden_size}, {"intermediate_size", c.intermediate_size},
                                {"num_hidden_layers", c.num_hidden_layers},
                                {"num_attention_heads", c.num_attention_heads},
                                {"num_key_value_heads", c.num_key_value_heads}, {"vocab_size", c.vocab_size}}) {
    DIFFUSE_CHECK(v > 0, ctx, ": field '", name, "' must be positive, got ", v);
  }
  DIFFUSE_CHECK(c.num_attention_heads % c.num_key_value_heads == 0, ctx, ": num_attention_heads ",
                c.num_attention_heads, " is not a multiple of num_key_value_heads ", c.num_key_value_heads);
  const auto head_dim = io::get_optional_int(*text, "head_dim", ctx);
  if (head_dim) {
    c.head_dim = *head_dim;
  } else {
    DIFFUSE_CHECK(c.hidden_size % c.num_attention_heads == 0, ctx, ": hidden_size ", c.hidden_size,
                  " is not a multiple of num_attention_heads ", c.num_attention_heads, " and head_dim is absent");
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  DIFFUSE_CHECK(c.head_dim > 0 && c.head_dim % 2 == 0, ctx, ": head_dim must be positive and even, got ",
                c.head_dim);
  c.rms_norm_eps = io::get_double(*text, "rms_norm_eps", fam->rms_norm_eps, ctx);
  DIFFUSE_CHECK(c.rms_norm_eps > 0, ctx, ": rms_norm_eps must be positive");

  const std::string act = io::get_string(*text, "hidden_act", "silu", ctx);
  DIFFUSE_CHECK(act == "silu", ctx, ": hidden_act '", act, "' is not supported (silu)");

  switch (c.family) {
    case DecoderLlmFamily::Qwen2:
      c.qkv_bias = true;
      c.o_bias = false;
      break;
    case DecoderLlmFamily::Qwen3:
      c.qkv_bias = c.o_bias = io::get_bool(*text, "attention_bias", false, ctx);
      c.qk_norm = true;
      break;
    case DecoderLlmFamily::Mistral:
      break;
  }
  if (c.family != DecoderLlmFamily::Mistral) {
    DIFFUSE_CHECK(!io::get_bool(*text, "use_sliding_window", false, ctx), ctx,
                  ": use_sliding_window = true is not supported");
  } else {
    c.sliding_window = io::get_optional_int(*text, "sliding_window", ctx);
    DIFFUSE_CHECK(!c.sliding_window || *c.sliding_window > 0, ctx, ": sliding_window must be positive");
  }
  c.rope = parse_rope(*text, *fam, c.model_type, c.head_dim, ctx);
  return c;
}

}  // namespace diffuse::models
