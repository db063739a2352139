// AutoencoderKL cases (FLUX.1 layout): `decode` maps in.z to out.sample; `encode` maps
// in.sample to the posterior mean / logvar and the model-space latent (the mean after the
// pipeline's shift and scale). Dumps are the encoder / decoder submodule outputs.
#include <filesystem>

#include "io/checkpoint.h"
#include "models/vae/autoencoder_kl.h"
#include "parity/cases/cases.h"

namespace diffuse::parity {

ProducedSet run_autoencoder_kl_case(const FixtureCase& c, const RunOptions& o) {
  namespace fs = std::filesystem;
  const std::string ctx = c.dir() + "/case.json";
  const std::string config_path = (fs::path(c.dir()) / "config.json").string();
  const auto cfg = models::AutoencoderKLConfig::from_json(io::load_json(config_path), config_path);

  io::WeightBinder binder(io::WeightSource::open_file((fs::path(c.dir()) / "diffusion_pytorch_model.safetensors").string()));
  models::ModelOptions mo;
  mo.precision = o.bf16 ? models::Precision::BF16 : models::Precision::F32;
  const models::AutoencoderKL vae(cfg, binder, mo);
  binder.check();

  ProducedSet out;
  const models::Trace trace([&](const std::string& path, const Tensor& value) {
    const std::string name = "dump." + path;
    if (c.has(name)) out.dumps.push_back({name, value, std::nullopt});
  });

  const std::string method = io::require_string(c.json().at("call"), "method", ctx + ": call");
  if (method == "decode") {
    out.outputs.push_back({"out.sample", vae.decode(c.tensor("in.z"), &trace), std::nullopt});
  } else if (method == "encode") {
    const auto posterior = vae.encode(c.tensor("in.sample"), &trace);
    out.outputs.push_back({"out.latent_mean", posterior.mean, std::nullopt});
    out.outputs.push_back({"out.latent_logvar", posterior.logvar, std::nullopt});
    if (c.has("out.latent_model_space")) {
      out.outputs.push_back({"out.latent_model_space", vae.to_model_latent(posterior.mean), std::nullopt});
    }
  } else {
    fail(ctx, ": call.method '", method, "' is not decode or encode");
  }
  return out;
}

}  // namespace diffuse::parity
