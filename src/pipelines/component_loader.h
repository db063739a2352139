// Loading one component folder of a diffusers model (config.json + weights): the model is
// constructed against a WeightBinder, and a checkpoint whose tensors do not match the
// architecture stops here, before any compute, with the binder's full report.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "io/json_config.h"
#include "io/weight_binder.h"

namespace diffuse::pipelines {

// build(config, context, binder) constructs the model; `context` names config.json for errors.
using ComponentBuilder = std::function<void(const io::Json& config, const std::string& context, io::WeightBinder& binder)>;

// Opens <root>/<component>, runs `build`, then verifies the binding: throws diffuse::Error
// with the "N/N tensors matched" report and every mismatch when anything is missing,
// mis-shaped or unexpected. Logs the match line and the load time.
void load_component(const std::string& root, const std::string& component, const ComponentBuilder& build);

}  // namespace diffuse::pipelines
