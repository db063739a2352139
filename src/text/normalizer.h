// The "normalizer" of a tokenizer.json: text rewriting applied before pre-tokenization.
// Supported types: NFC, NFD, NFKC, NFKD (utf8proc), Lowercase, Replace (String or Regex
// pattern, literal content), Strip (strip_left / strip_right of Unicode whitespace) and
// Sequence of those. Any other type is an error at load time, so a tokenizer is never run
// with a step silently missing.
#pragma once

#include <string>
#include <vector>

#include "io/json_config.h"
#include "text/text_regex.h"

namespace diffuse::text {

class Normalizer {
 public:
  // `spec` is the "normalizer" value (null = no normalization). `context` names the file.
  static Normalizer from_json(const io::Json& spec, const std::string& context);

  bool empty() const { return steps_.empty(); }
  // `text` must be valid UTF-8; the result is valid UTF-8.
  std::string apply(std::string text) const;

 private:
  enum class Kind { kNfc, kNfd, kNfkc, kNfkd, kLowercase, kReplace, kStrip };
  struct Step {
    Kind kind;
    std::vector<TextRegex> pattern;  // kReplace: exactly one (TextRegex has no default state)
    std::string content;             // kReplace
    bool strip_left = false, strip_right = false;  // kStrip
  };
  static void append_steps(const io::Json& spec, const std::string& context, std::vector<Step>& out);

  std::vector<Step> steps_;
};

// Full Unicode lowercase as Rust's str::to_lowercase and JavaScript's toLowerCase compute
// it: simple per-character mappings from utf8proc, plus the two context rules those apply
// (U+0130 -> "i" U+0307, and Greek capital sigma -> final sigma at the end of a word).
std::string unicode_lowercase(const std::string& text);

}  // namespace diffuse::text
