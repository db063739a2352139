// Configuration of a decoder-only LLM used as a text encoder: the text model of
// Qwen2.5-VL (Qwen-Image), Qwen3-VL (NucleusMoE-Image) and Ministral 3 (ERNIE-Image, through
// Mistral3Model). Read from the checkpoint's config.json: flat (legacy Qwen2.5-VL, as shipped
// with Qwen-Image) or with the text fields nested in "text_config" (Qwen3-VL, Mistral3, and
// Qwen2.5-VL saved by newer transformers; a nested text_config wins, as in transformers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/json_config.h"

namespace diffuse::models {

// The modeling file the text model follows; it fixes what a config does not state.
enum class DecoderLlmFamily {
  Qwen2,    // qwen2_5_vl(_text), qwen2: q/k/v with bias, o_proj without
  Qwen3,    // qwen3_vl(_text), qwen3: per-head q_norm / k_norm, biases from attention_bias
  Mistral,  // ministral3 / mistral3 / mistral: no biases, optional Llama-4 query scaling
};

enum class RopeKind { Default, Yarn };

// YaRN parameters (transformers v5 _compute_yarn_parameters).
struct YarnParams {
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  std::optional<double> mscale;
  std::optional<double> mscale_all_dim;
  std::optional<double> attention_factor;  // explicit override of the cos/sin scale
  bool truncate = true;                    // floor/ceil the correction range
};

struct DecoderLlmRope {
  double theta = 10000.0;
  RopeKind kind = RopeKind::Default;
  // M-RoPE sections (t, h, w). With text-only input the three position rows are equal, so
  // the section merge (plain or interleaved) reduces to 1-D RoPE; kept for validation.
  std::vector<int64_t> mrope_section;
  bool mrope_interleaved = false;
  YarnParams yarn;
  // Ministral 3: q *= 1 + beta * ln(1 + floor(pos / original_max)) after RoPE.
  std::optional<double> llama_4_scaling_beta;
  int64_t llama_4_original_max_position_embeddings = 0;
};

struct DecoderLlmConfig {
  std::string model_type;  // of the text model, e.g. "qwen2_5_vl", "qwen3_vl_text", "ministral3"
  std::string architecture;  // config "architectures"[0] (decides the default checkpoint layout)
  DecoderLlmFamily family = DecoderLlmFamily::Qwen2;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // explicit, or hidden_size / num_attention_heads
  int64_t vocab_size = 0;
  double rms_norm_eps = 1e-6;
  bool qkv_bias = false;
  bool o_bias = false;
  bool qk_norm = false;
  // Mistral's sliding window (null in Ministral 3); sequences longer than it are rejected.
  std::optional<int64_t> sliding_window;
  DecoderLlmRope rope;

  // Errors (naming `context` and the field) for an unknown model_type, an activation other
  // than silu, an unsupported rope type, partial rotary, an enabled Qwen sliding window, or
  // inconsistent sizes.
  static DecoderLlmConfig from_json(const io::Json& json, const std::string& context);
};

}  // namespace diffuse::models
