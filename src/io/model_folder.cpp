#include "io/model_folder.h"

#include <algorithm>
#include <filesystem>
#include <cctype>
#include <fstream>

#include "io/safetensors_header.h"
#include "runtime/error.h"

namespace diffuse::io {

namespace fs = std::filesystem;

namespace {

std::string last_component(const fs::path& p) {
  // "a/b/" has an empty filename; look at the parent then.
  return p.has_filename() ? p.filename().string() : p.parent_path().filename().string();
}

fs::path without_trailing_slash(const std::string& path) {
  fs::path p(path);
  return p.has_filename() ? p : p.parent_path();
}

std::string read_ref(const fs::path& ref_file) {
  std::ifstream in(ref_file);
  std::string rev;
  std::getline(in, rev);
  while (!rev.empty() && std::isspace(static_cast<unsigned char>(rev.back()))) rev.pop_back();
  return rev;
}

}  // namespace

bool is_hf_cache_path(const std::string& path) {
  const fs::path p = without_trailing_slash(path);
  if (last_component(p).rfind("models--", 0) == 0) return true;
  return p.parent_path().filename() == "snapshots" &&
         p.parent_path().parent_path().filename().string().rfind("models--", 0) == 0;
}

std::string resolve_model_path(const std::string& path) {
  const fs::path p = without_trailing_slash(path);
  DIFFUSE_CHECK(fs::is_directory(p), path, ": not a directory (expected a diffusers model folder or a "
                "Hugging Face cache folder models--ORG--NAME)");
  if (fs::is_regular_file(p / "model_index.json")) return p.string();
  if (p.parent_path().filename() == "snapshots") return p.string();
  if (last_component(p).rfind("models--", 0) == 0) {
    const fs::path snapshots = p / "snapshots";
    DIFFUSE_CHECK(fs::is_directory(snapshots), path, ": Hugging Face cache folder without snapshots/");
    const fs::path ref = p / "refs" / "main";
    if (fs::is_regular_file(ref)) {
      const std::string rev = read_ref(ref);
      DIFFUSE_CHECK(!rev.empty() && rev.find('/') == std::string::npos && rev != "." && rev != "..",
                    ref.string(), ": does not hold a revision name");
      const fs::path snapshot = snapshots / rev;
      DIFFUSE_CHECK(fs::is_directory(snapshot), ref.string(), ": names revision ", rev, " but ",
                    snapshot.string(), " does not exist");
      return snapshot.string();
    }
    std::vector<std::string> revs;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(snapshots, ec))
      if (e.is_directory(ec)) revs.push_back(e.path().filename().string());
    std::sort(revs.begin(), revs.end());
    DIFFUSE_CHECK(!revs.empty(), path, ": Hugging Face cache folder has no snapshot");
    DIFFUSE_CHECK(revs.size() == 1, path, ": ambiguous: ", revs.size(), " snapshots (", revs[0], ", ",
                  revs[1], ", ...) and no refs/main to choose one");
    return (snapshots / revs[0]).string();
  }
  fail(path, ": not a model folder (no model_index.json) and not a Hugging Face cache folder");
}

const ComponentSpec* ModelIndex::find(const std::string& name) const {
  for (const auto& c : components)
    if (c.name == name) return &c;
  return nullptr;
}

ModelIndex read_model_index(const std::string& folder) {
  ModelIndex index;
  index.path = (fs::path(folder) / "model_index.json").string();
  const Json j = load_json(index.path);
  DIFFUSE_CHECK(j.is_object(), index.path, ": expected a JSON object");
  index.class_name = require_string(j, "_class_name", index.path);
  for (const auto& [key, value] : j.items()) {
    if (key.empty() || key[0] == '_' || !value.is_array()) continue;
    if (value.size() == 2 && value[0].is_null() && value[1].is_null()) continue;
    DIFFUSE_CHECK(value.size() == 2 && value[0].is_string() && value[1].is_string(), index.path,
                  ": component '", printable(key), "' is ", printable(value.dump()),
                  ", expected [library, class]");
    index.components.push_back({key, value[0].get<std::string>(), value[1].get<std::string>()});
  }
  // items() of an object iterate in key order, so components are already sorted.
  return index;
}

std::string component_folder(const std::string& root, const std::string& component) {
  const fs::path folder = fs::path(root) / component;
  DIFFUSE_CHECK(fs::is_directory(folder), folder.string(), ": component folder does not exist");
  return folder.string();
}

Json load_component_config(const std::string& root, const std::string& component) {
  return load_json((fs::path(component_folder(root, component)) / "config.json").string());
}

WeightSource open_component_weights(const std::string& root, const std::string& component) {
  return WeightSource::open_folder(component_folder(root, component));
}

}  // namespace diffuse::io
