// FlowMatchEulerDiscreteScheduler: the sigma schedule every supported DiT samples with
// (static shift, dynamic "mu" time shift, shift_terminal stretch) and its Euler step.
// Arithmetic follows the reference: the sigma math runs in float32 after the initial cast.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/json_config.h"
#include "tensor/tensor.h"

namespace diffuse {

struct FlowMatchConfig {
  int num_train_timesteps = 1000;
  double shift = 1.0;
  bool use_dynamic_shifting = false;
  double base_shift = 0.5;
  double max_shift = 1.15;
  int64_t base_image_seq_len = 256;
  int64_t max_image_seq_len = 4096;
  std::optional<double> shift_terminal;
  bool exponential_time_shift = true;  // time_shift_type "exponential" (else "linear")

  // Reads a scheduler_config.json object; absent fields take the reference defaults.
  // Options this engine does not implement (karras/exponential/beta sigmas, stochastic
  // sampling, inverted sigmas) are rejected by name. `context` names the file in errors.
  static FlowMatchConfig from_json(const io::Json& j, const std::string& context);
};

// The pipelines' `calculate_shift`: mu as a linear function of the image token count,
// evaluated in double precision.
double calculate_shift(int64_t image_seq_len, const FlowMatchConfig& config);

class FlowMatchEulerScheduler {
 public:
  explicit FlowMatchEulerScheduler(FlowMatchConfig config);

  // Sets the schedule from the sigmas a pipeline passes (cast to float32), shifted, or
  // stretched as configured. `mu` is required when dynamic shifting is on.
  void set_timesteps(const std::vector<double>& sigmas, std::optional<double> mu = std::nullopt);
  // Default schedule: `n` timesteps evenly spaced between the shifted sigma_max / sigma_min.
  void set_timesteps(int num_inference_steps, std::optional<double> mu = std::nullopt);

  const std::vector<float>& sigmas() const { return sigmas_; }        // n + 1 (terminal 0)
  const std::vector<float>& timesteps() const { return timesteps_; }  // n, = sigma * 1000
  int num_steps() const { return static_cast<int>(timesteps_.size()); }
  const FlowMatchConfig& config() const { return config_; }

  // Euler step i: sample + (sigma[i+1] - sigma[i]) * model_output, in float32. The result
  // takes the sample's dtype (the reference casts back to the latent dtype).
  Tensor step(const Tensor& model_output, int step_index, const Tensor& sample) const;

 private:
  template <typename T>
  void apply_shift(std::vector<T>& sigmas, std::optional<double> mu) const;
  template <typename T>
  void finish_schedule(std::vector<T> sigmas, std::optional<double> mu);

  FlowMatchConfig config_;
  std::vector<float> sigmas_;
  std::vector<float> timesteps_;
  float sigma_min_ = 0, sigma_max_ = 1;  // of the shifted training schedule
};

// The sigmas each reference pipeline passes to set_timesteps for n steps.
enum class SigmaSpacing {
  LinspaceToOneOverN,  // FLUX, Chroma, Qwen-Image, Nucleus, Z-Image: linspace(1, 1/n, n)
  LinspaceDropLast,    // ERNIE-Image: linspace(1, 0, n + 1)[:-1]
};
std::vector<double> pipeline_sigmas(int num_inference_steps, SigmaSpacing spacing);

}  // namespace diffuse
