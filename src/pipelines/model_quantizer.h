// `diffuse quantize`: rewrites a diffusers model folder (or one component folder) with the
// Linear weights of chosen components quantized (io/quantized_tensors.h layout), everything
// else copied. Which tensors are Linear weights comes from the architecture (an expected-only
// build through the model catalog), never from tensor names. Shard files and index json keep
// their names; every rewritten file records the mode in its metadata. Tensors are streamed one
// at a time from the mapped input, so memory stays near one tensor whatever the model size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/quantized_weight.h"

namespace diffuse::pipelines {

struct QuantizeModelOptions {
  ops::QuantMode mode = ops::QuantMode::Int8;
  // Components to quantize (folder names); empty: every component with a known architecture
  // (the set `generate --quantize` quantizes at load). Ignored for a single component folder.
  std::vector<std::string> components;
  bool progress = true;  // progress bars on stderr
};

struct QuantizeModelSummary {
  size_t quantized = 0;   // Linear weights quantized
  size_t kept_float = 0;  // Linear weights the mode cannot take (in_features vs group size)
  size_t copied = 0;      // other tensors written as they were
  uint64_t bytes_in = 0, bytes_out = 0;  // tensor bytes of the rewritten components
};

// `out` must not exist yet or be an empty directory.
QuantizeModelSummary quantize_model_folder(const std::string& in, const std::string& out,
                                           const QuantizeModelOptions& options);

}  // namespace diffuse::pipelines
