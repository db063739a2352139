#include "text/text_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "io/printable.h"
#include "runtime/error.h"
#include "text/utf8_codec.h"

namespace diffuse::text {

struct TextRegex::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(code, buffer, sizeof(buffer));
  return n < 0 ? str_cat("PCRE2 error ", code) : std::string(reinterpret_cast<const char*>(buffer));
}

struct MatchData {
  pcre2_match_data* data;
  explicit MatchData(const pcre2_code* code) : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
    DIFFUSE_CHECK(data != nullptr, "regex: out of memory for match data");
  }
  ~MatchData() { pcre2_match_data_free(data); }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
};

}  // namespace

TextRegex TextRegex::build(const std::string& pattern, bool literal, const std::string& context) {
  DIFFUSE_CHECK(!find_invalid_utf8(pattern), context, ": pattern is not valid UTF-8");
  // PCRE2 refuses UCP together with LITERAL; a literal needs no character classes anyway.
  const uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                                   &error_code, &error_offset, nullptr);
  DIFFUSE_CHECK(code != nullptr, context, ": invalid regex '", io::printable(pattern), "' at offset ", error_offset,
                ": ", pcre2_message(error_code));
  auto compiled = std::make_shared<Compiled>();
  compiled->code = code;
  // JIT is an optimisation only: where it is unavailable, pcre2_match interprets the pattern.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return TextRegex(std::move(compiled), pattern);
}

TextRegex TextRegex::compile(const std::string& pattern, const std::string& context) {
  return build(pattern, false, context);
}

TextRegex TextRegex::literal(const std::string& text, const std::string& context) {
  return build(text, true, context);
}

std::vector<MatchSpan> TextRegex::find_all(std::string_view text) const {
  std::vector<MatchSpan> spans;
  MatchData match(code_->code);
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  uint32_t flags = 0;
  while (offset <= text.size()) {
    // The text was validated once at the API boundary; skip PCRE2's re-check on every call.
    const int rc = pcre2_match(code_->code, subject, text.size(), offset, flags | PCRE2_NO_UTF_CHECK,
                               match.data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
      if (flags == 0 || offset >= text.size()) break;
      // No non-empty match at the position of an empty one: step over one character.
      offset += decode_utf8_at(text, offset).length;
      flags = 0;
      continue;
    }
    DIFFUSE_CHECK(rc >= 0, "regex '", io::printable(pattern_), "': matching failed: ", pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.data);
    const size_t begin = ovector[0], end = ovector[1];
    DIFFUSE_CHECK(begin <= end && end <= text.size(), "regex '", io::printable(pattern_),
                  "': match outside the subject (lookbehind assertions with \\K are not supported)");
    spans.push_back({begin, end});
    offset = end;
    // After an empty match, look for a non-empty one at the same place before moving on.
    flags = (begin == end) ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
  }
  return spans;
}

}  // namespace diffuse::text
