#include "sampling/flow_match_scheduler.h"

#include <cmath>

#include "runtime/error.h"

namespace diffuse {

FlowMatchConfig FlowMatchConfig::from_json(const io::Json& j, const std::string& context) {
  DIFFUSE_CHECK(j.is_object(), context, ": scheduler config is not a JSON object");
  FlowMatchConfig c;
  c.num_train_timesteps = static_cast<int>(io::get_int(j, "num_train_timesteps", c.num_train_timesteps, context));
  c.shift = io::get_double(j, "shift", c.shift, context);
  c.use_dynamic_shifting = io::get_bool(j, "use_dynamic_shifting", c.use_dynamic_shifting, context);
  c.base_shift = io::get_double(j, "base_shift", c.base_shift, context);
  c.max_shift = io::get_double(j, "max_shift", c.max_shift, context);
  c.base_image_seq_len = io::get_int(j, "base_image_seq_len", c.base_image_seq_len, context);
  c.max_image_seq_len = io::get_int(j, "max_image_seq_len", c.max_image_seq_len, context);
  c.shift_terminal = io::get_optional_double(j, "shift_terminal", context);
  const std::string shift_type = io::get_string(j, "time_shift_type", "exponential", context);
  DIFFUSE_CHECK(shift_type == "exponential" || shift_type == "linear", context,
                ": unsupported time_shift_type '", shift_type, "'");
  c.exponential_time_shift = shift_type == "exponential";
  for (const char* unsupported : {"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
                                  "stochastic_sampling", "invert_sigmas"}) {
    DIFFUSE_CHECK(!io::get_bool(j, unsupported, false, context), context, ": ", unsupported,
                  "=true is not supported");
  }
  DIFFUSE_CHECK(c.num_train_timesteps > 0, context, ": num_train_timesteps must be positive");
  DIFFUSE_CHECK(c.max_image_seq_len != c.base_image_seq_len, context,
                ": max_image_seq_len equals base_image_seq_len");
  return c;
}

double calculate_shift(int64_t image_seq_len, const FlowMatchConfig& c) {
  const double m = (c.max_shift - c.base_shift) /
                   static_cast<double>(c.max_image_seq_len - c.base_image_seq_len);
  const double b = c.base_shift - m * static_cast<double>(c.base_image_seq_len);
  return static_cast<double>(image_seq_len) * m + b;
}

FlowMatchEulerScheduler::FlowMatchEulerScheduler(FlowMatchConfig config) : config_(config) {
  // The training schedule runs sigma = 1 .. 1/N, statically shifted unless the shift is
  // dynamic; its ends bound the default inference schedule.
  // (No shift_terminal stretch here: the reference applies it to inference schedules only.)
  auto shifted = [&](float s) {
    if (config_.use_dynamic_shifting) return s;
    const float shift = static_cast<float>(config_.shift);
    return shift * s / (1.0f + static_cast<float>(config_.shift - 1.0) * s);
  };
  sigma_max_ = shifted(1.0f);
  sigma_min_ = shifted(1.0f / static_cast<float>(config_.num_train_timesteps));
}


template <typename T>
void FlowMatchEulerScheduler::apply_shift(std::vector<T>& s, std::optional<double> mu) const {
  if (config_.use_dynamic_shifting) {
    // exponential: e^mu / (e^mu + (1/s - 1)); linear: mu / (mu + (1/s - 1)).
    const T a = static_cast<T>(config_.exponential_time_shift ? std::exp(*mu) : *mu);
    for (T& x : s) x = a / (a + (T(1) / x - T(1)));
  } else {
    const T shift = static_cast<T>(config_.shift);
    const T shift_m1 = static_cast<T>(config_.shift - 1.0);
    for (T& x : s) x = shift * x / (T(1) + shift_m1 * x);
  }
  if (config_.shift_terminal) {
    // Stretch so the last sigma lands exactly on shift_terminal.
    const T scale = static_cast<T>(static_cast<double>(T(1) - s.back()) / (1.0 - *config_.shift_terminal));
    for (T& x : s) x = T(1) - (T(1) - x) / scale;
  }
}

template <typename T>
void FlowMatchEulerScheduler::finish_schedule(std::vector<T> s, std::optional<double> mu) {
  DIFFUSE_CHECK(!s.empty(), "set_timesteps: empty sigma list");
  DIFFUSE_CHECK(!config_.use_dynamic_shifting || mu.has_value(),
                "set_timesteps: the scheduler uses dynamic shifting, so mu is required");
  apply_shift(s, mu);
  sigmas_.assign(s.size() + 1, 0.0f);  // terminal sigma 0
  timesteps_.resize(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    sigmas_[i] = static_cast<float>(s[i]);
    timesteps_[i] = sigmas_[i] * static_cast<float>(config_.num_train_timesteps);
  }
}

void FlowMatchEulerScheduler::set_timesteps(const std::vector<double>& sigmas, std::optional<double> mu) {
  // Passed sigmas are cast to float32 first and all shift math then runs in float32.
  finish_schedule(std::vector<float>(sigmas.begin(), sigmas.end()), mu);
}

void FlowMatchEulerScheduler::set_timesteps(int num_inference_steps, std::optional<double> mu) {
  DIFFUSE_CHECK(num_inference_steps > 0, "number of inference steps must be positive, got ",
                num_inference_steps);
  // The reference builds this schedule in float64 and casts the result to float32.
  const double t_max = static_cast<double>(sigma_max_) * config_.num_train_timesteps;
  const double t_min = static_cast<double>(sigma_min_) * config_.num_train_timesteps;
  std::vector<double> sigmas(num_inference_steps);
  for (int i = 0; i < num_inference_steps; ++i) {
    const double frac = num_inference_steps == 1 ? 0.0 : double(i) / (num_inference_steps - 1);
    sigmas[i] = (t_max + (t_min - t_max) * frac) / config_.num_train_timesteps;
  }
  finish_schedule(std::move(sigmas), mu);
}

Tensor FlowMatchEulerScheduler::step(const Tensor& model_output, int step_index,
                                     const Tensor& sample) const {
  DIFFUSE_CHECK(step_index >= 0 && step_index < num_steps(), "scheduler step ", step_index,
                " out of range (", num_steps(), " steps)");
  DIFFUSE_CHECK(model_output.shape() == sample.shape(), "scheduler step: model output ",
                shape_str(model_output.shape()), " vs sample ", shape_str(sample.shape()));
  const float dt = sigmas_[step_index + 1] - sigmas_[step_index];
  Tensor x = sample.to(DType::F32);
  Tensor v = model_output.dtype() == DType::F32 ? model_output.contiguous() : model_output.to(DType::F32);
  float* px = x.data_mut<float>();
  const float* pv = v.data<float>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) px[i] = px[i] + dt * pv[i];
  return sample.dtype() == DType::F32 ? x : x.to(sample.dtype());
}

std::vector<double> pipeline_sigmas(int n, SigmaSpacing spacing) {
  DIFFUSE_CHECK(n > 0, "number of inference steps must be positive, got ", n);
  std::vector<double> s(n);
  for (int i = 0; i < n; ++i) {
    if (spacing == SigmaSpacing::LinspaceToOneOverN) {
      const double end = 1.0 / n;
      s[i] = n == 1 ? 1.0 : 1.0 + (end - 1.0) * i / (n - 1);
    } else {
      s[i] = 1.0 - static_cast<double>(i) / n;
    }
  }
  return s;
}

}  // namespace diffuse
