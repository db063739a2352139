#include "pipelines/model_catalog.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>

#include "io/model_folder.h"
#include "models/dit/chroma_transformer.h"
#include "models/dit/flux_transformer.h"
#include "models/dit/qwenimage_transformer.h"
#include "models/text/clip_text_model.h"
#include "models/text/decoder_llm.h"
#include "models/text/t5_encoder.h"
#include "models/vae/autoencoder_kl.h"
#include "models/vae/autoencoder_kl_qwenimage.h"

namespace diffuse::pipelines {

namespace {

template <typename Model, typename Config>
ComponentBuilder builder() {
  return [](const io::Json& config, const std::string& ctx, io::WeightBinder& b) {
    Model model(Config::from_json(config, ctx), b, models::ModelOptions{});
  };
}

const std::map<std::string, ComponentBuilder>& catalog() {
  static const std::map<std::string, ComponentBuilder> table = {
      {"FluxTransformer2DModel", builder<models::FluxTransformer2DModel, models::FluxTransformerConfig>()},
      {"ChromaTransformer2DModel", builder<models::ChromaTransformer2DModel, models::ChromaTransformerConfig>()},
      {"QwenImageTransformer2DModel",
       builder<models::QwenImageTransformer2DModel, models::QwenImageTransformerConfig>()},
      {"AutoencoderKL", builder<models::AutoencoderKL, models::AutoencoderKLConfig>()},
      {"AutoencoderKLQwenImage", builder<models::AutoencoderKLQwenImage, models::AutoencoderKLQwenImageConfig>()},
      {"T5EncoderModel", builder<models::T5Encoder, models::T5EncoderConfig>()},
      {"CLIPTextModel", builder<models::CLIPTextModel, models::CLIPTextModelConfig>()},
      {"Qwen2_5_VLForConditionalGeneration", builder<models::DecoderLlm, models::DecoderLlmConfig>()},
      {"Qwen3VLForConditionalGeneration", builder<models::DecoderLlm, models::DecoderLlmConfig>()},
      {"Mistral3ForConditionalGeneration", builder<models::DecoderLlm, models::DecoderLlmConfig>()},
      {"Mistral3Model", builder<models::DecoderLlm, models::DecoderLlmConfig>()},
  };
  return table;
}

}  // namespace

std::optional<ComponentBuilder> architecture_builder(const std::string& class_name) {
  const auto it = catalog().find(class_name);
  if (it == catalog().end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> known_architectures() {
  std::vector<std::string> names;
  for (const auto& [name, b] : catalog()) names.push_back(name);
  return names;
}

std::string config_class_name(const io::Json& config) {
  if (!config.is_object()) return "";
  if (auto it = config.find("_class_name"); it != config.end() && it->is_string()) return it->get<std::string>();
  if (auto it = config.find("architectures"); it != config.end() && it->is_array() && !it->empty() &&
                                              it->front().is_string()) {
    return it->front().get<std::string>();
  }
  return "";
}

std::vector<io::WeightBinder::Expected> expected_tensors(const std::string& class_name, const io::Json& config,
                                                         const std::string& context) {
  const auto build = architecture_builder(class_name);
  DIFFUSE_CHECK(build, context, ": no architecture '", class_name, "' (known: ", [] {
    std::string s;
    for (const auto& n : known_architectures()) s += (s.empty() ? "" : ", ") + n;
    return s;
  }(), ")");
  io::WeightBinder binder = io::WeightBinder::expected_only();
  (*build)(config, context, binder);
  auto list = binder.expected();
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return list;
}

io::WeightBinder check_component(const std::string& root, const std::string& component, const std::string& class_name) {
  const std::string config_path = (std::filesystem::path(io::component_folder(root, component)) / "config.json").string();
  const auto expected = expected_tensors(class_name, io::load_json(config_path), config_path);
  io::WeightBinder binder(io::open_component_weights(root, component));
  for (const auto& e : expected) {
    if (e.linear_weight) {
      binder.take_linear_weight(e.name, e.shape);  // float or quantized storage
    } else if (e.optional) {
      binder.take_optional(e.name, e.shape);
    } else {
      binder.take(e.name, e.shape);
    }
  }
  binder.finish();
  return binder;
}

}  // namespace diffuse::pipelines
