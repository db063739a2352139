// The "decoder" of a tokenizer.json: turns token strings back into text. Supported:
// ByteLevel (each token's byte-level characters back to bytes; a token with a character
// outside the byte alphabet, e.g. an added token like "<｜end｜>", contributes its own UTF-8
// bytes) and null (tokens joined with spaces, as the reference does without a decoder).
// Bytes that do not form valid UTF-8 (a character cut between tokens) become U+FFFD.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "io/json_config.h"

namespace diffuse::text {

class TokenDecoder {
 public:
  static TokenDecoder from_json(const io::Json& spec, const std::string& context);

  std::string decode(const std::vector<std::string_view>& tokens) const;

 private:
  bool byte_level_ = false;
};

}  // namespace diffuse::text
