// diffuse generate: prompt -> PNG for the model families diffuse runs end to end.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>

#include "args.h"
#include "command.h"
#include "io/image.h"
#include "io/model_folder.h"
#include "io/png.h"
#include "pipelines/flux_text.h"
#include "pipelines/model_catalog.h"
#include "runtime/log.h"
#include "runtime/parallel.h"
#include "runtime/progress.h"
#include "runtime/timer.h"

namespace diffuse::cli {
namespace {

struct Defaults {
  int steps;
  float cfg;       // guidance_scale (Chroma) / true_cfg_scale (FLUX)
  float guidance;  // FLUX.1-dev embedded guidance
  std::optional<std::string> negative;
};

// The reference pipelines' defaults (shared/models: chroma.md §5, flux1.md §5).
Defaults model_defaults(pipelines::FluxVariant variant, bool guidance_embeds) {
  if (variant == pipelines::FluxVariant::Chroma) return {35, 5.0f, 0.0f, std::string()};
  if (guidance_embeds) return {28, 1.0f, 3.5f, std::nullopt};  // FLUX.1-dev
  return {4, 1.0f, 0.0f, std::nullopt};                          // FLUX.1-schnell
}

// Every weight-bearing component is checked against its architecture before any compute.
void preflight(const std::string& root, const io::ModelIndex& index) {
  for (const auto& c : index.components) {
    if (!pipelines::architecture_builder(c.class_name)) continue;
    io::WeightBinder binder = pipelines::check_component(root, c.name, c.class_name);
    DIFFUSE_CHECK(binder.ok(), root, "/", c.name, " (", c.class_name,
                  "): weights do not match the architecture in config.json\n", binder.report());
  }
}

std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

int run_generate(int argc, char** argv) {
  Args args;
  args.option("model", "diffusers model folder or Hugging Face cache folder (models--ORG--NAME)", "-m");
  args.option("prompt", "text prompt", "-p");
  args.option("negative-prompt", "negative prompt (enables CFG when --cfg > 1)", "-n");
  args.option("steps", "denoising steps (default: the model's)");
  args.option("cfg", "CFG scale: Chroma guidance_scale (default 5), FLUX true_cfg_scale (default 1 = off)");
  args.option("guidance", "FLUX.1-dev embedded guidance (default 3.5)");
  args.option("cfg-skip", "run the first N steps without the unconditional pass", "", "0");
  args.option("seed", "random seed (PyTorch-identical noise; default: random)");
  args.option("width", "image width in pixels", "-W", "1024");
  args.option("height", "image height in pixels", "-H", "1024");
  args.option("output", "output PNG path", "-o", "diffuse.png");
  args.option("threads", "worker threads (default: all cores)");
  args.option("max-seq-len", "T5 sequence length (default 512)", "", "512");
  args.option("dtype", "compute precision: bf16 (default) or f32", "", "bf16");
  args.option("chroma-mask", "Chroma text mask: 'keys' (original model, default) or 'diffusers-additive'", "", "keys");
  args.flag("quiet", "no progress output", "-q");
  if (!args.parse(argc, argv, "diffuse generate -m MODEL -p PROMPT [options]")) return 0;
  if (args.has("quiet")) set_log_level(LogLevel::Quiet);
  if (args.has("threads")) set_num_threads(args.get_int("threads"));
  const std::string prompt = args.get("prompt");
  const std::string dtype = args.get("dtype");
  DIFFUSE_CHECK(dtype == "bf16" || dtype == "f32", "--dtype must be bf16 or f32, got '", dtype, "'");
  const std::string mask_arg = args.get("chroma-mask");
  DIFFUSE_CHECK(mask_arg == "keys" || mask_arg == "diffusers-additive",
                "--chroma-mask must be 'keys' or 'diffusers-additive', got '", mask_arg, "'");
  models::ModelOptions options;
  options.precision = dtype == "f32" ? models::Precision::F32 : models::Precision::BF16;

  Timer total;
  const std::string root = io::resolve_model_path(args.get("model"));
  const io::ModelIndex index = io::read_model_index(root);
  const auto variant = pipelines::flux_variant_from_pipeline_class(index.class_name);
  const io::Json transformer_config = io::load_component_config(root, "transformer");
  const Defaults defaults = model_defaults(
      variant, io::get_bool(transformer_config, "guidance_embeds", false, root + "/transformer/config.json"));
  pipelines::DenoiseSettings settings;
  settings.steps = args.has("steps") ? args.get_int("steps") : defaults.steps;
  settings.cfg_scale = args.has("cfg") ? static_cast<float>(args.get_double("cfg")) : defaults.cfg;
  settings.guidance = args.has("guidance") ? static_cast<float>(args.get_double("guidance")) : defaults.guidance;
  settings.cfg_skip = args.get_int("cfg-skip");
  DIFFUSE_CHECK(settings.steps >= 1, "--steps must be at least 1");
  std::optional<std::string> negative = args.has("negative-prompt") ? std::optional(args.get("negative-prompt"))
                                                                      : defaults.negative;
  if (settings.cfg_scale <= 1.0f) negative.reset();  // no CFG: the negative prompt is unused
  const uint64_t seed = args.has("seed") ? std::stoull(args.get("seed")) : std::random_device{}();

  Timer phase;
  preflight(root, index);
  const double preflight_s = phase.seconds();

  // Text encoders are loaded, run and released before the transformer is loaded.
  phase.reset();
  auto prompts = pipelines::encode_flux_prompts(root, variant, prompt, negative, args.get_int("max-seq-len"), options);
  const double text_s = phase.seconds();

  phase.reset();
  auto vae = pipelines::load_flux_vae(root, options);
  const auto geometry = pipelines::LatentGeometry::from_image_size(args.get_int("height"), args.get_int("width"),
                                                                   vae->config().downscale_factor());
  auto denoiser = pipelines::FluxDenoiser::load(
      root, variant, options,
      mask_arg == "keys" ? models::ChromaMaskMode::KeyMask : models::ChromaMaskMode::DiffusersAdditive);
  const double load_s = phase.seconds();
  log_info(str_cat("generating ", geometry.width, "x", geometry.height, ", ", settings.steps, " steps, seed ", seed,
                   negative ? str_cat(", CFG ", settings.cfg_scale) : std::string()));

  phase.reset();
  const Tensor noise = pipelines::initial_noise(seed, denoiser->latent_channels(), geometry,
                                                options.precision == models::Precision::BF16 ? DType::BF16 : DType::F32);
  ProgressBar bar("step", settings.steps);
  pipelines::DenoiseObserver observer;
  observer.on_step = [&](int i, float, const Tensor&) { bar.update(i + 1); };
  const Tensor latents = denoiser->denoise(prompts.cond, prompts.uncond ? &*prompts.uncond : nullptr, noise, geometry,
                                           settings, observer);
  bar.finish();
  denoiser.reset();
  const double denoise_s = phase.seconds();

  phase.reset();
  const Tensor image = pipelines::decode_packed_latents(*vae, latents, geometry);
  const double decode_s = phase.seconds();

  const io::Image8 rgb = io::image_to_rgb8(image.select(0, 0));
  io::TextChunks meta = {
      {"Software", "diffuse"},
      {"prompt", prompt},
      {"model", std::filesystem::path(root).filename().string()},
      {"pipeline", index.class_name},
      {"steps", std::to_string(settings.steps)},
      {"seed", std::to_string(seed)},
      {"size", str_cat(geometry.width, "x", geometry.height)},
      {"cfg", str_cat(settings.cfg_scale)},
      {"dtype", dtype},
  };
  if (negative) meta.push_back({"negative_prompt", *negative});
  if (variant == pipelines::FluxVariant::Flux) meta.push_back({"guidance", str_cat(settings.guidance)});
  if (settings.cfg_skip) meta.push_back({"cfg_skip", std::to_string(settings.cfg_skip)});
  const std::string output = args.get("output");
  io::write_png(output, rgb, meta);

  log_info(str_cat("timings: check ", fmt_seconds(preflight_s), ", text ", fmt_seconds(text_s), ", load ",
                   fmt_seconds(load_s), ", denoise ", fmt_seconds(denoise_s), " (",
                   fmt_seconds(denoise_s / settings.steps), "/step), decode ", fmt_seconds(decode_s), ", total ",
                   fmt_seconds(total.seconds())));
  log_info(str_cat("peak memory: ", peak_resident_bytes() / (1024 * 1024), " MiB"));
  std::printf("%s\n", output.c_str());
  return 0;
}

const Command reg("generate", "generate an image from a text prompt", run_generate);

}  // namespace
}  // namespace diffuse::cli
