// Model folders on disk: the diffusers layout (model_index.json + one sub-folder per
// component holding config.json and weights) and the Hugging Face cache layout
// (models--ORG--NAME/{refs/main, snapshots/<rev>/...}) that wraps it.
#pragma once

#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/json_config.h"

namespace diffuse::io {

// Returns the folder that holds the model files:
//   - a folder with model_index.json, or any .../snapshots/<rev> folder: itself;
//   - a cache folder models--ORG--NAME: snapshots/<rev> for the rev in refs/main, else its
//     only snapshot (several snapshots and no refs/main is an error).
// Throws diffuse::Error naming the path otherwise.
std::string resolve_model_path(const std::string& path);

// True for a Hugging Face cache repo folder (models--*) or a snapshot inside one.
bool is_hf_cache_path(const std::string& path);

struct ComponentSpec {
  std::string name;        // sub-folder name: "transformer", "vae", "text_encoder", ...
  std::string library;     // "diffusers", "transformers"
  std::string class_name;  // "FluxTransformer2DModel"
};

struct ModelIndex {
  std::string path;        // the model_index.json it was read from
  std::string class_name;  // "_class_name", e.g. "FluxPipeline"
  std::vector<ComponentSpec> components;  // sorted by name; null entries left out
  const ComponentSpec* find(const std::string& name) const;
};

// Reads <folder>/model_index.json. Components are the [library, class] entries; entries
// whose value is [null, null] (component not shipped), keys starting with "_", and
// non-array values (pipeline options such as booleans) are skipped.
ModelIndex read_model_index(const std::string& folder);

// <root>/<component>, which must be a directory.
std::string component_folder(const std::string& root, const std::string& component);
// <root>/<component>/config.json, parsed.
Json load_component_config(const std::string& root, const std::string& component);
// The weights in <root>/<component>.
WeightSource open_component_weights(const std::string& root, const std::string& component);

}  // namespace diffuse::io
