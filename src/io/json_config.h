// Reading JSON configuration files (config.json, model_index.json, index files) with
// errors that name the file and the field. Typed getters return the reference
// implementation's default when a field is absent; a present field of the wrong type is
// an error, never silently replaced. JSON null (Python None) is only accepted by the
// optional getters, because None usually means "derive it from something else".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace diffuse::io {

using Json = nlohmann::json;

// Parses the file; errors: "<path>: cannot open: ..." / "<path>: invalid JSON: parse error at
// line L, column C: ...".
Json load_json(const std::string& path);
// Parses text already in memory; `label` names its origin in errors.
Json parse_json(const std::string& text, const std::string& label);

// `context` names the file (or file + object) in error messages:
// "<context>: field 'num_layers' is a string, expected an integer".
int64_t get_int(const Json& obj, const std::string& key, int64_t fallback, const std::string& context);
double get_double(const Json& obj, const std::string& key, double fallback, const std::string& context);
bool get_bool(const Json& obj, const std::string& key, bool fallback, const std::string& context);
std::string get_string(const Json& obj, const std::string& key, const std::string& fallback,
                       const std::string& context);
std::vector<int64_t> get_int_array(const Json& obj, const std::string& key,
                                   const std::vector<int64_t>& fallback, const std::string& context);
std::vector<double> get_double_array(const Json& obj, const std::string& key,
                                     const std::vector<double>& fallback, const std::string& context);

// Absent or null -> nullopt.
std::optional<int64_t> get_optional_int(const Json& obj, const std::string& key, const std::string& context);
std::optional<double> get_optional_double(const Json& obj, const std::string& key,
                                          const std::string& context);
std::optional<std::string> get_optional_string(const Json& obj, const std::string& key,
                                               const std::string& context);

// Required fields: absent or null is an error.
int64_t require_int(const Json& obj, const std::string& key, const std::string& context);
std::string require_string(const Json& obj, const std::string& key, const std::string& context);

}  // namespace diffuse::io
