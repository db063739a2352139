// How each reference pipeline drives the flow-matching scheduler: which sigmas it passes
// to set_timesteps, and which time value it feeds the transformer (see
// shared/fixtures/README.md, "Timestep fed to the transformer").
#pragma once

#include <string>

#include "sampling/flow_match_scheduler.h"

namespace diffuse {

enum class ModelTime {
  SigmaFromTimestep,    // t / 1000 (FLUX.1, Chroma, Qwen-Image)
  TimestepOverTrain,    // t / num_train_timesteps (Nucleus-Image)
  RawTimestep,          // t in [0, 1000] (ERNIE-Image)
  OneMinusSigma,        // (1000 - t) / 1000, data-time (Z-Image, LLaDA decoder)
};

struct PipelineSchedule {
  SigmaSpacing spacing = SigmaSpacing::LinspaceToOneOverN;
  ModelTime model_time = ModelTime::SigmaFromTimestep;
};

// Families: flux, flux_schnell, chroma, qwenimage, nucleusmoe_image, ernie_image, z_image.
PipelineSchedule pipeline_schedule(const std::string& family);

// The value passed to the transformer for scheduler timestep t (float32 arithmetic).
float model_time(float t, ModelTime kind, int num_train_timesteps);

}  // namespace diffuse
