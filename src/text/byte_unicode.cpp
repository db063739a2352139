#include "text/byte_unicode.h"

#include <array>

#include "text/utf8_codec.h"

namespace diffuse::text {

namespace {

bool stands_for_itself(unsigned b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<std::string, 256> encode;
  std::array<int, 0x144> decode;  // code point -> byte, -1 if not in the alphabet
  Tables() {
    decode.fill(-1);
    char32_t next = 0x100;
    for (unsigned b = 0; b < 256; ++b) {
      const char32_t cp = stands_for_itself(b) ? static_cast<char32_t>(b) : next++;
      append_utf8(encode[b], cp);
      decode[cp] = static_cast<int>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::string& byte_to_unicode(unsigned char b) { return tables().encode[b]; }

std::string bytes_to_unicode(std::string_view bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.encode[static_cast<unsigned char>(c)];
  return out;
}

bool unicode_to_bytes(std::string_view token, std::string& out) {
  const Tables& t = tables();
  const size_t mark = out.size();
  for (size_t pos = 0; pos < token.size();) {
    const CodePoint cp = decode_utf8_at(token, pos);
    pos += cp.length;
    if (cp.value >= t.decode.size() || t.decode[cp.value] < 0) {
      out.resize(mark);
      return false;
    }
    out += static_cast<char>(t.decode[cp.value]);
  }
  return true;
}

}  // namespace diffuse::text
