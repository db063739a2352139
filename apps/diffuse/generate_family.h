// What `diffuse generate` asks of a model family, and what it gets back. Each family
// (generate_flux.cpp, generate_qwen_image.cpp) turns a request into an image with its own
// text encoders, denoiser and VAE; cmd_generate.cpp owns the options, the checks before any
// compute, the PNG and the timing report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "io/model_folder.h"
#include "io/png.h"
#include "models/common/model_options.h"
#include "pipelines/flow_sampler.h"
#include "pipelines/latent_geometry.h"
#include "runtime/progress.h"
#include "tensor/tensor.h"

namespace diffuse::cli {

struct GenerateRequest {
  std::string prompt;
  std::optional<std::string> negative;  // unset: the family's default
  std::optional<int> steps;             // unset: the family's default
  std::optional<float> cfg;             // the family's CFG scale (unset: its default)
  std::optional<float> guidance;        // FLUX.1-dev embedded guidance
  int cfg_skip = 0;
  uint64_t seed = 0;
  int64_t width = 1024, height = 1024;
  std::optional<int64_t> max_sequence_length;
  std::string chroma_mask = "keys";
  models::ModelOptions options;
};

struct GenerateResult {
  Tensor image;  // [1, 3, H, W] in [0, 1]
  pipelines::LatentGeometry geometry;
  int steps = 0;
  io::TextChunks metadata;  // the family's settings, for the PNG's text chunks
  double text_s = 0, load_s = 0, denoise_s = 0, decode_s = 0;
};

// Called after the preflight check; logs its own progress.
using GenerateFamily = GenerateResult (*)(const std::string& root, const io::ModelIndex& index,
                                          const GenerateRequest& request);

// Shared by the families: the seeded starting latents (PyTorch-identical noise in the run's
// precision) and the denoising progress bar.
Tensor seeded_noise(const GenerateRequest& request, int64_t latent_channels, const pipelines::LatentGeometry& geometry);
pipelines::DenoiseObserver progress_observer(ProgressBar& bar);

GenerateResult generate_flux(const std::string& root, const io::ModelIndex& index, const GenerateRequest& request);
GenerateResult generate_qwen_image(const std::string& root, const io::ModelIndex& index,
                                   const GenerateRequest& request);

}  // namespace diffuse::cli
