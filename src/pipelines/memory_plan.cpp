#include "pipelines/memory_plan.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "io/checkpoint.h"
#include "io/json_config.h"
#include "io/quantized_tensors.h"
#include "pipelines/model_catalog.h"
#include "runtime/error.h"

namespace diffuse::pipelines {

namespace {

ComponentRole role_of(const std::string& component) {
  if (component.rfind("text_encoder", 0) == 0) return ComponentRole::TextEncoder;
  if (component == "vae") return ComponentRole::Vae;
  return ComponentRole::Transformer;
}

int64_t config_int(const io::Json& config, std::initializer_list<const char*> keys, int64_t fallback) {
  const io::Json& c = config.contains("text_config") ? config.at("text_config") : config;
  for (const char* k : keys) {
    if (c.contains(k) && c.at(k).is_number_integer()) return c.at(k).get<int64_t>();
  }
  return fallback;
}

// Bytes one tensor occupies once loaded (see the header for the rules).
uint64_t loaded_bytes(const io::WeightBinder::Expected& e, const io::WeightSource* source,
                      const models::ModelOptions& options) {
  const uint64_t numel = static_cast<uint64_t>(shape_numel(e.shape));
  if (e.linear_weight) {
    const auto kind = source ? io::stored_weight_kind(*source, e.name) : io::StoredWeightKind::Float;
    if (kind != io::StoredWeightKind::Float) {  // used as stored
      uint64_t bytes = source->info(e.name).nbytes();
      for (const auto& c : io::companion_names(e.name, kind)) bytes += source->info(c).nbytes();
      return bytes;
    }
    if (options.quantization != ops::QuantMode::None && ops::quantizable(e.shape, options.quantization))
      return ops::quantized_weight_bytes(e.shape, options.quantization);
    return numel * (options.precision == models::Precision::F32 ? 4 : 2);
  }
  const uint64_t stored = source && source->contains(e.name) ? source->info(e.name).nbytes() : numel * 2;
  // Convolution kernels (rank >= 4) are also held as f32 by the conv kernels.
  return e.shape.size() >= 4 ? stored + numel * 4 : stored;
}

ComponentFootprint footprint(const std::string& root, const io::ComponentSpec& spec, const io::Json& config,
                             const models::ModelOptions& options) {
  ComponentFootprint f;
  f.name = spec.name;
  f.class_name = spec.class_name;
  f.role = role_of(spec.name);
  const std::string folder = io::component_folder(root, spec.name);
  std::optional<io::WeightSource> source;
  if (io::folder_has_weights(folder)) source = io::open_component_weights(root, spec.name);
  for (const auto& e : expected_tensors(spec.class_name, config, folder + "/config.json")) {
    f.parameters += static_cast<uint64_t>(shape_numel(e.shape));
    f.weight_bytes += loaded_bytes(e, source ? &*source : nullptr, options);
  }
  return f;
}

// Live activation bytes of one phase, from the component's config (see the header).
uint64_t activation_bytes(const ComponentFootprint& f, const io::Json& config, const GenerationShape& s) {
  const auto& g = s.geometry;
  switch (f.role) {
    case ComponentRole::TextEncoder: {
      const int64_t hidden = config_int(config, {"hidden_size", "d_model"}, 4096);
      const int64_t inter = config_int(config, {"intermediate_size", "d_ff"}, 4 * hidden);
      return static_cast<uint64_t>(s.batch * s.text_tokens * (8 * hidden + 3 * inter) * 4);
    }
    case ComponentRole::Transformer: {
      const int64_t width = config_int(config, {"num_attention_heads"}, 24) * config_int(config, {"attention_head_dim"}, 128);
      // The residual streams, norm output, q / k / v, attention output, the MLP hidden layer
      // and their bf16 copies: about 16 f32 values per token and channel at once.
      return static_cast<uint64_t>(s.batch * (s.text_tokens + g.tokens()) * width * 4 * 16);
    }
    case ComponentRole::Vae: {
      int64_t channels = config_int(config, {"base_dim"}, 0);
      if (!channels && config.contains("block_out_channels") && config.at("block_out_channels").is_array() &&
          !config.at("block_out_channels").empty())
        channels = config.at("block_out_channels").at(0).get<int64_t>();
      if (!channels) channels = 128;
      // Full-resolution feature maps: input, two resnet intermediates, output, upsample source.
      return static_cast<uint64_t>(g.height * g.width * channels * 4 * 8);
    }
  }
  return 0;
}

}  // namespace

uint64_t MemoryPlan::peak() const { return std::max({text_phase, denoise_phase, decode_phase}); }

std::string gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

std::string MemoryPlan::describe() const {
  std::ostringstream out;
  for (const auto& c : components) {
    out << "  " << c.name << " (" << c.class_name << "): " << c.parameters << " parameters, " << gib(c.weight_bytes)
        << " of weights\n";
  }
  out << "  text phase " << gib(text_phase) << " (activations " << gib(text_activations) << "), denoise phase "
      << gib(denoise_phase) << " (activations " << gib(denoise_activations) << "), decode phase "
      << gib(decode_phase) << " (activations " << gib(decode_activations) << ")\n";
  out << "  peak " << gib(peak());
  return out.str();
}

MemoryPlan plan_generation_memory(const std::string& root, const io::ModelIndex& index,
                                  const models::ModelOptions& options, const GenerationShape& shape) {
  MemoryPlan plan;
  uint64_t text_weights = 0, transformer_weights = 0, vae_weights = 0;
  for (const auto& spec : index.components) {
    if (!architecture_builder(spec.class_name)) continue;  // tokenizers, schedulers
    const io::Json config = io::load_component_config(root, spec.name);
    ComponentFootprint f = footprint(root, spec, config, options);
    const uint64_t act = activation_bytes(f, config, shape);
    switch (f.role) {
      case ComponentRole::TextEncoder:
        text_weights += f.weight_bytes;
        plan.text_activations = std::max(plan.text_activations, act);
        break;
      case ComponentRole::Transformer:
        transformer_weights += f.weight_bytes;
        plan.denoise_activations = std::max(plan.denoise_activations, act);
        break;
      case ComponentRole::Vae:
        vae_weights += f.weight_bytes;
        plan.decode_activations = std::max(plan.decode_activations, act);
        break;
    }
    plan.components.push_back(std::move(f));
  }
  plan.text_phase = text_weights + plan.text_activations;
  plan.denoise_phase = transformer_weights + vae_weights + plan.denoise_activations;
  plan.decode_phase = vae_weights + plan.decode_activations;
  return plan;
}

GenerationShape generation_shape(const std::string& root, int64_t width, int64_t height, int64_t text_tokens,
                                 bool cfg) {
  const io::Json vae = io::load_component_config(root, "vae");
  // AutoencoderKLQwenImage halves per dim_mult level after the first, AutoencoderKL per
  // block_out_channels entry after the first.
  const char* levels_key = vae.contains("dim_mult") ? "dim_mult" : "block_out_channels";
  const int64_t levels = vae.contains(levels_key) && vae.at(levels_key).is_array()
                             ? static_cast<int64_t>(vae.at(levels_key).size())
                             : 4;
  GenerationShape s;
  s.geometry = LatentGeometry::from_image_size(height, width, int64_t{1} << std::max<int64_t>(levels - 1, 0));
  s.text_tokens = text_tokens;
  s.batch = cfg ? 2 : 1;
  return s;
}

void check_memory_fits(const MemoryPlan& plan, uint64_t available,
                       const std::function<MemoryPlan(ops::QuantMode)>& plan_for) {
  if (available == 0 || plan.peak() <= available) return;
  std::string modes;
  for (const auto mode : {ops::QuantMode::Int8, ops::QuantMode::Q4}) {
    const uint64_t peak = plan_for(mode).peak();
    modes += str_cat("\n  --quantize ", ops::quant_mode_name(mode), ": about ", gib(peak),
                     peak <= available ? " (fits)" : " (does not fit either)");
  }
  fail("not enough memory: this run needs about ", gib(plan.peak()), " but ", gib(available),
       " is available\n", plan.describe(), modes,
       "\n(--no-memory-check runs anyway; the estimate counts weights as the kernels hold them plus activations)");
}

namespace {

// A byte count with an optional K/M/G/T suffix (binary units); nullopt if malformed.
std::optional<uint64_t> parse_bytes(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string suffix = text.substr(used);
  double unit = 1;
  if (suffix == "K" || suffix == "k") unit = 1024.0;
  else if (suffix == "M") unit = 1024.0 * 1024;
  else if (suffix == "G") unit = 1024.0 * 1024 * 1024;
  else if (suffix == "T") unit = 1024.0 * 1024 * 1024 * 1024;
  else if (!suffix.empty()) return std::nullopt;
  if (!(value >= 0)) return std::nullopt;
  return static_cast<uint64_t>(value * unit);
}

uint64_t read_first_number(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return 0;
  return parse_bytes(word).value_or(0);
}

}  // namespace

uint64_t available_memory_bytes() {
  if (const char* forced = std::getenv("DIFFUSE_AVAILABLE_MEMORY")) {
    const auto bytes = parse_bytes(forced);
    DIFFUSE_CHECK(bytes.has_value(), "DIFFUSE_AVAILABLE_MEMORY='", forced,
                  "' is not a byte count (e.g. 24G, 512M or 1073741824)");
    return *bytes;
  }
  uint64_t available = 0;
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kib = 0;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") {
      available = kib * 1024;
      break;
    }
  }
  // Inside a container the cgroup limit (v2) is what counts, not the host's free memory.
  const uint64_t limit = read_first_number("/sys/fs/cgroup/memory.max");
  if (limit > 0) {
    const uint64_t used = read_first_number("/sys/fs/cgroup/memory.current");
    const uint64_t room = limit > used ? limit - used : 0;
    available = available == 0 ? room : std::min(available, room);
  }
  return available;
}

}  // namespace diffuse::pipelines
