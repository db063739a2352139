#include "models/text/clip_text_model_config.h"

#include "runtime/error.h"

namespace diffuse::models {

namespace {

// The transformers ACT2FN names whose formula ops::Activation implements exactly.
ops::Activation parse_activation(const std::string& name, const std::string& context) {
  if (name == "quick_gelu") return ops::Activation::QuickGelu;
  if (name == "gelu") return ops::Activation::GeluErf;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return ops::Activation::GeluTanh;
  if (name == "silu" || name == "swish") return ops::Activation::Silu;
  fail(context, ": field 'hidden_act' = '", name,
       "' is not a supported activation (quick_gelu, gelu, gelu_new, gelu_pytorch_tanh, silu)");
}

}  // namespace

CLIPTextModelConfig CLIPTextModelConfig::from_json(const io::Json& j, const std::string& context) {
  const std::string model_type = io::get_string(j, "model_type", "clip_text_model", context);
  DIFFUSE_CHECK(model_type == "clip_text_model", context, ": field 'model_type' = '", model_type,
                "' is not supported by the CLIP text model (expected 'clip_text_model')");
  CLIPTextModelConfig c;
  c.vocab_size = io::get_int(j, "vocab_size", c.vocab_size, context);
  c.hidden_size = io::get_int(j, "hidden_size", c.hidden_size, context);
  c.intermediate_size = io::get_int(j, "intermediate_size", c.intermediate_size, context);
  c.num_hidden_layers = io::get_int(j, "num_hidden_layers", c.num_hidden_layers, context);
  c.num_attention_heads = io::get_int(j, "num_attention_heads", c.num_attention_heads, context);
  c.max_position_embeddings = io::get_int(j, "max_position_embeddings", c.max_position_embeddings, context);
  c.hidden_act = io::get_string(j, "hidden_act", c.hidden_act, context);
  c.layer_norm_eps = io::get_double(j, "layer_norm_eps", c.layer_norm_eps, context);
  c.eos_token_id = io::get_int(j, "eos_token_id", c.eos_token_id, context);
  c.activation = parse_activation(c.hidden_act, context);

  const auto positive = [&](int64_t v, const char* field) {
    DIFFUSE_CHECK(v > 0, context, ": field '", field, "' = ", v, " must be positive");
  };
  positive(c.vocab_size, "vocab_size");
  positive(c.hidden_size, "hidden_size");
  positive(c.intermediate_size, "intermediate_size");
  positive(c.num_hidden_layers, "num_hidden_layers");
  positive(c.num_attention_heads, "num_attention_heads");
  positive(c.max_position_embeddings, "max_position_embeddings");
  DIFFUSE_CHECK(c.hidden_size % c.num_attention_heads == 0, context, ": field 'hidden_size' = ", c.hidden_size,
                " is not divisible by 'num_attention_heads' = ", c.num_attention_heads);
  DIFFUSE_CHECK(c.layer_norm_eps >= 0, context, ": field 'layer_norm_eps' = ", c.layer_norm_eps,
                " must not be negative");
  return c;
}

}  // namespace diffuse::models
