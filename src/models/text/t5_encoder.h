// T5 encoder stack (transformers `T5EncoderModel`, T5 v1.1 layout as in FLUX.1 text_encoder_2 and
// Chroma text_encoder):
//   h = shared[input_ids]                        (no sqrt(d) scaling)
//   per block i:  h += o(attention(q, k, v of T5LayerNorm(h)) + position bias)   (no 1/sqrt(d_kv))
//                 h += wo(act(wi_0 x) * wi_1 x), x = T5LayerNorm(h)             (gated; "relu": wo(act(wi x)))
//   out = final_layer_norm(h)
// The relative position bias lives in block 0 only and is reused by every block. The attention
// mask, when given, masks padding keys only; pad query rows stay defined. FLUX calls the encoder
// without a mask (pads are attended), Chroma with the tokenizer mask.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/weight_binder.h"
#include "models/common/linear_layer.h"
#include "models/common/model_options.h"
#include "models/common/trace.h"
#include "models/text/t5_encoder_config.h"

namespace diffuse::models {

class T5Encoder {
 public:
  // Takes (names relative to the binder's scope) shared.weight, encoder.block.{i}.layer.0.
  // SelfAttention.{q,k,v,o}.weight, encoder.block.0.layer.0.SelfAttention.relative_attention_bias.
  // weight, encoder.block.{i}.layer.{0,1}.layer_norm.weight, encoder.block.{i}.layer.1.
  // DenseReluDense.{wi_0,wi_1,wo | wi,wo}.weight, encoder.final_layer_norm.weight. The tied copy
  // encoder.embed_tokens.weight is accepted when the checkpoint stores it (used if shared.weight
  // is absent).
  T5Encoder(const T5EncoderConfig& config, io::WeightBinder& binder, const ModelOptions& options);

  const T5EncoderConfig& config() const { return config_; }

  // input_ids [B, L] I64 or I32 (each in [0, vocab_size)); attention_mask [B, L] (I64, I32,
  // Bool, U8 or F32; nonzero = real token) or null. Returns last_hidden_state [B, L, d_model] f32.
  // Trace names: encoder.position_bias (bias + additive key mask, [B, H, L, L]),
  // encoder.block.{i}.layer.0.SelfAttention, encoder.block.{i}.layer.1.DenseReluDense (sublayer
  // outputs before the residual add), encoder.block.{N-1}.output (before the final norm).
  Tensor forward(const Tensor& input_ids, const Tensor* attention_mask, const Trace* trace = nullptr) const;

  // transformers' output_hidden_states tuple: N+1 tensors [B, L, d_model]: [0] the embeddings,
  // [i] the output of block i-1 for 1 <= i < N, [N] the final-normed output (= forward()).
  std::vector<Tensor> forward_hidden_states(const Tensor& input_ids, const Tensor* attention_mask,
                                            const Trace* trace = nullptr) const;

 private:
  struct Block {
    Tensor attn_norm;  // layer.0.layer_norm.weight, f32
    LinearLayer q, k, v, o;
    Tensor ffn_norm;  // layer.1.layer_norm.weight, f32
    LinearLayer wi_0, wi_1, wo;  // non-gated FFNs use wi_0 for `wi`
  };

  Tensor run(const Tensor& input_ids, const Tensor* attention_mask, const Trace* trace,
             std::vector<Tensor>* hidden_states) const;
  Tensor embed(const Tensor& input_ids) const;
  Tensor rms_norm(const Tensor& x, const Tensor& weight) const;
  // no_real_key[b]: batch row b has no real token (its attention is uniform, as in the reference).
  Tensor attention_block(const Block& b, const Tensor& h, const Tensor& bias, const Tensor& key_mask,
                         const std::vector<uint8_t>& no_real_key) const;
  Tensor feed_forward(const Block& b, const Tensor& x) const;

  T5EncoderConfig config_;
  ModelOptions options_;
  Tensor shared_;                // [vocab, d_model] as stored (a view; rows converted on lookup)
  Tensor relative_attention_bias_;  // [num_buckets, num_heads], f32
  std::vector<Block> blocks_;
  Tensor final_norm_;
};

}  // namespace diffuse::models
