#include "text/token_decoder.h"

#include "io/printable.h"
#include "runtime/error.h"
#include "text/byte_unicode.h"
#include "text/tokenizer_json_fields.h"
#include "text/utf8_codec.h"

namespace diffuse::text {

TokenDecoder TokenDecoder::from_json(const io::Json& spec, const std::string& context) {
  TokenDecoder d;
  if (spec.is_null()) return d;
  const std::string type = component_type(spec, context);
  DIFFUSE_CHECK(type == "ByteLevel", context, ": decoder type '", io::printable(type),
                "' is not supported (supported: ByteLevel)");
  d.byte_level_ = true;
  return d;
}

std::string TokenDecoder::decode(const std::vector<std::string_view>& tokens) const {
  std::string bytes;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!byte_level_) {
      if (i > 0) bytes += ' ';
      bytes.append(tokens[i]);
    } else if (!unicode_to_bytes(tokens[i], bytes)) {
      bytes.append(tokens[i]);
    }
  }
  return repair_utf8(bytes);
}

}  // namespace diffuse::text
