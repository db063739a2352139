// The Euler flow-matching loop every image pipeline here runs (FLUX.1, Chroma, Qwen-Image):
// the family's sigma schedule with the resolution-dependent shift, the model time fed to the
// transformer, one velocity evaluation and one scheduler step per step. What differs between
// pipelines — how the velocity is computed and guided — is the caller's function.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "sampling/flow_match_scheduler.h"
#include "tensor/tensor.h"

namespace diffuse::pipelines {

struct DenoiseObserver {
  // After each scheduler step: step index, scheduler timestep t, latents (packed).
  std::function<void(int step, float t, const Tensor& latents)> on_step;
  // Every transformer evaluation as the reference pipeline makes it: cond first, then uncond
  // (a batched call is reported as those two calls), with the arguments under the reference
  // pipeline's names plus "out".
  std::function<void(int call, const std::map<std::string, Tensor>& args)> on_transformer_call;
};

struct FlowStep {
  int index = 0;
  float t = 0.0f;           // scheduler timestep (sigma * num_train_timesteps)
  float model_time = 0.0f;  // what the family's transformer is given for t
};

// latents [1, tokens, C] -> velocity of the same shape (f32).
using VelocityFn = std::function<Tensor(const Tensor& latents, const FlowStep& step)>;

// Runs `steps` Euler steps of the `family`'s schedule (sampling/pipeline_schedule.h) from
// `latents` over `image_tokens` tokens and returns the final latents (f32).
Tensor run_flow_sampler(const FlowMatchConfig& config, const std::string& family, int steps, int64_t image_tokens,
                        Tensor latents, const VelocityFn& velocity, const DenoiseObserver& observer);

}  // namespace diffuse::pipelines
