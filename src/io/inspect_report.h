// The text `diffuse inspect` prints for a checkpoint: a .safetensors file, an index.json,
// a component folder, or a whole model (diffusers folder or Hugging Face cache path).
// Kept here rather than in the command so tests and later tools (weight matching against
// a model's expected list) can reuse the pieces.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "io/checkpoint.h"

namespace diffuse::io {

struct WeightSummary {
  size_t tensors = 0;
  std::map<DType, size_t> dtype_counts;
  uint64_t bytes = 0;
};

WeightSummary summarize_weights(const WeightSource& source);

// "512 B", "397.0 KiB", "22.17 GiB" (binary units, 3-4 significant digits).
std::string human_bytes(uint64_t bytes);
// "12 tensors, BF16 x10, F32 x2, 1.5 MiB (1572864 bytes)"
std::string describe_summary(const WeightSummary& summary);
// One line per tensor: "name dtype shape bytes", sorted by name, each prefixed by `indent`.
std::string list_tensors(const WeightSource& source, const std::string& indent);

struct InspectOptions {
  bool list_tensors = false;
};

// The full report for `path`; throws diffuse::Error (naming the file and tensor) on any
// malformed input.
std::string inspect_path(const std::string& path, const InspectOptions& options);

}  // namespace diffuse::io
