// CLIP text tower configuration: the transformers `CLIPTextConfig` fields CLIPTextModel uses,
// read from a real config.json (e.g. FLUX.1 `text_encoder/config.json`,
// openai/clip-vit-large-patch14) with the reference defaults for absent fields.
#pragma once

#include <cstdint>
#include <string>

#include "io/json_config.h"
#include "ops/activation.h"

namespace diffuse::models {

struct CLIPTextModelConfig {
  int64_t vocab_size = 49408;
  int64_t hidden_size = 512;
  int64_t intermediate_size = 2048;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 8;
  int64_t max_position_embeddings = 77;
  std::string hidden_act = "quick_gelu";
  double layer_norm_eps = 1e-5;
  // Picks the pooled position (see CLIPTextModel::pooled_positions). openai's own configs
  // carry the legacy value 2, which is not their end-of-text id.
  int64_t eos_token_id = 49407;
  // hidden_act as an MLP activation (fused into fc1's GEMM).
  ops::Activation activation = ops::Activation::QuickGelu;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }

  // Errors name `context` and the field: another model_type (a full "clip" config holds the
  // text tower under text_config), an activation we do not implement, sizes that are not
  // positive, or a width the heads do not divide.
  static CLIPTextModelConfig from_json(const io::Json& json, const std::string& context);
};

}  // namespace diffuse::models
