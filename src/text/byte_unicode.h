// The byte-level alphabet of GPT-2 style BPE: every byte value is shown as one printable
// Unicode character, so that vocabularies and merges never contain raw whitespace or
// control bytes. Printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand
// for themselves; the other 68 bytes take U+0100, U+0101, ... in byte order (space -> 'Ġ',
// '\n' -> 'Ċ').
#pragma once

#include <string>
#include <string_view>

namespace diffuse::text {

// The UTF-8 encoding of the character that stands for byte `b`.
const std::string& byte_to_unicode(unsigned char b);

// Every byte of `bytes` replaced by its character.
std::string bytes_to_unicode(std::string_view bytes);

// Inverse of bytes_to_unicode for one token: appends the bytes and returns true if every
// character of `token` (valid UTF-8) belongs to the alphabet; otherwise appends nothing and
// returns false.
bool unicode_to_bytes(std::string_view token, std::string& out);

}  // namespace diffuse::text
