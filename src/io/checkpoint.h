// WeightSource: the tensors of one model component, by name, backed by one or more
// memory-mapped safetensors files. It opens
//   - a single `.safetensors` file,
//   - a sharded checkpoint through its `*.safetensors.index.json` (weight_map: name -> shard),
//   - a component folder: `diffusion_pytorch_model.safetensors` (diffusers) or
//     `model.safetensors` (transformers), or their `.index.json`; failing those, the one
//     `*.safetensors.index.json` in the folder, or else every `*.safetensors` in it (their
//     tensor names must not collide).
// Copies are cheap and share the mappings.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace diffuse::io {

class WeightSource {
 public:
  WeightSource() = default;

  // Dispatches on the path: directory -> open_folder, "*.index.json" -> open_index, else open_file.
  static WeightSource open(const std::string& path);
  static WeightSource open_file(const std::string& path);
  static WeightSource open_index(const std::string& index_path);
  static WeightSource open_folder(const std::string& folder);
  // Several unsharded files as one set; a name in two files is an error.
  static WeightSource open_files(const std::vector<std::string>& paths, const std::string& origin);

  const std::string& origin() const { return origin_; }  // the path it was opened from
  size_t size() const { return entries_.size(); }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  const TensorInfo& info(const std::string& name) const;  // throws naming origin + tensor
  Tensor tensor(const std::string& name) const;           // zero-copy view
  const std::string& file_of(const std::string& name) const;
  // Drops the resident pages of the tensor's bytes (MappedFile::release_pages).
  void release_pages(const std::string& name) const;
  uint64_t total_bytes() const;  // sum of the tensors' byte sizes
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  struct Entry {
    const TensorInfo* info;  // owned by files_[file], which never changes after opening
    size_t file;
  };
  const Entry& entry(const std::string& name) const;

  std::string origin_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, Entry> entries_;
};

// True if `folder` holds any *.safetensors or *.safetensors.index.json file.
bool folder_has_weights(const std::string& folder);

}  // namespace diffuse::io
