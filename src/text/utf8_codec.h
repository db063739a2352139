// UTF-8 helpers for the tokenizers: code point iteration over text already validated at
// the API boundary, strict validation, and the lossy repair decode() needs because a cut
// through a multi-byte character is a normal outcome of byte-level BPE.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace diffuse::text {

struct CodePoint {
  char32_t value = 0;
  size_t length = 0;  // bytes, 1..4
};

// The code point starting at s[pos]. `s` must be valid UTF-8 (see find_invalid_utf8) and
// pos < s.size() must be the start of a character.
CodePoint decode_utf8_at(std::string_view s, size_t pos);

void append_utf8(std::string& out, char32_t cp);

// Offset of the first byte that is not part of a well-formed UTF-8 character (overlong
// forms, surrogates and values above U+10FFFF are ill-formed), or nullopt if all is valid.
std::optional<size_t> find_invalid_utf8(std::string_view s);

// Valid UTF-8 with every maximal ill-formed subsequence replaced by U+FFFD (the
// "maximal subpart" rule of Unicode §3.9 that Python's errors="replace" and Rust's
// from_utf8_lossy follow).
std::string repair_utf8(std::string_view bytes);

// The Unicode White_Space property (what Rust's char::is_whitespace and regex \s test).
bool is_unicode_whitespace(char32_t cp);

}  // namespace diffuse::text
