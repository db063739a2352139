// AutoencoderKLQwenImage cases: `decode` maps in.z (already de-normalised) to out.sample;
// `encode` maps in.sample to the posterior mean / logvar and the model-space latent
// ((mean - latents_mean) / latents_std). Fixture tensors are single-frame 5-D [B, C, 1, H, W];
// the engine works on [B, C, H, W], so its results are given the golden tensor's frame axis.
#include <filesystem>

#include "io/checkpoint.h"
#include "models/vae/autoencoder_kl_qwenimage.h"
#include "parity/cases/cases.h"

namespace diffuse::parity {

ProducedSet run_autoencoder_kl_qwenimage_case(const FixtureCase& c, const RunOptions& o) {
  namespace fs = std::filesystem;
  const std::string ctx = c.dir() + "/case.json";
  const std::string config_path = (fs::path(c.dir()) / "config.json").string();
  const auto cfg = models::AutoencoderKLQwenImageConfig::from_json(io::load_json(config_path), config_path);

  const std::string method = io::require_string(c.json().at("call"), "method", ctx + ": call");
  DIFFUSE_CHECK(method == "decode" || method == "encode", ctx, ": call.method '", method,
                "' is not decode or encode");
  io::WeightBinder binder(
      io::WeightSource::open_file((fs::path(c.dir()) / "diffusion_pytorch_model.safetensors").string()));
  models::ModelOptions mo;
  mo.precision = o.bf16 ? models::Precision::BF16 : models::Precision::F32;
  // A decode case loads the decoder alone, as text-to-image generation does.
  const models::AutoencoderKLQwenImage vae(cfg, binder, mo, /*decoder_only=*/method == "decode");
  binder.check();

  // [B, C, H, W] -> [B, C, 1, H, W] where the golden tensor has the frame axis.
  const auto like_golden = [&](const std::string& name, const Tensor& t) {
    if (t.ndim() == 4 && c.has(name) && c.tensor(name).ndim() == 5) return t.unsqueeze(2);
    return t;
  };
  ProducedSet out;
  const models::Trace trace([&](const std::string& path, const Tensor& value) {
    const std::string name = "dump." + path;
    if (c.has(name)) out.dumps.push_back({name, like_golden(name, value), std::nullopt});
  });
  const auto output = [&](const std::string& name, const Tensor& t) {
    out.outputs.push_back({name, like_golden(name, t), std::nullopt});
  };

  if (method == "decode") {
    output("out.sample", vae.decode(c.tensor("in.z"), &trace));
  } else {
    const auto posterior = vae.encode(c.tensor("in.sample"), &trace);
    output("out.latent_mean", posterior.mean);
    output("out.latent_logvar", posterior.logvar);
    if (c.has("out.latent_model_space")) output("out.latent_model_space", vae.to_model_latent(posterior.mean));
  }
  return out;
}

}  // namespace diffuse::parity
