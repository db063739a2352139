#include "parity/cases/pipeline_case_recording.h"

#include <limits>
#include <string>

namespace diffuse::parity {

Tolerance pipeline_tolerance(const RunOptions& options) {
  return options.bf16 ? Tolerance{0.999, std::numeric_limits<double>::infinity(), -1} : Tolerance{0.99999, 1e-4, -1};
}

pipelines::DenoiseObserver record_denoising(const FixtureCase& c, ProducedSet& out, const Tolerance& tol) {
  pipelines::DenoiseObserver obs;
  obs.on_step = [&out, tol](int i, float t, const Tensor& latents) {
    out.outputs.push_back({"out.latents.step" + std::to_string(i), latents.clone(), tol});
    out.outputs.push_back({"out.timestep.step" + std::to_string(i), Tensor::from_f32({1}, {t}),
                           Tolerance{0.999999, 1e-3, -1}});
  };
  obs.on_transformer_call = [&c, &out, tol](int k, const std::map<std::string, Tensor>& args) {
    for (const auto& [name, value] : args) {
      const std::string key = "dump.transformer.call" + std::to_string(k) + "." + name;
      if (c.has(key)) out.dumps.push_back({key, value.clone(), tol});
    }
  };
  return obs;
}

}  // namespace diffuse::parity
