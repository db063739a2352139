// QwenImagePipeline cases: the tiny transformer + VAE + scheduler folder of the case runs the
// full sampler with true CFG from the case's text embeddings and initial latents. Compared:
// latents and timestep after every step, the final image, every transformer call's inputs and
// output (our batched cond + uncond call is reported as the reference's two calls), and the VAE
// decode input and raw output.
#include "parity/cases/cases.h"
#include "parity/cases/pipeline_case_recording.h"
#include "pipelines/qwen_image_pipeline.h"

namespace diffuse::parity {

namespace {

pipelines::QwenPromptEmbeds prompt(const FixtureCase& c, const std::string& prefix) {
  pipelines::QwenPromptEmbeds p;
  p.embeds = c.tensor("in." + prefix + "prompt_embeds");
  if (c.has("in." + prefix + "prompt_embeds_mask")) p.mask = c.tensor("in." + prefix + "prompt_embeds_mask");
  return p;
}

// The reference dumps the VAE tensors with their single frame axis: [B, C, 1, H, W].
Tensor with_frame_axis(const Tensor& t) {
  return t.ndim() == 4 ? t.contiguous().reshape({t.dim(0), t.dim(1), 1, t.dim(2), t.dim(3)}) : t;
}

}  // namespace

ProducedSet run_qwen_image_pipeline_case(const FixtureCase& c, const RunOptions& o) {
  const std::string ctx = c.dir() + "/case.json";
  models::ModelOptions mo;
  mo.precision = o.bf16 ? models::Precision::BF16 : models::Precision::F32;
  mo.quantization = o.quantization;
  const auto denoiser = pipelines::QwenImageDenoiser::load(c.dir(), mo);
  const auto vae = pipelines::load_qwen_image_vae(c.dir(), mo, /*decoder_only=*/true);

  const io::Json& call = c.json().at("call");
  pipelines::QwenDenoiseSettings s;
  s.steps = static_cast<int>(io::require_int(call, "num_inference_steps", ctx));
  s.true_cfg_scale = static_cast<float>(io::get_double(call, "true_cfg_scale", 4.0, ctx));
  const auto geometry = pipelines::LatentGeometry::from_image_size(
      io::require_int(call, "height", ctx), io::require_int(call, "width", ctx), vae->config().downscale_factor());

  const auto cond = prompt(c, "");
  std::optional<pipelines::QwenPromptEmbeds> uncond;
  if (c.has("in.negative_prompt_embeds")) uncond = prompt(c, "negative_");

  const Tolerance tol = pipeline_tolerance(o);
  ProducedSet out;
  const pipelines::DenoiseObserver obs = record_denoising(c, out, tol);
  const Tensor latents = denoiser->denoise(cond, uncond ? &*uncond : nullptr, c.tensor("in.latents"), geometry, s, obs);
  const Tensor image =
      pipelines::decode_qwen_image_latents(*vae, latents, geometry, [&](const Tensor& z, const Tensor& raw) {
        out.dumps.push_back({"dump.vae_decode.call0.z", with_frame_axis(z), tol});
        out.dumps.push_back({"dump.vae_decode.call0.out", with_frame_axis(raw), tol});
      });
  out.outputs.push_back({"out.image", image, tol});
  return out;
}

}  // namespace diffuse::parity
