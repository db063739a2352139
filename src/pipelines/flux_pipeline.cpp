#include "pipelines/flux_pipeline.h"

#include <filesystem>

#include "io/model_folder.h"
#include "ops/shape.h"
#include "pipelines/component_loader.h"
#include "sampling/guidance.h"

namespace diffuse::pipelines {

FluxVariant flux_variant_from_pipeline_class(const std::string& class_name) {
  if (class_name == "FluxPipeline") return FluxVariant::Flux;
  if (class_name == "ChromaPipeline") return FluxVariant::Chroma;
  fail("not a FLUX.1 / Chroma pipeline: '", class_name, "'");
}

std::unique_ptr<FluxDenoiser> FluxDenoiser::load(const std::string& root, FluxVariant variant,
                                                 const models::ModelOptions& options,
                                                 models::ChromaMaskMode mask_mode) {
  std::unique_ptr<FluxDenoiser> d(new FluxDenoiser());
  d->variant_ = variant;
  const std::string sched_path = (std::filesystem::path(io::component_folder(root, "scheduler")) /
                                  "scheduler_config.json").string();
  d->scheduler_config_ = FlowMatchConfig::from_json(io::load_json(sched_path), sched_path);
  load_component(root, "transformer", [&](const io::Json& config, const std::string& ctx, io::WeightBinder& b) {
    if (variant == FluxVariant::Flux) {
      d->flux_ = std::make_unique<models::FluxTransformer2DModel>(
          models::FluxTransformerConfig::from_json(config, ctx), b, options);
    } else {
      d->chroma_ = std::make_unique<models::ChromaTransformer2DModel>(
          models::ChromaTransformerConfig::from_json(config, ctx), b, options, mask_mode);
    }
  });
  return d;
}

int64_t FluxDenoiser::latent_channels() const {
  const auto& bb = flux_ ? flux_->config().backbone : chroma_->config().backbone;
  return bb.in_channels / 4;
}

namespace {

Tensor filled(int64_t n, float value) {
  return Tensor::from_f32({n}, std::vector<float>(static_cast<size_t>(n), value));
}

// The batch concatenation of one field of several conditionings.
Tensor stack_rows(const std::vector<const PromptConditioning*>& rows, Tensor PromptConditioning::*field,
                  const char* what) {
  std::vector<Tensor> parts;
  for (const auto* r : rows) {
    DIFFUSE_CHECK((r->*field).defined(), "prompt conditioning lacks its ", what);
    parts.push_back(r->*field);
  }
  return parts.size() == 1 ? parts[0] : ops::concat(parts, 0);
}

}  // namespace

Tensor FluxDenoiser::velocity(const std::vector<const PromptConditioning*>& rows, const Tensor& latents,
                              float model_time, const Tensor& img_ids, const DenoiseSettings& settings,
                              const DenoiseObserver& observer, int& call) const {
  const int64_t batch = static_cast<int64_t>(rows.size());
  const Tensor hidden = batch == 1 ? latents : ops::concat(std::vector<Tensor>(batch, latents), 0);
  const Tensor embeds = stack_rows(rows, &PromptConditioning::embeds, "text embeddings");
  const int64_t text_len = embeds.dim(1);
  const Tensor txt_ids = Tensor::zeros({text_len, 3}, DType::F32);
  const Tensor timestep = filled(batch, model_time);
  Tensor guidance, mask, out;
  if (flux_) {
    models::FluxTransformerInputs in;
    in.hidden_states = hidden;
    in.encoder_hidden_states = embeds;
    in.pooled_projections = stack_rows(rows, &PromptConditioning::pooled, "pooled CLIP embedding");
    in.timestep = timestep;
    if (flux_->config().guidance_embeds) guidance = in.guidance = filled(batch, settings.guidance);
    in.img_ids = img_ids;
    in.txt_ids = txt_ids;
    out = flux_->forward(in);
  } else {
    // The pipeline appends ones for the image tokens to each row's text mask.
    const Tensor text_mask = stack_rows(rows, &PromptConditioning::mask, "text attention mask");
    mask = ops::concat({text_mask.to(DType::F32), Tensor::zeros({batch, img_ids.dim(0)}, DType::F32)}, 1);
    float* m = mask.data_mut<float>();
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t j = text_len; j < mask.dim(1); ++j) m[b * mask.dim(1) + j] = 1.0f;
    }
    models::ChromaTransformerInputs in;
    in.hidden_states = hidden;
    in.encoder_hidden_states = embeds;
    in.timestep = timestep;
    in.img_ids = img_ids;
    in.txt_ids = txt_ids;
    in.attention_mask = mask;
    out = chroma_->forward(in);
  }
  if (observer.on_transformer_call) {
    for (int64_t b = 0; b < batch; ++b) {
      std::map<std::string, Tensor> args = {{"hidden_states", hidden.slice(0, b, b + 1)},
                                            {"timestep", timestep.slice(0, b, b + 1)},
                                            {"img_ids", img_ids},
                                            {"txt_ids", txt_ids},
                                            {"out", out.slice(0, b, b + 1)}};
      if (guidance.defined()) args["guidance"] = guidance.slice(0, b, b + 1);
      if (mask.defined()) args["attention_mask"] = mask.slice(0, b, b + 1);
      observer.on_transformer_call(call++, args);
    }
  }
  return out;
}

Tensor FluxDenoiser::denoise(const PromptConditioning& cond, const PromptConditioning* uncond, Tensor latents,
                             const LatentGeometry& geometry, const DenoiseSettings& settings,
                             const DenoiseObserver& observer) const {
  DIFFUSE_CHECK(latents.ndim() == 3 && latents.dim(0) == 1 && latents.dim(1) == geometry.tokens() &&
                    latents.dim(2) == latent_channels() * 4,
                "initial latents ", shape_str(latents.shape()), " do not match ", geometry.tokens(),
                " tokens of ", latent_channels() * 4, " channels");
  const bool cfg = uncond != nullptr && settings.cfg_scale > 1.0f;
  if (cfg) {
    DIFFUSE_CHECK(uncond->embeds.shape() == cond.embeds.shape(), "negative prompt embeddings ",
                  shape_str(uncond->embeds.shape()), " differ from the prompt's ", shape_str(cond.embeds.shape()));
  }
  const Tensor img_ids = flux_image_ids(geometry);
  int call = 0;
  const auto guided_velocity = [&](const Tensor& x, const FlowStep& step) {
    const bool guided = cfg && step.index >= settings.cfg_skip;
    std::vector<const PromptConditioning*> rows = {&cond};
    if (guided) rows.push_back(uncond);
    const Tensor v = velocity(rows, x, step.model_time, img_ids, settings, observer, call);
    return guided ? cfg_combine(v.slice(0, 0, 1), v.slice(0, 1, 2), settings.cfg_scale) : v;
  };
  return run_flow_sampler(scheduler_config_, variant_ == FluxVariant::Flux ? "flux" : "chroma", settings.steps,
                          geometry.tokens(), std::move(latents), guided_velocity, observer);
}

std::unique_ptr<models::AutoencoderKL> load_flux_vae(const std::string& root, const models::ModelOptions& options) {
  std::unique_ptr<models::AutoencoderKL> vae;
  load_component(root, "vae", [&](const io::Json& config, const std::string& ctx, io::WeightBinder& b) {
    vae = std::make_unique<models::AutoencoderKL>(models::AutoencoderKLConfig::from_json(config, ctx), b, options);
  });
  return vae;
}

Tensor decode_packed_latents(const models::AutoencoderKL& vae, const Tensor& latents, const LatentGeometry& g,
                             const std::function<void(const Tensor& z, const Tensor& raw)>& decoded_trace) {
  const LatentDecoder decoder{[&](const Tensor& x) { return vae.from_model_latent(x); },
                              [&](const Tensor& z) { return vae.decode(z); }};
  return decode_packed_latents(decoder, latents, g, decoded_trace);
}

}  // namespace diffuse::pipelines
