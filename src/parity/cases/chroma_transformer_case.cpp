// ChromaTransformer2DModel cases: one forward call on the fixture's inputs; out.sample plus the
// per-module dumps. The text mask follows the model's default (boolean key mask) unless
// `--flag chroma-diffusers-additive-mask` selects the diffusers snapshot's additive 0/1 mask,
// which is how the golden fixture was produced.
#include <filesystem>

#include "io/checkpoint.h"
#include "models/dit/chroma_transformer.h"
#include "parity/cases/cases.h"

namespace diffuse::parity {

ProducedSet run_chroma_transformer_case(const FixtureCase& c, const RunOptions& o) {
  namespace fs = std::filesystem;
  const std::string config_path = (fs::path(c.dir()) / "config.json").string();
  const auto cfg = models::ChromaTransformerConfig::from_json(io::load_json(config_path), config_path);

  io::WeightBinder binder(
      io::WeightSource::open_file((fs::path(c.dir()) / "diffusion_pytorch_model.safetensors").string()));
  models::ModelOptions mo;
  mo.precision = o.bf16 ? models::Precision::BF16 : models::Precision::F32;
  const models::ChromaMaskMode mode = o.has_flag("chroma-diffusers-additive-mask")
                                          ? models::ChromaMaskMode::DiffusersAdditive
                                          : models::ChromaMaskMode::KeyMask;
  const models::ChromaTransformer2DModel model(cfg, binder, mo, mode);
  binder.check();

  ProducedSet out;
  const models::Trace trace([&](const std::string& path, const Tensor& value) {
    const std::string name = "dump." + path;
    if (c.has(name)) out.dumps.push_back({name, value, std::nullopt});
  });
  models::ChromaTransformerInputs in;
  in.hidden_states = c.tensor("in.hidden_states");
  in.encoder_hidden_states = c.tensor("in.encoder_hidden_states");
  in.timestep = c.tensor("in.timestep");
  in.img_ids = c.tensor("in.img_ids");
  in.txt_ids = c.tensor("in.txt_ids");
  if (c.has("in.attention_mask")) in.attention_mask = c.tensor("in.attention_mask");
  out.outputs.push_back({"out.sample", model.forward(in, &trace), std::nullopt});
  return out;
}

}  // namespace diffuse::parity
