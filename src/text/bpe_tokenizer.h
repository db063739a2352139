// A BPE tokenizer configured entirely by Hugging Face tokenizer files: Qwen2.5 / Qwen3
// (Qwen-Image, Nucleus-Image), Mistral Tekken (ERNIE-Image) and CLIP (FLUX.1) all run
// through this one engine.
//
// encode(text):
//   1. added tokens with normalized=false are cut out of the raw text;
//   2. each remaining stretch is normalized, then added tokens with normalized=true are cut
//      out of the normalized text;
//   3. the rest is pre-tokenized into pieces and each piece is BPE-merged into ids;
//   4. with add_special_tokens, the post-processor's ids are put around the result.
//
// Sources: a tokenizer.json (plus tokenizer_config.json / special_tokens_map.json next to
// it), or a CLIP / Qwen2 folder with vocab.json + merges.txt (text/vocab_files.h). The
// tokenizer.json post-processor decides what add_special_tokens adds; when it is null,
// tokenizer_config.json's add_bos_token / add_eos_token do (as transformers' Llama-style
// fast tokenizers rebuild it).
//
// All methods are const and safe to call from several threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer_json.h"

namespace diffuse::text {

struct PaddedTokens {
  std::vector<int32_t> ids;             // exactly max_length
  std::vector<int32_t> attention_mask;  // 1 for real tokens (specials included), 0 for padding
};

class BpeTokenizer {
 public:
  // `path` is a tokenizer folder (tokenizer.json, or vocab.json + merges.txt) or a
  // tokenizer.json file. Errors are diffuse::Error naming the file and field at fault.
  static BpeTokenizer load(const std::string& path);

  // Text must be valid UTF-8 (otherwise diffuse::Error with the byte offset).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
  // transformers' tokenizer(text, max_length=L, truncation=True): the text's ids are cut
  // from the end so that, with the special tokens, at most max_length remain.
  std::vector<int32_t> encode_truncated(std::string_view text, size_t max_length, bool add_special_tokens) const;
  // ... and padding="max_length": right-padded with pad_id() to exactly max_length.
  PaddedTokens encode_padded(std::string_view text, size_t max_length, bool add_special_tokens) const;

  // Ids back to text; with skip_special, special added tokens are left out. An id outside
  // the vocabulary is an error. Bytes cut between tokens come out as U+FFFD.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  // The vocabulary (or added-token) string of an id: byte-level form, e.g. "Ġworld".
  std::optional<std::string> id_to_token(int32_t id) const;
  bool is_special(int32_t id) const;

  int32_t vocab_size() const { return vocab_size_; }  // one past the largest id
  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }
  std::optional<int32_t> pad_id() const { return pad_id_; }
  std::optional<int32_t> unk_id() const { return unk_id_; }
  std::optional<int64_t> model_max_length() const { return model_max_length_; }
  // How many ids add_special_tokens puts around a text.
  size_t num_special_tokens_to_add() const { return parts_.post_processor.added_count(); }
  const std::string& origin() const { return origin_; }

 private:
  explicit BpeTokenizer(TokenizerParts parts) : parts_(std::move(parts)) {}
  void encode_plain(const std::string& text, std::vector<int32_t>& out) const;

  TokenizerParts parts_;
  std::string origin_;
  int32_t vocab_size_ = 0;
  std::optional<int32_t> bos_id_, eos_id_, pad_id_, unk_id_;
  std::optional<int64_t> model_max_length_;
};

}  // namespace diffuse::text
