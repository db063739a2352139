// The CLIP tokenizer as FLUX.1 (text_encoder, openai/clip-vit-large-patch14) calls it:
// `tokenizer(prompt, padding="max_length", max_length=77, truncation=True)` ->
// <|startoftext|>, at most 75 text ids, <|endoftext|>, then the pad token up to 77 (for
// clip-vit-large-patch14 the pad token is <|endoftext|> itself). Loads the checkpoint's
// `tokenizer/` folder in either form (tokenizer.json, or vocab.json + merges.txt).
//
// The text rules are those of CLIPTokenizerFast (and of transformers 5, whose CLIPTokenizer
// is the fast one). transformers 4's Python CLIPTokenizer differs on some non-English text:
// without ftfy it puts spaces around every CJK character and deletes control / format
// characters (U+200B...) before the CLIP regex; with ftfy it also folds ligatures, full-width
// forms and curly quotes. ASCII prompts tokenize identically in all of them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "text/bpe_tokenizer.h"

namespace diffuse::text {

class ClipTokenizer {
 public:
  // The tokenizer must define bos, eos and pad tokens and add bos/eos with special tokens.
  explicit ClipTokenizer(BpeTokenizer tokenizer);
  static ClipTokenizer load(const std::string& path);

  // Exactly max_length() ids and mask values.
  PaddedTokens encode(std::string_view prompt) const;
  // model_max_length from tokenizer_config.json, 77 (CLIP's position count) if absent.
  size_t max_length() const { return max_length_; }

  const BpeTokenizer& tokenizer() const { return tokenizer_; }

 private:
  BpeTokenizer tokenizer_;
  size_t max_length_;
};

}  // namespace diffuse::text
