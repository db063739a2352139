// Decoder-only LLM as a text encoder: the text model of Qwen2.5-VL (Qwen-Image), Qwen3-VL
// (NucleusMoE-Image) and Ministral 3 (ERNIE-Image), returning entries of transformers'
// output_hidden_states tuple:
//   hidden_states[0]        = embed_tokens(input_ids)
//   hidden_states[i], i < N = raw output of layer i-1 (residual stream, not normed)
//   hidden_states[N]        = norm(output of layer N-1)
// Only the layers the wanted entries need are loaded and run (ERNIE takes [-2], Nucleus [-8]).
// M-RoPE reduces to 1-D RoPE for text; positions are cumsum(mask) - 1 (pads get 1, as the
// reference's get_rope_index), so valid tokens get 0..n-1 whatever the padding side.
#pragma once

#include <string>
#include <vector>

#include "io/weight_binder.h"
#include "models/common/model_options.h"
#include "models/common/trace.h"
#include "models/text/decoder_llm_config.h"
#include "models/text/decoder_llm_layer.h"

namespace diffuse::models {

// Where the text model's weights live in a checkpoint (without the trailing '.'):
//   "model"                  legacy Qwen2.5-VL (Qwen-Image text_encoder)
//   "model.language_model"   transformers v5 layout (Qwen3-VL, Qwen2.5-VL, Mistral3ForConditionalGeneration)
//   "language_model.model"   older Mistral3ForConditionalGeneration
//   "language_model"         Mistral3Model (ERNIE-Image text_encoder)
// Picked from the names present (`<prefix>.embed_tokens.weight`); in expected-only mode the
// layout the family's checkpoints ship in: "model" (Qwen2), "model.language_model" (Qwen3 and
// Mistral3ForConditionalGeneration), "language_model" (Mistral3Model).
std::string decoder_llm_weight_prefix(const io::WeightBinder& binder, const DecoderLlmConfig& config);

// Python-style hidden-state indices (negative from the end of the N+1 entries) -> [0, N].
int64_t decoder_llm_hidden_index(const DecoderLlmConfig& config, int64_t index);
// Layers to run for the given indices (N if any index is the final-normed entry).
int64_t decoder_llm_layers_needed(const DecoderLlmConfig& config, const std::vector<int>& indices);

class DecoderLlm {
 public:
  // Takes <prefix>.embed_tokens.weight, <prefix>.layers.{i}.* for i < layers_to_run, and
  // <prefix>.norm.weight when all layers run (layers_to_run < 0 means all). The vision tower,
  // lm_head, and the layers / norm not run are left in the checkpoint and not reported as
  // unexpected.
  DecoderLlm(const DecoderLlmConfig& config, io::WeightBinder& binder, const ModelOptions& options,
             int64_t layers_to_run = -1);

  const DecoderLlmConfig& config() const { return config_; }
  const std::string& weight_prefix() const { return prefix_; }
  int64_t layers_loaded() const { return static_cast<int64_t>(layers_.size()); }

  // input_ids [B, S] I64 / I32 in [0, vocab); attention_mask [B, S] of 0/1 (I64, I32, U8, Bool
  // or F32), undefined = all ones. Returns hidden_states[i] for each of `indices` (in that
  // order), [B, S, hidden] f32; values at padding positions are unspecified. Runs only up to
  // the last layer needed. Trace names: rope.inv_freq, position_ids [B, S] I64,
  // rope.cos / rope.sin [B, S, head_dim], llama4_scale [S] (Ministral 3), then per layer
  // <prefix>.layers.{i}.self_attn / .mlp.
  std::vector<Tensor> forward(const Tensor& input_ids, const Tensor& attention_mask, const std::vector<int>& indices,
                              const Trace* trace = nullptr) const;

 private:
  Tensor embed(const Tensor& input_ids) const;

  DecoderLlmConfig config_;
  ModelOptions options_;
  std::string prefix_;
  Tensor embed_tokens_;  // [vocab, hidden] as stored (a view; rows converted on lookup)
  std::vector<DecoderLlmLayer> layers_;
  Tensor norm_;          // f32 [hidden], only when all layers are loaded
  Tensor inv_freq_;      // [head_dim / 2] f32
  float attention_factor_ = 1.0f;
};

}  // namespace diffuse::models
