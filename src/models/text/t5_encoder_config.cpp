#include "models/text/t5_encoder_config.h"

#include <vector>

#include "runtime/error.h"

namespace diffuse::models {

namespace {

std::vector<std::string> split_dashes(const std::string& s) {
  std::vector<std::string> parts(1);
  for (char c : s) {
    if (c == '-') {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  return parts;
}

T5Activation parse_activation(const std::string& name, const std::string& context) {
  // The transformers ACT2FN names whose formula we implement.
  if (name == "relu") return T5Activation::Relu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return T5Activation::GeluTanh;
  if (name == "gelu") return T5Activation::GeluErf;
  if (name == "silu" || name == "swish") return T5Activation::Silu;
  fail(context, ": field 'dense_act_fn' = '", name,
       "' is not a supported activation (relu, gelu_new, gelu_pytorch_tanh, gelu, silu)");
}

}  // namespace

T5EncoderConfig T5EncoderConfig::from_json(const io::Json& j, const std::string& context) {
  const std::string model_type = io::get_string(j, "model_type", "t5", context);
  // umt5 / mt5 variants differ (per-layer position bias, other FFN); only t5 is implemented.
  DIFFUSE_CHECK(model_type == "t5", context, ": field 'model_type' = '", model_type,
                "' is not supported by the T5 encoder (expected 't5')");
  T5EncoderConfig c;
  c.vocab_size = io::get_int(j, "vocab_size", c.vocab_size, context);
  c.d_model = io::get_int(j, "d_model", c.d_model, context);
  c.d_kv = io::get_int(j, "d_kv", c.d_kv, context);
  c.d_ff = io::get_int(j, "d_ff", c.d_ff, context);
  c.num_layers = io::get_int(j, "num_layers", c.num_layers, context);
  c.num_heads = io::get_int(j, "num_heads", c.num_heads, context);
  c.relative_attention_num_buckets =
      io::get_int(j, "relative_attention_num_buckets", c.relative_attention_num_buckets, context);
  c.relative_attention_max_distance =
      io::get_int(j, "relative_attention_max_distance", c.relative_attention_max_distance, context);
  c.layer_norm_epsilon = io::get_double(j, "layer_norm_epsilon", c.layer_norm_epsilon, context);
  c.feed_forward_proj = io::get_string(j, "feed_forward_proj", c.feed_forward_proj, context);

  const std::vector<std::string> act = split_dashes(c.feed_forward_proj);
  DIFFUSE_CHECK((act.size() == 1 || (act.size() == 2 && act[0] == "gated")) && !act.back().empty(), context,
                ": field 'feed_forward_proj' = '", c.feed_forward_proj,
                "' is not of the form 'gated-<activation>' or '<activation>'");
  std::string act_name = c.feed_forward_proj == "gated-gelu" ? "gelu_new" : act.back();
  c.is_gated_act = act[0] == "gated";
  act_name = io::get_string(j, "dense_act_fn", act_name, context);
  c.is_gated_act = io::get_bool(j, "is_gated_act", c.is_gated_act, context);
  c.activation = parse_activation(act_name, context);

  const auto positive = [&](int64_t v, const char* field) {
    DIFFUSE_CHECK(v > 0, context, ": field '", field, "' = ", v, " must be positive");
  };
  positive(c.vocab_size, "vocab_size");
  positive(c.d_model, "d_model");
  positive(c.d_kv, "d_kv");
  positive(c.d_ff, "d_ff");
  positive(c.num_layers, "num_layers");
  positive(c.num_heads, "num_heads");
  DIFFUSE_CHECK(c.layer_norm_epsilon >= 0, context, ": field 'layer_norm_epsilon' = ", c.layer_norm_epsilon,
                " must not be negative");
  // Bidirectional buckets: half per direction, half of those exact. Fewer than 4 buckets
  // leaves no exact range, and a max distance within the exact range leaves no log range
  // (the reference would divide by log(1) = 0).
  DIFFUSE_CHECK(c.relative_attention_num_buckets >= 4, context, ": field 'relative_attention_num_buckets' = ",
                c.relative_attention_num_buckets, " must be at least 4");
  DIFFUSE_CHECK(c.relative_attention_max_distance > c.relative_attention_num_buckets / 4, context,
                ": field 'relative_attention_max_distance' = ", c.relative_attention_max_distance,
                " must exceed the exact range of ", c.relative_attention_num_buckets / 4, " positions");
  return c;
}

}  // namespace diffuse::models
