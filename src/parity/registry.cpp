#include <map>

#include "parity/cases/cases.h"

namespace diffuse::parity {

namespace {

// Keyed by case.json "class" (model cases) or "kind" (scheduler, rng).
const std::map<std::string, CaseFn>& registry() {
  static const std::map<std::string, CaseFn> table = {
      {"scheduler", run_scheduler_case},
      {"rng", run_rng_case},
      {"FluxPipeline", run_flux_pipeline_case},
      {"ChromaPipeline", run_flux_pipeline_case},
      {"QwenImagePipeline", run_qwen_image_pipeline_case},
      {"transformers.T5EncoderModel", run_t5_encoder_case},
      {"transformers.Qwen2_5_VLForConditionalGeneration (text path only)", run_decoder_llm_case},
      {"transformers.Qwen3VLForConditionalGeneration (text path only)", run_decoder_llm_case},
      {"transformers.Mistral3Model (language_model = Ministral3Model)", run_decoder_llm_case},
      {"FluxTransformer2DModel", run_flux_transformer_case},
      {"ChromaTransformer2DModel", run_chroma_transformer_case},
      {"QwenImageTransformer2DModel", run_qwenimage_transformer_case},
      {"AutoencoderKL", run_autoencoder_kl_case},
      {"AutoencoderKLQwenImage", run_autoencoder_kl_qwenimage_case},
  };
  return table;
}

}  // namespace

const CaseFn* find_case_runner(const FixtureCase& c) {
  const auto& table = registry();
  if (auto it = table.find(c.class_name()); it != table.end()) return &it->second;
  if (auto it = table.find(c.kind()); it != table.end()) return &it->second;
  return nullptr;
}

std::vector<std::string> registered_case_runners() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : registry()) names.push_back(name);
  return names;
}

}  // namespace diffuse::parity
