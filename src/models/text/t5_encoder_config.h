// T5 encoder configuration: the transformers `T5Config` fields the encoder stack uses, read
// from a real config.json (e.g. FLUX.1 `text_encoder_2/config.json`, google/t5-v1_1-xxl) with
// the reference defaults for absent fields.
#pragma once

#include <string>

#include "io/json_config.h"

namespace diffuse::models {

// The FFN activation named by `dense_act_fn`. T5 v1.1 ("gated-gelu") uses gelu_new, the tanh
// approximation; the original T5 uses relu.
enum class T5Activation { Relu, GeluTanh, GeluErf, Silu };

struct T5EncoderConfig {
  int64_t vocab_size = 32128;
  int64_t d_model = 512;
  int64_t d_kv = 64;
  int64_t d_ff = 2048;
  int64_t num_layers = 6;
  int64_t num_heads = 8;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  std::string feed_forward_proj = "relu";
  // Derived from feed_forward_proj ("gated-<act>" or "<act>", "gated-gelu" meaning gelu_new)
  // unless config.json states them, as T5Config does (explicit fields override).
  T5Activation activation = T5Activation::Relu;
  bool is_gated_act = false;

  int64_t inner_dim() const { return num_heads * d_kv; }

  // Unsupported values that would change the math (another model_type such as umt5, an
  // unknown activation, bucket settings that leave no exact or log range) are errors naming
  // `context` and the field.
  static T5EncoderConfig from_json(const io::Json& json, const std::string& context);
};

}  // namespace diffuse::models
