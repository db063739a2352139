#include "pipelines/component_loader.h"

#include <filesystem>

#include "io/model_folder.h"
#include "models/common/linear_layer.h"
#include "runtime/buffer_pool.h"
#include "runtime/log.h"
#include "runtime/timer.h"

namespace diffuse::pipelines {

void load_component(const std::string& root, const std::string& component, const ComponentBuilder& build) {
  Timer timer;
  const std::string folder = io::component_folder(root, component);
  const std::string config_path = (std::filesystem::path(folder) / "config.json").string();
  const io::Json config = io::load_json(config_path);
  io::WeightBinder binder(io::open_component_weights(root, component));
  const auto before = models::LinearLayer::quantization_counts();
  build(config, config_path, binder);
  // Conversion temporaries of the load (e.g. quantization) would otherwise wait idle in the
  // activation arena until the first forward's first miss.
  release_cached_buffers();
  const auto after = models::LinearLayer::quantization_counts();
  binder.finish();
  if (!binder.ok()) fail(folder, ": weights do not match the architecture in config.json\n", binder.report());
  log_info(str_cat(component, ": ", binder.matched_count(), "/", binder.expected_count(),
                   " tensors matched (", static_cast<int>(timer.millis()), " ms)"));
  const size_t stored = after.stored_quantized - before.stored_quantized;
  const size_t at_load = after.quantized_at_load - before.quantized_at_load;
  const size_t kept = after.kept_float - before.kept_float;
  if (stored + at_load + kept > 0)
    log_info(str_cat(component, ": Linear weights: ", stored, " stored quantized, ", at_load, " quantized at load, ", kept,
                     " kept in float (in_features not a multiple of the group size)"));
}

}  // namespace diffuse::pipelines
