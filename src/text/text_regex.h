// Regular expressions of tokenizer files (pre-tokenizer splits, Replace normalizers), run by
// PCRE2 in UTF-8 + Unicode-properties mode so that \p{L}, \p{N} and \s see the whole of
// Unicode as the reference (Oniguruma in Hugging Face tokenizers) does. Known difference:
// PCRE2's \s also matches U+0085 and U+180E, which Oniguruma's White_Space-based \s
// handles differently; no tokenizer pattern seen so far is affected.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace diffuse::text {

struct MatchSpan {
  size_t begin = 0, end = 0;  // byte offsets, end exclusive
};

class TextRegex {
 public:
  // Compiles `pattern`; an invalid pattern throws diffuse::Error naming `context` and the
  // offset PCRE2 reports.
  static TextRegex compile(const std::string& pattern, const std::string& context);
  // Matches `text` literally (a "String" pattern in tokenizer.json).
  static TextRegex literal(const std::string& text, const std::string& context);

  // All non-overlapping matches, left to right. `text` must be valid UTF-8. After an empty
  // match the search resumes one character further on, as Perl and Rust do.
  std::vector<MatchSpan> find_all(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  TextRegex(std::shared_ptr<const Compiled> code, std::string pattern)
      : code_(std::move(code)), pattern_(std::move(pattern)) {}
  static TextRegex build(const std::string& pattern, bool literal, const std::string& context);

  std::shared_ptr<const Compiled> code_;  // immutable after compile; shared by copies
  std::string pattern_;
};

}  // namespace diffuse::text
