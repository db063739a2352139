// The "pre_tokenizer" of a tokenizer.json: cuts normalized text into the pieces ("words")
// that BPE merges within. Supported types:
//   Split     pattern (String or Regex), behavior Removed / Isolated / MergedWithPrevious /
//             MergedWithNext / Contiguous, invert (the matches become the kept pieces);
//   ByteLevel add_prefix_space, use_regex (the GPT-2 pattern), then every byte of a piece is
//             replaced by its byte-level character (text/byte_unicode.h);
//   Sequence  of those.
// Other types are an error at load time. Empty pieces are dropped, as the reference does.
#pragma once

#include <string>
#include <vector>

#include "io/json_config.h"
#include "text/text_regex.h"

namespace diffuse::text {

class PreTokenizer {
 public:
  // `spec` is the "pre_tokenizer" value (null = the whole text is one piece).
  static PreTokenizer from_json(const io::Json& spec, const std::string& context);

  // Appends the pieces of `text` (valid UTF-8) to `out`.
  void split(const std::string& text, std::vector<std::string>& out) const;

  // True if a ByteLevel step maps the pieces to the byte-level alphabet.
  bool byte_level() const;

 private:
  enum class Kind { kSplit, kByteLevel };
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
  struct Step {
    Kind kind;
    std::vector<TextRegex> regex;  // kSplit: the pattern; kByteLevel: the GPT-2 pattern if use_regex
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;
  };
  static void append_steps(const io::Json& spec, const std::string& context, std::vector<Step>& out);
  static void split_piece(const std::string& piece, const TextRegex& regex, Behavior behavior, bool invert,
                          std::vector<std::string>& out);

  std::vector<Step> steps_;
};

}  // namespace diffuse::text
