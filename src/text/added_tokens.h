// Added tokens ("added_tokens" of tokenizer.json, "added_tokens_decoder" of
// tokenizer_config.json): strings such as "<|im_start|>" that are cut out of the text
// before normalization and BPE and map straight to their id.
//
// Matching follows the reference: leftmost-longest, non-overlapping. Tokens with
// normalized=false are matched on the raw text, tokens with normalized=true on the
// normalized text. A match of a single_word token is dropped if a word character (letter,
// mark, decimal digit, connector punctuation) touches it; lstrip / rstrip make the token
// swallow the whitespace to its left / right.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace diffuse::text {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;      // skipped by decode(skip_special=true)
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;   // matched after normalization instead of on the raw text
};

// A stretch of text: plain text (token_id < 0) or one added token (which may have
// swallowed whitespace through lstrip / rstrip).
struct TextSegment {
  size_t begin = 0, end = 0;
  int32_t token_id = -1;
};

class AddedVocabulary {
 public:
  // Adds `token`. Declaring the same (id, content) again keeps the first declaration; a
  // content with two ids, an id with two contents or an empty content is an error naming
  // `context`.
  void add(const AddedToken& token, const std::string& context);

  const AddedToken* find_id(int32_t id) const;
  const AddedToken* find_content(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  int32_t max_id() const;  // -1 if there are none

  // Cuts `text` at the tokens whose `normalized` flag equals `normalized`. The segments
  // cover the text in order; empty plain segments are omitted.
  std::vector<TextSegment> split(std::string_view text, bool normalized) const;

 private:
  struct Match {
    size_t begin, end;
    const AddedToken* token;
  };
  std::vector<Match> find_longest_matches(std::string_view text, bool normalized) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, size_t> by_content_;  // -> index in tokens_
  std::unordered_map<int32_t, size_t> by_id_;
  // Candidates by first byte, longest first, so the first hit at a position is the longest.
  std::vector<std::vector<size_t>> by_first_byte_ = std::vector<std::vector<size_t>>(256);
};

}  // namespace diffuse::text
