// The T5 tokenizer as FLUX.1 (tokenizer_2) and Chroma (tokenizer) call it:
// `T5TokenizerFast(prompts, padding="max_length", max_length=L, truncation=True)`.
// Each prompt is segmented by the SentencePiece model, cut to L-1 pieces, closed with EOS
// (`</s>`, id 1 in T5) and right-padded with the pad id (0) to exactly L; the attention mask
// is 1 for the pieces and the EOS, 0 for padding.
//
// Known difference from the fast (tokenizers-library) tokenizer: special tokens written
// inside the prompt text ("</s>", "<extra_id_0>") are not matched as single tokens; they
// are segmented as ordinary text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"
#include "text/sentencepiece_tokenizer.h"

namespace diffuse::text {

struct TokenBatch {
  Tensor input_ids;       // [B, L] I64
  Tensor attention_mask;  // [B, L] I64: 1 = real token (incl. EOS), 0 = padding
};

class T5Tokenizer {
 public:
  // The model must define pad and EOS ids (T5's spiece.model: pad 0, eos 1, unk 2).
  explicit T5Tokenizer(SentencePieceTokenizer model);
  // Loads <tokenizer_dir>/spiece.model (a checkpoint's `tokenizer/` or `tokenizer_2/` folder).
  static T5Tokenizer from_folder(const std::string& tokenizer_dir);

  // Ids of one prompt: pieces truncated to max_length-1, then EOS; no padding.
  std::vector<int32_t> encode(const std::string& text, int64_t max_length) const;
  // Every prompt padded to exactly max_length (>= 1).
  TokenBatch operator()(const std::vector<std::string>& prompts, int64_t max_length) const;

  const SentencePieceTokenizer& model() const { return model_; }
  int32_t pad_id() const { return model_.pad_id(); }
  int32_t eos_id() const { return model_.eos_id(); }

 private:
  SentencePieceTokenizer model_;
};

}  // namespace diffuse::text
