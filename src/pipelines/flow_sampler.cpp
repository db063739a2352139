#include "pipelines/flow_sampler.h"

#include "sampling/pipeline_schedule.h"
#include "runtime/profiler.h"

namespace diffuse::pipelines {

Tensor run_flow_sampler(const FlowMatchConfig& config, const std::string& family, int steps, int64_t image_tokens,
                        Tensor latents, const VelocityFn& velocity, const DenoiseObserver& observer) {
  ProfileScope scope(profile_scopes::kTransformer);
  FlowMatchEulerScheduler scheduler(config);
  const PipelineSchedule ps = pipeline_schedule(family);
  scheduler.set_timesteps(pipeline_sigmas(steps, ps.spacing), calculate_shift(image_tokens, config));
  latents = latents.to(DType::F32);
  for (int i = 0; i < scheduler.num_steps(); ++i) {
    FlowStep step;
    step.index = i;
    step.t = scheduler.timesteps()[i];
    step.model_time = model_time(step.t, ps.model_time, config.num_train_timesteps);
    const Tensor v = velocity(latents, step);
    latents = scheduler.step(v, i, latents);
    if (observer.on_step) observer.on_step(i, step.t, latents);
  }
  return latents;
}

}  // namespace diffuse::pipelines
