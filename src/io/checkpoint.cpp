#include "io/checkpoint.h"

#include <algorithm>
#include <filesystem>

#include "io/json_config.h"
#include "runtime/error.h"

namespace diffuse::io {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Files in `folder` whose names end with `suffix`, sorted.
std::vector<std::string> files_ending_with(const std::string& folder, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    const std::string name = e.path().filename().string();
    if (ends_with(name, suffix) && e.is_regular_file(ec)) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

WeightSource WeightSource::open(const std::string& path) {
  if (fs::is_directory(path)) return open_folder(path);
  if (ends_with(path, ".index.json")) return open_index(path);
  return open_file(path);
}

WeightSource WeightSource::open_file(const std::string& path) { return open_files({path}, path); }

WeightSource WeightSource::open_files(const std::vector<std::string>& paths, const std::string& origin) {
  WeightSource src;
  src.origin_ = origin;
  for (const auto& path : paths) {
    src.files_.push_back(SafetensorsFile::open(path));
    const size_t index = src.files_.size() - 1;
    for (const TensorInfo& t : src.files_.back()->tensors()) {
      auto [it, inserted] = src.entries_.emplace(t.name, Entry{&t, index});
      DIFFUSE_CHECK(inserted, origin, ": tensor '", printable(t.name), "': present in both ",
                    src.files_[it->second.file]->path(), " and ", path);
    }
  }
  return src;
}

WeightSource WeightSource::open_index(const std::string& index_path) {
  const Json index = load_json(index_path);
  DIFFUSE_CHECK(index.is_object(), index_path, ": expected a JSON object with a \"weight_map\"");
  const auto map_it = index.find("weight_map");
  DIFFUSE_CHECK(map_it != index.end() && map_it->is_object(), index_path,
                ": missing \"weight_map\" object");
  const fs::path folder = fs::path(index_path).parent_path();

  WeightSource src;
  src.origin_ = index_path;
  std::map<std::string, size_t> shard_index;  // shard file name -> position in files_
  for (const auto& [name, shard_json] : map_it->items()) {
    const std::string where = str_cat(index_path, ": tensor '", printable(name), "': ");
    DIFFUSE_CHECK(shard_json.is_string(), where, "weight_map value is not a file name");
    const std::string shard = shard_json.get<std::string>();
    // Shards live next to the index; a path here could point anywhere on the disk.
    DIFFUSE_CHECK(!shard.empty() && shard.find('/') == std::string::npos && shard != "." && shard != "..",
                  where, "shard '", printable(shard), "' is not a file name in the index's folder");
    auto it = shard_index.find(shard);
    if (it == shard_index.end()) {
      const std::string shard_path = (folder / shard).string();
      DIFFUSE_CHECK(fs::exists(shard_path), where, "shard ", shard_path, " does not exist");
      src.files_.push_back(SafetensorsFile::open(shard_path));
      it = shard_index.emplace(shard, src.files_.size() - 1).first;
    }
    const auto& file = src.files_[it->second];
    const TensorInfo* info = file->find(name);
    DIFFUSE_CHECK(info != nullptr, where, "not found in its shard ", file->path());
    src.entries_.emplace(name, Entry{info, it->second});
  }
  return src;
}

WeightSource WeightSource::open_folder(const std::string& folder) {
  DIFFUSE_CHECK(fs::is_directory(folder), folder, ": not a directory");
  for (const char* base : {"diffusion_pytorch_model", "model"}) {
    const fs::path single = fs::path(folder) / (std::string(base) + ".safetensors");
    if (fs::is_regular_file(single)) return open_file(single.string());
    const fs::path index = fs::path(folder) / (std::string(base) + ".safetensors.index.json");
    if (fs::is_regular_file(index)) return open_index(index.string());
  }
  const auto indexes = files_ending_with(folder, ".safetensors.index.json");
  DIFFUSE_CHECK(indexes.size() <= 1, folder, ": ambiguous weights: ", indexes.size(),
                " *.safetensors.index.json files (", indexes[0], ", ", indexes[1], ", ...)");
  if (indexes.size() == 1) return open_index(indexes[0]);
  const auto files = files_ending_with(folder, ".safetensors");
  DIFFUSE_CHECK(!files.empty(), folder,
                ": no weights (expected diffusion_pytorch_model.safetensors, model.safetensors, "
                "or a *.safetensors.index.json)");
  return open_files(files, folder);
}

std::vector<std::string> WeightSource::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

const WeightSource::Entry& WeightSource::entry(const std::string& name) const {
  auto it = entries_.find(name);
  DIFFUSE_CHECK(it != entries_.end(), origin_, ": tensor '", printable(name), "': not in this checkpoint");
  return it->second;
}

const TensorInfo& WeightSource::info(const std::string& name) const { return *entry(name).info; }

Tensor WeightSource::tensor(const std::string& name) const {
  const Entry& e = entry(name);
  return files_[e.file]->tensor(name);
}

void WeightSource::release_pages(const std::string& name) const {
  files_[entry(name).file]->release_pages(name);
}

const std::string& WeightSource::file_of(const std::string& name) const {
  return files_[entry(name).file]->path();
}

uint64_t WeightSource::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, e] : entries_) total += e.info->nbytes();
  return total;
}

bool folder_has_weights(const std::string& folder) {
  return !files_ending_with(folder, ".safetensors").empty() ||
         !files_ending_with(folder, ".safetensors.index.json").empty();
}

}  // namespace diffuse::io
