#include "sampling/pipeline_schedule.h"

#include "runtime/error.h"

namespace diffuse {

PipelineSchedule pipeline_schedule(const std::string& family) {
  if (family == "flux" || family == "flux_schnell" || family == "chroma" || family == "qwenimage") {
    return {SigmaSpacing::LinspaceToOneOverN, ModelTime::SigmaFromTimestep};
  }
  if (family == "nucleusmoe_image") return {SigmaSpacing::LinspaceToOneOverN, ModelTime::TimestepOverTrain};
  if (family == "ernie_image") return {SigmaSpacing::LinspaceDropLast, ModelTime::RawTimestep};
  if (family == "z_image") return {SigmaSpacing::LinspaceToOneOverN, ModelTime::OneMinusSigma};
  fail("unknown pipeline family '", family, "'");
}

float model_time(float t, ModelTime kind, int num_train_timesteps) {
  switch (kind) {
    case ModelTime::SigmaFromTimestep: return t / 1000.0f;
    case ModelTime::TimestepOverTrain: return t / static_cast<float>(num_train_timesteps);
    case ModelTime::RawTimestep: return t;
    case ModelTime::OneMinusSigma: return (1000.0f - t) / 1000.0f;
  }
  return t;
}

}  // namespace diffuse
