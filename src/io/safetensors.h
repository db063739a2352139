// Safetensors checkpoints: a memory-mapped reader whose tensors are zero-copy views of
// the file, and an atomic writer.
//
// Alignment: the format does not align tensor starts (the data section begins right after
// the header, and offsets are arbitrary). Views are correct for byte-wise and memcpy
// access; kernels that need aligned operands must copy (Tensor::clone()).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/mapped_file.h"
#include "io/safetensors_header.h"
#include "tensor/tensor.h"

namespace diffuse::io {

class SafetensorsFile {
 public:
  // Maps and validates the file; throws diffuse::Error naming the file (and tensor).
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // sorted
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }  // sorted by name
  bool contains(const std::string& name) const { return header_.find(name) != nullptr; }
  const TensorInfo* find(const std::string& name) const { return header_.find(name); }
  const TensorInfo& info(const std::string& name) const;  // throws if absent
  // Read-only view into the mapping; keeps the mapping alive.
  Tensor tensor(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  // Drops the resident pages of the tensor's bytes (MappedFile::release_pages).
  void release_pages(const std::string& name) const;
  uint64_t data_bytes() const { return header_.tensor_bytes(); }  // sum of tensor sizes
  uint64_t file_bytes() const { return mapping_->size(); }

 private:
  SafetensorsFile() = default;  // only open() makes one, so every instance is valid
  std::string path_;
  std::shared_ptr<MappedFile> mapping_;
  SafetensorsHeader header_;
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes `tensors` (any strides; stored contiguous, in the given order) and `metadata`
// atomically (via `<path>.tmp`). The header is space-padded so the data section starts at
// a multiple of 8 bytes. Names must be unique and not "__metadata__".
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace diffuse::io
