// QwenImageTransformer2DModel cases: one forward call on the fixture's inputs; out.sample plus the
// per-module dumps. case.json "call.img_shapes" gives the packed grid (frames, h, w) of each batch
// row; the model takes one grid for the batch, as the reference's RoPE does.
#include <filesystem>

#include "io/checkpoint.h"
#include "models/dit/qwenimage_transformer.h"
#include "parity/cases/cases.h"

namespace diffuse::parity {

namespace {

models::QwenImageGrid grid_of(const FixtureCase& c) {
  const io::Json& j = c.json();
  const io::Json* shapes = nullptr;
  if (j.contains("call") && j["call"].is_object() && j["call"].contains("img_shapes")) shapes = &j["call"]["img_shapes"];
  DIFFUSE_CHECK(shapes && shapes->is_array() && !shapes->empty(), c.dir(),
                ": case.json call.img_shapes must be a non-empty list");
  const auto is_fhw = [](const io::Json& v) {
    if (!v.is_array() || v.size() != 3) return false;
    for (const io::Json& e : v)
      if (!e.is_number_integer() || e.get<int64_t>() <= 0) return false;
    return true;
  };
  const io::Json& first = (*shapes)[0];
  for (const io::Json& row : *shapes)
    DIFFUSE_CHECK(row.is_array() && row.size() == 1 && is_fhw(row[0]) && row == first, c.dir(),
                  ": every batch row of call.img_shapes must be the same single (frames, h, w)");
  return {first[0][0].get<int64_t>(), first[0][1].get<int64_t>(), first[0][2].get<int64_t>()};
}

}  // namespace

ProducedSet run_qwenimage_transformer_case(const FixtureCase& c, const RunOptions& o) {
  namespace fs = std::filesystem;
  const std::string config_path = (fs::path(c.dir()) / "config.json").string();
  const auto cfg = models::QwenImageTransformerConfig::from_json(io::load_json(config_path), config_path);

  io::WeightBinder binder(
      io::WeightSource::open_file((fs::path(c.dir()) / "diffusion_pytorch_model.safetensors").string()));
  models::ModelOptions mo;
  mo.precision = o.bf16 ? models::Precision::BF16 : models::Precision::F32;
  const models::QwenImageTransformer2DModel model(cfg, binder, mo);
  binder.check();

  ProducedSet out;
  const models::Trace trace([&](const std::string& path, const Tensor& value) {
    const std::string name = "dump." + path;
    if (c.has(name)) out.dumps.push_back({name, value, std::nullopt});
  });
  const Tensor mask = c.has("in.encoder_hidden_states_mask") ? c.tensor("in.encoder_hidden_states_mask") : Tensor{};
  out.outputs.push_back({"out.sample",
                         model.forward(c.tensor("in.hidden_states"), c.tensor("in.encoder_hidden_states"), mask,
                                       c.tensor("in.timestep"), grid_of(c), &trace),
                         std::nullopt});
  return out;
}

}  // namespace diffuse::parity
