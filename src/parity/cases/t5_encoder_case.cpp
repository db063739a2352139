// T5 encoder cases (transformers.T5EncoderModel): the output_hidden_states tuple with the
// tokenizer mask (Chroma's call) and without it (FLUX's call), the per-sublayer dumps of the
// masked call, and Chroma's transformer text mask derived from the tokenizer mask (the
// pipeline's own function).
#include <filesystem>

#include "io/checkpoint.h"
#include "models/text/t5_encoder.h"
#include "parity/cases/cases.h"
#include "pipelines/flux_text.h"

namespace diffuse::parity {

ProducedSet run_t5_encoder_case(const FixtureCase& c, const RunOptions& o) {
  namespace fs = std::filesystem;
  const std::string config_path = (fs::path(c.dir()) / "config.json").string();
  const auto config = models::T5EncoderConfig::from_json(io::load_json(config_path), config_path);
  io::WeightBinder binder(io::WeightSource::open_file((fs::path(c.dir()) / "model.safetensors").string()));
  models::ModelOptions options;
  options.precision = o.bf16 ? models::Precision::BF16 : models::Precision::F32;
  const models::T5Encoder encoder(config, binder, options);
  binder.check();

  const Tensor ids = c.tensor("in.input_ids");
  const Tensor mask = c.tensor("in.attention_mask");
  ProducedSet out;
  const models::Trace trace([&](const std::string& path, const Tensor& value) {
    if (c.has("dump." + path)) out.dumps.push_back({"dump." + path, value, std::nullopt});
  });
  const auto add_hidden = [&](const std::string& prefix, const std::vector<Tensor>& hs) {
    for (size_t i = 0; i < hs.size(); ++i) {
      const std::string name = prefix + std::to_string(i);
      if (c.has(name)) out.outputs.push_back({name, hs[i], std::nullopt});
    }
  };
  add_hidden("out.hidden_states.", encoder.forward_hidden_states(ids, &mask, &trace));
  add_hidden("out_nomask.hidden_states.", encoder.forward_hidden_states(ids, nullptr));
  if (c.has("out.pipeline.chroma_transformer_mask")) {
    out.outputs.push_back({"out.pipeline.chroma_transformer_mask", pipelines::chroma_text_mask(mask), std::nullopt});
  }
  return out;
}

}  // namespace diffuse::parity
