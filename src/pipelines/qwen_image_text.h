// The text stage of Qwen-Image (QwenImagePipeline._get_qwen_prompt_embeds / encode_prompt):
//   text   = template.format(prompt)           (fixed system prompt, chat layout)
//   ids    = tokenizer(text, max_length = 1024 + drop_idx, truncation, pad to the longest)
//   h      = text_encoder(ids, mask).hidden_states[-1]       (after the final norm)
//   embeds = per row: the mask==1 tokens, minus the first drop_idx (system prompt and
//            "<|im_start|>user\n"), right-padded with zeros to the longest row; mask = 1 on kept
//            tokens; then cut to max_sequence_length.
// The trailing "<|im_end|>\n<|im_start|>assistant\n" tokens stay in the embeddings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/text/decoder_llm.h"
#include "text/bpe_tokenizer.h"

namespace diffuse::pipelines {

inline constexpr int64_t kQwenImageDropIdx = 34;              // template prefix tokens
inline constexpr int64_t kQwenImageTokenizerMaxLength = 1024;  // prompt tokens after the prefix
inline constexpr int64_t kQwenImageDefaultMaxSequenceLength = 512;
inline constexpr int64_t kQwenImageMaxSequenceLengthLimit = 1024;

// The templated text for one prompt.
std::string qwen_image_prompt_text(const std::string& prompt);

struct QwenImageTokens {
  Tensor input_ids;       // [B, S] I64, right-padded with the tokenizer's pad id
  Tensor attention_mask;  // [B, S] I64, 1 = real token
};

// Tokenizes the templated prompts without special tokens, each cut to 1024 + drop_idx ids,
// padded to the longest. Needs a tokenizer with a pad token (Qwen: <|endoftext|> = 151643).
QwenImageTokens tokenize_qwen_image_prompts(const text::BpeTokenizer& tokenizer,
                                            const std::vector<std::string>& prompts,
                                            int64_t drop_idx = kQwenImageDropIdx);

struct QwenImagePromptEmbeds {
  Tensor embeds;  // [B, T, hidden] f32, zeros past each row's tokens
  Tensor mask;    // [B, T] U8 (the pipeline passes None when it is all ones)
};

// The post-processing of hidden_states[-1] ([B, S, H] f32) with the tokenizer mask [B, S].
// max_sequence_length must be in [1, 1024].
QwenImagePromptEmbeds qwen_image_select_prompt_tokens(const Tensor& hidden, const Tensor& attention_mask,
                                                      int64_t drop_idx = kQwenImageDropIdx,
                                                      int64_t max_sequence_length = kQwenImageDefaultMaxSequenceLength);

// The whole prompt path with a loaded Qwen2.5-VL text model (all layers and the final norm).
QwenImagePromptEmbeds encode_qwen_image_prompts(const models::DecoderLlm& text_encoder,
                                                const text::BpeTokenizer& tokenizer,
                                                const std::vector<std::string>& prompts,
                                                int64_t max_sequence_length = kQwenImageDefaultMaxSequenceLength,
                                                int64_t drop_idx = kQwenImageDropIdx);

}  // namespace diffuse::pipelines
