#include "text/tokenizer_config.h"

#include <cmath>
#include <filesystem>

#include "io/json_config.h"
#include "io/printable.h"
#include "runtime/error.h"

namespace diffuse::text {

namespace {

namespace fs = std::filesystem;

// Larger values mean "no limit": transformers stores int(1e30) when a model sets none.
constexpr double kUnlimitedLength = 1e18;

// A special token field: "<s>", null, or an AddedToken object {"content": "<s>", ...}.
std::optional<std::string> token_field(const io::Json& root, const char* key, const std::string& path) {
  const auto it = root.find(key);
  if (it == root.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  DIFFUSE_CHECK(it->is_object(), path, ": field '", key, "' must be a string, null or an object with \"content\"");
  return io::require_string(*it, "content", str_cat(path, " field '", key, "'"));
}

std::optional<bool> optional_bool(const io::Json& root, const char* key, const std::string& path) {
  const auto it = root.find(key);
  if (it == root.end() || it->is_null()) return std::nullopt;
  return io::get_bool(root, key, false, path);
}

std::optional<int64_t> max_length_field(const io::Json& root, const std::string& path) {
  const auto it = root.find("model_max_length");
  if (it == root.end() || it->is_null()) return std::nullopt;
  DIFFUSE_CHECK(it->is_number(), path, ": field 'model_max_length' is ", it->type_name(), ", expected a number");
  const double v = it->get<double>();
  if (v >= kUnlimitedLength) return std::nullopt;
  DIFFUSE_CHECK(v >= 1 && std::floor(v) == v, path, ": field 'model_max_length' = ", it->dump(),
                " is not a positive integer");
  return static_cast<int64_t>(v);
}

std::vector<AddedToken> added_tokens_decoder(const io::Json& root, const std::string& path) {
  std::vector<AddedToken> out;
  const auto it = root.find("added_tokens_decoder");
  if (it == root.end() || it->is_null()) return out;
  DIFFUSE_CHECK(it->is_object(), path, ": field 'added_tokens_decoder' must be an object {id: token}");
  for (const auto& [key, value] : it->items()) {
    const std::string where = str_cat(path, " added_tokens_decoder['", io::printable(key), "']");
    DIFFUSE_CHECK(!key.empty() && key.size() <= 10 && key.find_first_not_of("0123456789") == std::string::npos,
                  where, ": the key must be a token id");
    const int64_t id = std::stoll(key);
    DIFFUSE_CHECK(id <= INT32_MAX, where, ": token id is too large");
    AddedToken t;
    t.id = static_cast<int32_t>(id);
    t.content = io::require_string(value, "content", where);
    t.special = io::get_bool(value, "special", false, where);
    t.single_word = io::get_bool(value, "single_word", false, where);
    t.lstrip = io::get_bool(value, "lstrip", false, where);
    t.rstrip = io::get_bool(value, "rstrip", false, where);
    t.normalized = io::get_bool(value, "normalized", !t.special, where);  // transformers' AddedToken default
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

TokenizerConfig read_tokenizer_config(const std::string& folder) {
  TokenizerConfig c;
  std::error_code ec;
  const fs::path config_path = fs::path(folder) / "tokenizer_config.json";
  if (fs::is_regular_file(config_path, ec)) {
    c.path = config_path.string();
    const io::Json root = io::load_json(c.path);
    DIFFUSE_CHECK(root.is_object(), c.path, ": expected a JSON object");
    c.bos_token = token_field(root, "bos_token", c.path);
    c.eos_token = token_field(root, "eos_token", c.path);
    c.pad_token = token_field(root, "pad_token", c.path);
    c.unk_token = token_field(root, "unk_token", c.path);
    c.add_bos_token = optional_bool(root, "add_bos_token", c.path);
    c.add_eos_token = optional_bool(root, "add_eos_token", c.path);
    c.model_max_length = max_length_field(root, c.path);
    c.tokenizer_class = io::get_string(root, "tokenizer_class", "", c.path);
    c.added_tokens_decoder = added_tokens_decoder(root, c.path);
  }
  const fs::path map_path = fs::path(folder) / "special_tokens_map.json";
  if (fs::is_regular_file(map_path, ec)) {
    const std::string path = map_path.string();
    const io::Json root = io::load_json(path);
    DIFFUSE_CHECK(root.is_object(), path, ": expected a JSON object");
    if (!c.bos_token) c.bos_token = token_field(root, "bos_token", path);
    if (!c.eos_token) c.eos_token = token_field(root, "eos_token", path);
    if (!c.pad_token) c.pad_token = token_field(root, "pad_token", path);
    if (!c.unk_token) c.unk_token = token_field(root, "unk_token", path);
  }
  return c;
}

}  // namespace diffuse::text
