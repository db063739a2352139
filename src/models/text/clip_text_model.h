// CLIP text tower (transformers `CLIPTextModel` / `CLIPTextTransformer`), as FLUX.1 uses it
// for its pooled text embedding (`text_encoder`, openai/clip-vit-large-patch14):
//   h = token_embedding[ids] + position_embedding[0..L)
//   per layer i (pre-LN):  h += out_proj(causal attention(q, k, v of layer_norm1(h)))
//                          h += fc2(act(fc1(layer_norm2(h))))
//   last_hidden_state = final_layer_norm(h)
//   pooled_output     = last_hidden_state at each row's end-of-text position
// Attention is causal (position i sees keys 0..i), scaled by 1/sqrt(head_dim).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/weight_binder.h"
#include "models/common/linear_layer.h"
#include "models/common/model_options.h"
#include "models/common/trace.h"
#include "models/text/clip_text_model_config.h"

namespace diffuse::models {

class CLIPTextModel {
 public:
  struct Output {
    Tensor last_hidden_state;  // [B, L, hidden_size] f32
    Tensor pooled_output;      // [B, hidden_size] f32
  };

  // Takes (names relative to the binder's scope) text_model.embeddings.{token,position}_embedding.
  // weight, text_model.encoder.layers.{i}.self_attn.{q,k,v,out}_proj.{weight,bias},
  // text_model.encoder.layers.{i}.layer_norm{1,2}.{weight,bias}, text_model.encoder.layers.{i}.
  // mlp.fc{1,2}.{weight,bias}, text_model.final_layer_norm.{weight,bias}. The buffer
  // text_model.embeddings.position_ids, stored by older checkpoints, is ignored as transformers
  // ignores it (positions are always 0..L-1).
  CLIPTextModel(const CLIPTextModelConfig& config, io::WeightBinder& binder, const ModelOptions& options);

  const CLIPTextModelConfig& config() const { return config_; }

  // input_ids [B, L] I64 or I32, each in [0, vocab_size), L <= max_position_embeddings.
  // Trace names: text_model.embeddings, text_model.encoder.layers.{i}.self_attn and .mlp
  // (sublayer outputs before the residual add), text_model.encoder.layers.{i} (layer output),
  // text_model.final_layer_norm.
  Output forward(const Tensor& input_ids, const Trace* trace = nullptr) const;

  // With a padding mask [B, L] (I64, I32, Bool, U8 or F32 holding 0/1; 1 = real token): keys
  // whose mask is 0 are not attended, on top of the causal mask. A query row that then sees no
  // key at all (only possible when the mask hides position 0) outputs zero attention; the
  // reference's result there depends on its version. CLIP tokenizers pad on the right, where
  // this never happens.
  Output forward(const Tensor& input_ids, const Tensor& attention_mask, const Trace* trace = nullptr) const;

  // transformers' pooling index per row: with the legacy eos_token_id == 2 the argmax of the ids
  // (the end-of-text token has the largest id in CLIP's vocabulary; the first maximum wins),
  // otherwise the first position holding eos_token_id (0 if the row has none).
  static std::vector<int64_t> pooled_positions(const Tensor& input_ids, int64_t eos_token_id);

 private:
  struct Layer {
    Tensor layer_norm1_weight, layer_norm1_bias;  // f32
    LinearLayer q_proj, k_proj, v_proj, out_proj;
    Tensor layer_norm2_weight, layer_norm2_bias;  // f32
    LinearLayer fc1, fc2;
  };

  Output run(const Tensor& input_ids, const Tensor* attention_mask, const Trace* trace) const;
  Tensor embed(const Tensor& input_ids) const;  // token + position embeddings, f32
  Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias) const;
  Tensor self_attention(const Layer& layer, const Tensor& x, const Tensor& causal, const Tensor& key_mask) const;

  CLIPTextModelConfig config_;
  ModelOptions options_;
  bool complete_ = true;  // every weight was bound (false in expected-only mode or when missing)
  Tensor token_embedding_;     // [vocab, hidden] as stored (a view; rows converted on lookup)
  Tensor position_embedding_;  // [max_positions, hidden] f32
  std::vector<Layer> layers_;
  Tensor final_layer_norm_weight_, final_layer_norm_bias_;  // f32
};

}  // namespace diffuse::models
