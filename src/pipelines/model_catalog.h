// The architectures diffuse can build, by the class name a component's folder declares
// (model_index.json entry or config.json "_class_name" / "architectures"). Used to check a
// checkpoint against its architecture without loading it (generate's preflight, inspect)
// and to list the tensors an architecture expects (inspect --expected).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/json_config.h"
#include "io/weight_binder.h"
#include "pipelines/component_loader.h"

namespace diffuse::pipelines {

// A builder that constructs the architecture of `class_name` against a binder (the model
// object is discarded: only the binding matters), or nullopt for classes without weights
// (tokenizers, schedulers) or unknown ones.
std::optional<ComponentBuilder> architecture_builder(const std::string& class_name);
std::vector<std::string> known_architectures();

// The class named by a component folder's config.json: "_class_name" (diffusers) or the
// first of "architectures" (transformers); empty if neither.
std::string config_class_name(const io::Json& config);

// Every tensor the architecture expects (names and shapes), sorted by name, built from the
// config alone (no weights needed).
std::vector<io::WeightBinder::Expected> expected_tensors(const std::string& class_name, const io::Json& config,
                                                         const std::string& context);

// Checks the weights in <root>/<component> against the architecture without reading any
// tensor data (header shapes only). Returns the binder ledger (report(), ok()).
io::WeightBinder check_component(const std::string& root, const std::string& component, const std::string& class_name);

}  // namespace diffuse::pipelines
