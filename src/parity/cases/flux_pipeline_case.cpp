// FluxPipeline / ChromaPipeline cases: the tiny transformer + VAE + scheduler folder of the
// case runs the full sampler from the case's text embeddings and initial latents. Compared:
// latents and timestep after every step, the final image, every transformer call's inputs and
// output (our batched CFG call is reported as the reference's separate cond / uncond calls),
// and the VAE decode input and raw output.
#include "parity/cases/cases.h"
#include "parity/cases/pipeline_case_recording.h"
#include "pipelines/flux_pipeline.h"

namespace diffuse::parity {

namespace {

pipelines::PromptConditioning conditioning(const FixtureCase& c, const std::string& prefix) {
  pipelines::PromptConditioning p;
  p.embeds = c.tensor("in." + prefix + "prompt_embeds");
  if (c.has("in.pooled_" + prefix + "prompt_embeds")) p.pooled = c.tensor("in.pooled_" + prefix + "prompt_embeds");
  if (c.has("in." + prefix + "prompt_attention_mask")) p.mask = c.tensor("in." + prefix + "prompt_attention_mask");
  return p;
}

}  // namespace

ProducedSet run_flux_pipeline_case(const FixtureCase& c, const RunOptions& o) {
  const std::string ctx = c.dir() + "/case.json";
  const auto variant = pipelines::flux_variant_from_pipeline_class(c.class_name());
  models::ModelOptions mo;
  mo.precision = o.bf16 ? models::Precision::BF16 : models::Precision::F32;
  mo.quantization = o.quantization;
  const auto mask_mode = o.has_flag("chroma-diffusers-additive-mask") ? models::ChromaMaskMode::DiffusersAdditive
                                                                      : models::ChromaMaskMode::KeyMask;
  const auto denoiser = pipelines::FluxDenoiser::load(c.dir(), variant, mo, mask_mode);
  const auto vae = pipelines::load_flux_vae(c.dir(), mo);

  const io::Json& call = c.json().at("call");
  pipelines::DenoiseSettings s;
  s.steps = static_cast<int>(io::require_int(call, "num_inference_steps", ctx));
  if (variant == pipelines::FluxVariant::Flux) {
    s.guidance = static_cast<float>(io::get_double(call, "guidance_scale", 3.5, ctx));
    s.cfg_scale = static_cast<float>(io::get_double(call, "true_cfg_scale", 1.0, ctx));
  } else {
    s.cfg_scale = static_cast<float>(io::get_double(call, "guidance_scale", 5.0, ctx));
  }
  const auto geometry = pipelines::LatentGeometry::from_image_size(
      io::require_int(call, "height", ctx), io::require_int(call, "width", ctx), vae->config().downscale_factor());

  const auto cond = conditioning(c, "");
  std::optional<pipelines::PromptConditioning> uncond;
  if (c.has("in.negative_prompt_embeds")) uncond = conditioning(c, "negative_");

  const Tolerance tol = pipeline_tolerance(o);
  ProducedSet out;
  const pipelines::DenoiseObserver obs = record_denoising(c, out, tol);
  const Tensor latents = denoiser->denoise(cond, uncond ? &*uncond : nullptr, c.tensor("in.latents"), geometry, s, obs);
  const Tensor image = pipelines::decode_packed_latents(*vae, latents, geometry, [&](const Tensor& z, const Tensor& raw) {
    out.dumps.push_back({"dump.vae_decode.call0.z", z.clone(), tol});
    out.dumps.push_back({"dump.vae_decode.call0.out", raw.clone(), tol});
  });
  out.outputs.push_back({"out.image", image, tol});
  return out;
}

}  // namespace diffuse::parity
