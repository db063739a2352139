// Parsing and validation of a safetensors header, independent of how the bytes were
// obtained (a memory-mapped file, or a fuzzer's input). A safetensors file is:
//   8-byte little-endian N | N bytes of JSON | data section
// The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} with
// offsets relative to the data section, plus an optional "__metadata__" string map.
// Every length and offset is validated here, so callers may index the data section with
// the returned offsets without further checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/printable.h"
#include "tensor/tensor.h"

namespace diffuse::io {

// A header longer than this is treated as corrupt (real headers are well below 10 MiB).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = uint64_t{100} << 20;

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data section
  uint64_t end = 0;
  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  uint64_t header_bytes = 0;  // N
  uint64_t data_offset = 0;   // 8 + N: start of the data section within the file
  uint64_t data_bytes = 0;    // size of the data section (file size - 8 - N)
  std::vector<TensorInfo> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;

  const TensorInfo* find(std::string_view name) const;  // nullptr if absent
  uint64_t tensor_bytes() const;  // sum of all tensors' byte sizes
};

// Validates `size` bytes holding a whole safetensors file (or a prefix of one: the data
// section is then whatever follows the header). `label` names the file in errors, which
// are diffuse::Error with one-line messages "<label>: tensor '<name>': <problem>" or
// "<label>: <problem>".
SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& label);

}  // namespace diffuse::io
