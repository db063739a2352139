// How much memory a generation needs, worked out before anything is loaded, so that a run that
// cannot fit stops up front with the numbers (and the quantization modes that would fit)
// instead of swapping or being killed halfway.
//
// Weights: every tensor each component's architecture takes (expected-only build from its
// config.json, so a folder of configs without weights can be planned too), at the size the
// kernels hold it: quantized Linear weights (stored quantized, or quantized at load by
// --quantize), bf16 (or f32 in f32 mode) GEMM weights, other tensors as stored, plus the f32 copy
// the convolutions keep of their kernels. Activations: per phase, from the config's widths and
// the image size, with the headroom of the buffers a forward keeps alive at once.
//
// Phases follow `generate`: the text encoders run and are freed first; then the transformer
// and the VAE are resident while denoising; the transformer is freed before the VAE decodes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/model_folder.h"
#include "models/common/model_options.h"
#include "pipelines/latent_geometry.h"

namespace diffuse::pipelines {

enum class ComponentRole { TextEncoder, Transformer, Vae };

struct ComponentFootprint {
  std::string name;        // folder, e.g. "text_encoder_2"
  std::string class_name;
  ComponentRole role = ComponentRole::Transformer;
  uint64_t parameters = 0;    // elements of every tensor the architecture takes
  uint64_t weight_bytes = 0;  // as the kernels hold them
};

struct MemoryPlan {
  std::vector<ComponentFootprint> components;
  uint64_t text_activations = 0, denoise_activations = 0, decode_activations = 0;
  uint64_t text_phase = 0, denoise_phase = 0, decode_phase = 0;  // weights + activations
  uint64_t peak() const;
  // One line per component and phase, in GiB.
  std::string describe() const;
};

struct GenerationShape {
  LatentGeometry geometry;
  int64_t text_tokens = 512;  // tokens the text encoder sees / the transformer attends to
  int64_t batch = 2;          // transformer rows per call: 2 with CFG
};

// The shape of a generation at `width` x `height` (rounded as the pipelines round it; the VAE
// factor comes from <root>/vae/config.json).
GenerationShape generation_shape(const std::string& root, int64_t width, int64_t height, int64_t text_tokens,
                                 bool cfg);

MemoryPlan plan_generation_memory(const std::string& root, const io::ModelIndex& index,
                                  const models::ModelOptions& options, const GenerationShape& shape);

// What this process may still use: MemAvailable of /proc/meminfo, capped by the cgroup v2 limit
// (memory.max - memory.current) inside a container; 0 if neither can be read. The environment
// variable DIFFUSE_AVAILABLE_MEMORY (bytes, or with a K/M/G/T suffix) overrides both.
uint64_t available_memory_bytes();

std::string gib(uint64_t bytes);  // "12.3 GiB"

// Throws a diffuse::Error when `plan` needs more than `available` bytes, with the plan and the
// peak each quantization mode would need (`plan_for` plans the same run in another mode).
void check_memory_fits(const MemoryPlan& plan, uint64_t available,
                       const std::function<MemoryPlan(ops::QuantMode)>& plan_for);

}  // namespace diffuse::pipelines
