// Scheduler cases: for every schedule in the case (resolution x step count) the pipeline's
// own sigmas and mu, set_timesteps, the timesteps / sigmas / model time values; then the
// two Euler steps of the step test.
#include <filesystem>

#include "parity/cases/cases.h"
#include "sampling/pipeline_schedule.h"

namespace diffuse::parity {

namespace {

Tensor vector_tensor(const std::vector<float>& v) {
  return Tensor::from_f32({static_cast<int64_t>(v.size())}, v);
}

}  // namespace

ProducedSet run_scheduler_case(const FixtureCase& c, const RunOptions&) {
  const std::string ctx = c.dir() + "/case.json";
  const std::string config_path = (std::filesystem::path(c.dir()) / "config.json").string();
  const FlowMatchConfig config = FlowMatchConfig::from_json(io::load_json(config_path), config_path);
  const io::Json& call = c.json().at("call");
  const std::string family = io::require_string(call, "family", ctx + ": call");
  const PipelineSchedule ps = pipeline_schedule(family);

  // Bounds from case.json: timesteps 1e-3 absolute (values up to 1000), sigmas 1e-5, step 1e-6.
  const Tolerance sigma_tol{0.999999, 1e-5, -1};
  const Tolerance timestep_tol{0.999999, 1e-3, -1};
  const Tolerance step_tol{0.999999, 1e-6, -1};

  ProducedSet out;
  FlowMatchEulerScheduler step_scheduler(config);
  const std::string step_tag = call.at("step_test").at("schedule").get<std::string>();
  for (const auto& sched : call.at("schedules")) {
    const std::string tag = io::require_string(sched, "tag", ctx + ": schedule");
    const int n = static_cast<int>(io::require_int(sched, "num_inference_steps", ctx + ": " + tag));
    const int64_t h = io::require_int(sched, "height", ctx + ": " + tag);
    const int64_t w = io::require_int(sched, "width", ctx + ": " + tag);
    const int64_t seq_len = (h / 16) * (w / 16);  // VAE /8, then 2x2 packing
    const double mu = calculate_shift(seq_len, config);
    if (auto expected_mu = io::get_optional_double(sched, "mu", ctx + ": " + tag)) {
      DIFFUSE_CHECK(std::abs(*expected_mu - mu) < 1e-9, ctx, ": schedule ", tag, ": mu ", mu,
                    " differs from the pipeline's ", *expected_mu);
    }
    FlowMatchEulerScheduler s(config);
    s.set_timesteps(pipeline_sigmas(n, ps.spacing), mu);
    std::vector<float> model_t;
    for (float t : s.timesteps()) model_t.push_back(model_time(t, ps.model_time, config.num_train_timesteps));

    const auto add = [&](const std::string& name, const std::vector<float>& v, const Tolerance& tol) {
      if (c.has(name)) out.outputs.push_back({name, vector_tensor(v), tol});
    };
    add("out.timesteps." + tag, s.timesteps(), timestep_tol);
    add("out.sigmas." + tag, s.sigmas(), sigma_tol);
    add("out.model_timestep." + tag,
        model_t, ps.model_time == ModelTime::RawTimestep ? timestep_tol : sigma_tol);
    if (tag == step_tag) step_scheduler = s;
  }

  Tensor sample = c.tensor("in.step.sample");
  const int steps = static_cast<int>(io::require_int(call.at("step_test"), "steps", ctx + ": step_test"));
  for (int i = 0; i < steps; ++i) {
    const std::string idx = std::to_string(i);
    sample = step_scheduler.step(c.tensor("in.step.model_output." + idx), i, sample);
    out.outputs.push_back({"out.step.prev_sample." + idx, sample, step_tol});
  }
  return out;
}

}  // namespace diffuse::parity
