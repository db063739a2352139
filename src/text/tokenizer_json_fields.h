// Field readers shared by the tokenizer.json component parsers (normalizer, pre-tokenizer,
// post-processor, decoder): every malformed value becomes a one-line diffuse::Error that
// names the file and the component.
#pragma once

#include <string>

#include "io/json_config.h"
#include "text/text_regex.h"

namespace diffuse::text {

// The "type" string of a component object.
std::string component_type(const io::Json& spec, const std::string& context);

// spec[key], which must be present and an array.
const io::Json& required_array(const io::Json& spec, const std::string& key, const std::string& context);

// spec["pattern"] = {"String": "..."} (literal) or {"Regex": "..."}.
TextRegex pattern_field(const io::Json& spec, const std::string& context);

}  // namespace diffuse::text
