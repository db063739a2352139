#include "pipelines/component_loader.h"

#include <filesystem>

#include "io/model_folder.h"
#include "runtime/log.h"
#include "runtime/timer.h"

namespace diffuse::pipelines {

void load_component(const std::string& root, const std::string& component, const ComponentBuilder& build) {
  Timer timer;
  const std::string folder = io::component_folder(root, component);
  const std::string config_path = (std::filesystem::path(folder) / "config.json").string();
  const io::Json config = io::load_json(config_path);
  io::WeightBinder binder(io::open_component_weights(root, component));
  build(config, config_path, binder);
  binder.finish();
  if (!binder.ok()) fail(folder, ": weights do not match the architecture in config.json\n", binder.report());
  log_info(str_cat(component, ": ", binder.matched_count(), "/", binder.expected_count(),
                   " tensors matched (", static_cast<int>(timer.millis()), " ms)"));
}

}  // namespace diffuse::pipelines
