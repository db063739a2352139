// One decoder layer of the LLM text encoders (Qwen2 / Qwen3 / Mistral DecoderLayer):
//   h += o_proj(attention(rope(q_norm?(q_proj x)), rope(k_norm?(k_proj x)), v_proj x)),  x = input_layernorm(h)
//   h += down_proj(silu(gate_proj x) * up_proj x),                                     x = post_attention_layernorm(h)
// Attention is causal + key padding, grouped-query, scale 1/sqrt(head_dim); Ministral 3
// multiplies q by the Llama-4 position scale after RoPE.
#pragma once

#include <string>

#include "io/weight_binder.h"
#include "models/common/linear_layer.h"
#include "models/common/model_options.h"
#include "models/common/trace.h"
#include "models/text/decoder_llm_config.h"

namespace diffuse::models {

// What every layer of one forward call shares.
struct DecoderLlmStep {
  Tensor cos, sin;      // [B, S, head_dim] f32 (YaRN attention factor included)
  Tensor query_scale;   // [S, 1, 1] f32 Llama-4 scale, or undefined
  Tensor causal;        // [S, S] f32: 0 on and below the diagonal, -inf above
  Tensor key_mask;      // [B, S] U8 (1 = real token), or undefined when all tokens are real
};

class DecoderLlmLayer {
 public:
  DecoderLlmLayer() = default;
  // `binder` is scoped to the layer ("<prefix>.layers.<i>").
  DecoderLlmLayer(const DecoderLlmConfig& config, io::WeightBinder& binder, const ModelOptions& options);

  // h: [B, S, hidden] f32, updated in place. Trace names: <path>.self_attn (after o_proj) and
  // <path>.mlp (after down_proj), both before the residual add.
  void forward(Tensor& h, const DecoderLlmStep& step, const Trace* trace, const std::string& path) const;

 private:
  Tensor rms_norm(const Tensor& x, const Tensor& weight) const;
  Tensor attention(const Tensor& x, const DecoderLlmStep& step) const;
  Tensor gated_mlp(const Tensor& x) const;

  DecoderLlmConfig config_;  // a copy: layers stay valid when the model moves
  ModelOptions options_;
  Tensor input_layernorm_, post_attention_layernorm_;  // f32 [hidden]
  Tensor q_norm_, k_norm_;                               // f32 [head_dim] (Qwen3)
  LinearLayer q_proj_, k_proj_, v_proj_, o_proj_;
  LinearLayer gate_proj_, up_proj_, down_proj_;
};

}  // namespace diffuse::models
