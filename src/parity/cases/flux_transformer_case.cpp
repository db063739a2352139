// FluxTransformer2DModel cases: one forward call on the fixture's inputs; out.sample plus the
// per-module dumps (embedders, RoPE tables, every block, final norm and projection).
#include <filesystem>

#include "io/checkpoint.h"
#include "models/dit/flux_transformer.h"
#include "parity/cases/cases.h"

namespace diffuse::parity {

ProducedSet run_flux_transformer_case(const FixtureCase& c, const RunOptions& o) {
  namespace fs = std::filesystem;
  const std::string config_path = (fs::path(c.dir()) / "config.json").string();
  const auto cfg = models::FluxTransformerConfig::from_json(io::load_json(config_path), config_path);

  io::WeightBinder binder(
      io::WeightSource::open_file((fs::path(c.dir()) / "diffusion_pytorch_model.safetensors").string()));
  models::ModelOptions mo;
  // F32 upcasts bf16-stored weights once (gemm_weight), as the fixtures' reference did.
  mo.precision = o.bf16 ? models::Precision::BF16 : models::Precision::F32;
  const models::FluxTransformer2DModel model(cfg, binder, mo);
  binder.check();

  ProducedSet out;
  const models::Trace trace([&](const std::string& path, const Tensor& value) {
    const std::string name = "dump." + path;
    if (c.has(name)) out.dumps.push_back({name, value, std::nullopt});
  });
  models::FluxTransformerInputs in;
  in.hidden_states = c.tensor("in.hidden_states");
  in.encoder_hidden_states = c.tensor("in.encoder_hidden_states");
  in.pooled_projections = c.tensor("in.pooled_projections");
  in.timestep = c.tensor("in.timestep");
  if (c.has("in.guidance")) in.guidance = c.tensor("in.guidance");
  in.img_ids = c.tensor("in.img_ids");
  in.txt_ids = c.tensor("in.txt_ids");
  out.outputs.push_back({"out.sample", model.forward(in, &trace), std::nullopt});
  return out;
}

}  // namespace diffuse::parity
