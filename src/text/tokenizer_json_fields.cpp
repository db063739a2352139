#include "text/tokenizer_json_fields.h"

#include "runtime/error.h"

namespace diffuse::text {

std::string component_type(const io::Json& spec, const std::string& context) {
  DIFFUSE_CHECK(spec.is_object(), context, ": expected a component object with a \"type\", found ",
                spec.type_name());
  return io::require_string(spec, "type", context);
}

const io::Json& required_array(const io::Json& spec, const std::string& key, const std::string& context) {
  const auto it = spec.find(key);
  DIFFUSE_CHECK(it != spec.end(), context, ": field '", key, "' is missing");
  DIFFUSE_CHECK(it->is_array(), context, ": field '", key, "' is ", it->type_name(), ", expected an array");
  return *it;
}

TextRegex pattern_field(const io::Json& spec, const std::string& context) {
  const auto it = spec.find("pattern");
  DIFFUSE_CHECK(it != spec.end(), context, ": field 'pattern' is missing");
  const io::Json& p = *it;
  DIFFUSE_CHECK(p.is_object() && p.size() == 1, context,
                ": field 'pattern' must be {\"String\": ...} or {\"Regex\": ...}");
  if (p.contains("String")) return TextRegex::literal(io::require_string(p, "String", context + " pattern"), context);
  DIFFUSE_CHECK(p.contains("Regex"), context, ": field 'pattern' must be {\"String\": ...} or {\"Regex\": ...}");
  return TextRegex::compile(io::require_string(p, "Regex", context + " pattern"), context);
}

}  // namespace diffuse::text
