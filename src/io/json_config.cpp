#include "io/json_config.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/printable.h"
#include "runtime/error.h"

namespace diffuse::io {

namespace {

const char* type_name(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_float()) return "a float";
  if (v.is_number()) return "an integer";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

// The field's value, or nullptr when absent. Checks that `obj` is an object.
const Json* field(const Json& obj, const std::string& key, const std::string& context) {
  DIFFUSE_CHECK(obj.is_object(), context, ": expected a JSON object, found ", type_name(obj),
                " (looking up '", key, "')");
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

[[noreturn]] void wrong_type(const Json& v, const std::string& key, const char* expected,
                             const std::string& context) {
  fail(context, ": field '", key, "' is ", type_name(v), ", expected ", expected);
}

int64_t to_int(const Json& v, const std::string& key, const std::string& context) {
  // nlohmann stores non-negative integers as unsigned (is_number_integer() is true for both).
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    DIFFUSE_CHECK(u <= static_cast<uint64_t>(INT64_MAX), context, ": field '", key, "' = ", u,
                  " does not fit in a 64-bit integer");
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  wrong_type(v, key, "an integer", context);
}

double to_double(const Json& v, const std::string& key, const std::string& context) {
  if (v.is_number()) return v.get<double>();
  wrong_type(v, key, "a number", context);
}

std::string to_string(const Json& v, const std::string& key, const std::string& context) {
  if (v.is_string()) return v.get<std::string>();
  wrong_type(v, key, "a string", context);
}

template <typename T, typename Convert>
std::vector<T> to_array(const Json& v, const std::string& key, const std::string& context,
                        Convert convert) {
  if (!v.is_array()) wrong_type(v, key, "an array", context);
  std::vector<T> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(convert(v[i], str_cat(key, "[", i, "]"), context));
  return out;
}

}  // namespace

Json parse_json(const std::string& text, const std::string& label) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    const auto pos = what.find("] ");  // drop nlohmann's "[json.exception.parse_error.101] "
    if (pos != std::string::npos) what = what.substr(pos + 2);
    fail(label, ": invalid JSON: ", printable(what));
  }
}

Json load_json(const std::string& path) {
  DIFFUSE_CHECK(!std::filesystem::is_directory(path), path, ": is a directory, expected a JSON file");
  std::ifstream in(path, std::ios::binary);
  DIFFUSE_CHECK(in.good(), path, ": cannot open: ", std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  DIFFUSE_CHECK(!in.bad(), path, ": read failed");
  return parse_json(text.str(), path);
}

int64_t get_int(const Json& obj, const std::string& key, int64_t fallback, const std::string& context) {
  const Json* v = field(obj, key, context);
  return v ? to_int(*v, key, context) : fallback;
}

double get_double(const Json& obj, const std::string& key, double fallback, const std::string& context) {
  const Json* v = field(obj, key, context);
  return v ? to_double(*v, key, context) : fallback;
}

bool get_bool(const Json& obj, const std::string& key, bool fallback, const std::string& context) {
  const Json* v = field(obj, key, context);
  if (!v) return fallback;
  if (!v->is_boolean()) wrong_type(*v, key, "a boolean", context);
  return v->get<bool>();
}

std::string get_string(const Json& obj, const std::string& key, const std::string& fallback,
                       const std::string& context) {
  const Json* v = field(obj, key, context);
  return v ? to_string(*v, key, context) : fallback;
}

std::vector<int64_t> get_int_array(const Json& obj, const std::string& key,
                                   const std::vector<int64_t>& fallback, const std::string& context) {
  const Json* v = field(obj, key, context);
  return v ? to_array<int64_t>(*v, key, context, to_int) : fallback;
}

std::vector<double> get_double_array(const Json& obj, const std::string& key,
                                     const std::vector<double>& fallback, const std::string& context) {
  const Json* v = field(obj, key, context);
  return v ? to_array<double>(*v, key, context, to_double) : fallback;
}

std::optional<int64_t> get_optional_int(const Json& obj, const std::string& key,
                                        const std::string& context) {
  const Json* v = field(obj, key, context);
  if (!v || v->is_null()) return std::nullopt;
  return to_int(*v, key, context);
}

std::optional<double> get_optional_double(const Json& obj, const std::string& key,
                                          const std::string& context) {
  const Json* v = field(obj, key, context);
  if (!v || v->is_null()) return std::nullopt;
  return to_double(*v, key, context);
}

std::optional<std::string> get_optional_string(const Json& obj, const std::string& key,
                                               const std::string& context) {
  const Json* v = field(obj, key, context);
  if (!v || v->is_null()) return std::nullopt;
  return to_string(*v, key, context);
}

int64_t require_int(const Json& obj, const std::string& key, const std::string& context) {
  const Json* v = field(obj, key, context);
  DIFFUSE_CHECK(v != nullptr, context, ": required field '", key, "' is missing");
  DIFFUSE_CHECK(!v->is_null(), context, ": required field '", key, "' is null");
  return to_int(*v, key, context);
}

std::string require_string(const Json& obj, const std::string& key, const std::string& context) {
  const Json* v = field(obj, key, context);
  DIFFUSE_CHECK(v != nullptr, context, ": required field '", key, "' is missing");
  DIFFUSE_CHECK(!v->is_null(), context, ": required field '", key, "' is null");
  return to_string(*v, key, context);
}

}  // namespace diffuse::io
