// What a Hugging Face tokenizer folder says outside tokenizer.json: tokenizer_config.json
// (special token names, add_bos_token / add_eos_token, model_max_length, tokenizer_class,
// added_tokens_decoder) and, as a fallback for the special token names,
// special_tokens_map.json. Both files are optional; malformed values are errors naming the
// file and the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "text/added_tokens.h"

namespace diffuse::text {

struct TokenizerConfig {
  std::string path;  // tokenizer_config.json, or "" when the folder has none
  std::optional<std::string> bos_token, eos_token, pad_token, unk_token;
  std::optional<bool> add_bos_token, add_eos_token;
  // nullopt when absent or "unlimited" (transformers writes 1e30 for that).
  std::optional<int64_t> model_max_length;
  std::string tokenizer_class;
  std::vector<AddedToken> added_tokens_decoder;
};

// Reads the config files of `folder` (either may be missing).
TokenizerConfig read_tokenizer_config(const std::string& folder);

}  // namespace diffuse::text
