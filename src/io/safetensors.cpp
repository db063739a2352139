#include "io/safetensors.h"

#include <set>

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "runtime/error.h"

namespace diffuse::io {

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = MappedFile::open(path);
  file->header_ = parse_safetensors_header(file->mapping_->data(), file->mapping_->size(), path);
  return file;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(header_.tensors.size());
  for (const auto& t : header_.tensors) out.push_back(t.name);
  return out;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  const TensorInfo* t = header_.find(name);
  DIFFUSE_CHECK(t != nullptr, path_, ": tensor '", printable(name), "': not in this file");
  return *t;
}

Tensor SafetensorsFile::tensor(const std::string& name) const {
  const TensorInfo& t = info(name);
  const uint8_t* p = mapping_->data() + header_.data_offset + t.begin;
  return Tensor::view_of(p, t.shape, t.dtype, mapping_);
}

void SafetensorsFile::release_pages(const std::string& name) const {
  const TensorInfo& t = info(name);
  mapping_->release_pages(header_.data_offset + t.begin, t.end - t.begin);
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> contiguous;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    DIFFUSE_CHECK(name != "__metadata__", path, ": '__metadata__' cannot be a tensor name");
    DIFFUSE_CHECK(seen.insert(name).second, path, ": tensor '", printable(name), "': given twice");
    DIFFUSE_CHECK(t.defined(), path, ": tensor '", printable(name), "': undefined tensor");
    contiguous.push_back(t.contiguous());
    const uint64_t bytes = t.nbytes();
    header[name] = {{"dtype", std::string(dtype_name(t.dtype()))},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  const uint64_t n = json.size();
  uint8_t prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<uint8_t>(n >> (8 * i));

  write_file_atomically(path, [&](std::FILE* f, const std::string&) {
    write_all(f, prefix, 8, path);
    write_all(f, json.data(), json.size(), path);
    for (const Tensor& t : contiguous) write_all(f, t.raw(), t.nbytes(), path);
  });
}

}  // namespace diffuse::io
