#include "text/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>

#include "io/printable.h"
#include "runtime/error.h"
#include "text/utf8_codec.h"

namespace diffuse::text {

namespace {

// Regex \w as the reference evaluates it for single_word: letters, marks, decimal digits
// and connector punctuation ('_').
bool is_word_char(char32_t cp) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// The last character of text[0, end), which must not be empty.
CodePoint last_char(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return decode_utf8_at(text, start);
}

}  // namespace

void AddedVocabulary::add(const AddedToken& token, const std::string& context) {
  DIFFUSE_CHECK(!token.content.empty(), context, ": added token ", token.id, " has empty content");
  DIFFUSE_CHECK(token.id >= 0, context, ": added token '", io::printable(token.content), "' has negative id ",
                token.id);
  DIFFUSE_CHECK(!find_invalid_utf8(token.content), context, ": added token ", token.id, " is not valid UTF-8");
  const auto same_content = by_content_.find(token.content);
  const auto same_id = by_id_.find(token.id);
  if (same_id != by_id_.end()) {
    const AddedToken& earlier = tokens_[same_id->second];
    DIFFUSE_CHECK(earlier.content == token.content, context, ": added token id ", token.id, " is given to both '",
                  io::printable(earlier.content), "' and '", io::printable(token.content), "'");
    return;  // the same token declared again (tokenizer.json and tokenizer_config.json both list it)
  }
  DIFFUSE_CHECK(same_content == by_content_.end(), context, ": added token '", io::printable(token.content),
                "' has two ids, ", tokens_[same_content->second].id, " and ", token.id);
  const size_t index = tokens_.size();
  tokens_.push_back(token);
  by_content_.emplace(token.content, index);
  by_id_.emplace(token.id, index);
  // Keep the bucket longest first; equal lengths stay in declaration order.
  auto& bucket = by_first_byte_[static_cast<unsigned char>(token.content.front())];
  const auto at = std::find_if(bucket.begin(), bucket.end(),
                               [&](size_t i) { return tokens_[i].content.size() < token.content.size(); });
  bucket.insert(at, index);
}

const AddedToken* AddedVocabulary::find_id(int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::find_content(std::string_view content) const {
  const auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

int32_t AddedVocabulary::max_id() const {
  int32_t m = -1;
  for (const AddedToken& t : tokens_) m = std::max(m, t.id);
  return m;
}

std::vector<AddedVocabulary::Match> AddedVocabulary::find_longest_matches(std::string_view text,
                                                                          bool normalized) const {
  std::vector<Match> matches;
  size_t pos = 0;
  while (pos < text.size()) {
    const Match* found = nullptr;
    Match candidate{};
    for (size_t index : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const AddedToken& t = tokens_[index];
      if (t.normalized != normalized) continue;
      if (text.compare(pos, t.content.size(), t.content) != 0) continue;
      candidate = {pos, pos + t.content.size(), &t};
      found = &candidate;
      break;  // buckets are longest first
    }
    if (found) {
      matches.push_back(*found);
      pos = found->end;
    } else {
      ++pos;  // token contents are valid UTF-8, so they can only match at a character start
    }
  }
  return matches;
}

std::vector<TextSegment> AddedVocabulary::split(std::string_view text, bool normalized) const {
  std::vector<TextSegment> out;
  size_t done = 0;  // end of the last emitted token
  for (const Match& m : find_longest_matches(text, normalized)) {
    size_t begin = m.begin, end = m.end;
    if (begin < done) continue;  // inside whitespace an earlier rstrip swallowed
    const AddedToken& t = *m.token;
    if (t.single_word) {
      const bool word_before = begin > 0 && is_word_char(last_char(text, begin).value);
      const bool word_after = end < text.size() && is_word_char(decode_utf8_at(text, end).value);
      if (word_before || word_after) continue;
    }
    if (t.lstrip) {
      while (begin > done) {
        const CodePoint cp = last_char(text, begin);
        if (!is_unicode_whitespace(cp.value)) break;
        begin -= cp.length;
      }
    }
    if (t.rstrip) {
      while (end < text.size()) {
        const CodePoint cp = decode_utf8_at(text, end);
        if (!is_unicode_whitespace(cp.value)) break;
        end += cp.length;
      }
    }
    if (begin > done) out.push_back({done, begin, -1});
    out.push_back({begin, end, t.id});
    done = end;
  }
  if (done < text.size()) out.push_back({done, text.size(), -1});
  return out;
}

}  // namespace diffuse::text
