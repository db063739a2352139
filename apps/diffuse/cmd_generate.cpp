// diffuse generate: prompt -> PNG for the model families diffuse runs end to end. The model
// folder's pipeline class picks the family (generate_family.h).
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <random>

#include "args.h"
#include "command.h"
#include "generate_family.h"
#include "io/image.h"
#include "io/model_folder.h"
#include "io/png.h"
#include "pipelines/memory_plan.h"
#include "pipelines/model_catalog.h"
#include "runtime/log.h"
#include "runtime/parallel.h"
#include "runtime/profiler.h"
#include "runtime/progress.h"
#include "runtime/timer.h"

namespace diffuse::cli {
namespace {

const std::map<std::string, GenerateFamily>& families() {
  static const std::map<std::string, GenerateFamily> table = {
      {"FluxPipeline", generate_flux},
      {"ChromaPipeline", generate_flux},
      {"QwenImagePipeline", generate_qwen_image},
  };
  return table;
}

GenerateFamily family_for(const std::string& root, const std::string& pipeline_class) {
  const auto it = families().find(pipeline_class);
  if (it != families().end()) return it->second;
  std::string known;
  for (const auto& [name, fn] : families()) known += (known.empty() ? "" : ", ") + name;
  fail(root, "/model_index.json: pipeline '", pipeline_class, "' is not supported by generate (supported: ", known,
       ")");
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

// Plans the run's memory (pipelines/memory_plan.h), logs it, and refuses up front when it
// cannot fit.
void check_memory(const std::string& root, const io::ModelIndex& index, const GenerateRequest& request,
                  bool enforce) {
  // FLUX.1 runs one row per step unless a negative prompt turns CFG on; the others guide by default.
  const bool cfg = index.class_name != "FluxPipeline" || request.negative.has_value();
  const auto shape = pipelines::generation_shape(root, request.width, request.height,
                                                 request.max_sequence_length.value_or(512), cfg);
  const auto plan_for = [&](ops::QuantMode mode) {
    models::ModelOptions options = request.options;
    options.quantization = mode;
    return pipelines::plan_generation_memory(root, index, options, shape);
  };
  const pipelines::MemoryPlan plan = plan_for(request.options.quantization);
  const uint64_t available = pipelines::available_memory_bytes();
  log_info(str_cat("memory estimate: peak ", pipelines::gib(plan.peak()), ", available ", pipelines::gib(available)));
  if (enforce) pipelines::check_memory_fits(plan, available, plan_for);
}

std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

// The --profile table: components (text encoder, denoising loop, VAE decode) and, within each,
// the op categories (runtime/profiler.h). Loading and checks are outside every scope.
void print_profile(double total_s) {
  const ProfileTable table = profile_table(profile_records());
  std::fprintf(stderr, "profile: %.2f s in profiled scopes of %.2f s total (loading, checks and I/O are outside)\n%s",
               table.total_seconds, total_s, format_profile_table(table).c_str());
}

int run_generate(int argc, char** argv) {
  Args args;
  args.option("model", "diffusers model folder or Hugging Face cache folder (models--ORG--NAME)", "-m");
  args.option("prompt", "text prompt", "-p");
  args.option("negative-prompt", "negative prompt (enables CFG when --cfg > 1; Qwen-Image default \" \")", "-n");
  args.option("steps", "denoising steps (default: the model's: Chroma 35, FLUX.1-dev 28, schnell 4, Qwen-Image 50)");
  args.option("cfg",
              "CFG scale: Chroma guidance_scale (default 5), FLUX true_cfg_scale (default 1 = off), Qwen-Image "
              "true_cfg_scale (default 4)");
  args.option("guidance", "FLUX.1-dev embedded guidance (default 3.5)");
  args.option("cfg-skip", "run the first N steps without the unconditional pass", "", "0");
  args.option("seed", "random seed (PyTorch-identical noise; default: random)");
  args.option("width", "image width in pixels", "-W", "1024");
  args.option("height", "image height in pixels", "-H", "1024");
  args.option("output", "output PNG path", "-o", "diffuse.png");
  args.option("threads", "worker threads (default: all cores)");
  args.option("max-seq-len", "text tokens given to the transformer (default 512; Qwen-Image at most 1024)");
  args.option("dtype", "compute precision: bf16 (default) or f32", "", "bf16");
  args.option("quantize",
              "quantize Linear weights at load: int8, q4 or w8a8 (int8 weights x int8 activations; also runs "
              "int8-stored weights); other stored quantized weights load as stored");
  args.option("chroma-mask", "Chroma text mask: 'keys' (original model, default) or 'diffusers-additive'", "", "keys");
  args.flag("no-memory-check", "run even when the memory estimate exceeds the available memory");
  args.flag("quiet", "no progress output", "-q");
  args.flag("profile", "after the timings, print the time per component and op category (stderr, even with -q)");
  if (!args.parse(argc, argv, "diffuse generate -m MODEL -p PROMPT [options]")) return 0;
  if (args.has("quiet")) set_log_level(LogLevel::Quiet);
  if (args.has("threads")) set_num_threads(args.get_int("threads"));

  GenerateRequest request;
  request.prompt = args.get("prompt");
  const std::string dtype = args.get("dtype");
  DIFFUSE_CHECK(dtype == "bf16" || dtype == "f32", "--dtype must be bf16 or f32, got '", dtype, "'");
  request.options.precision = dtype == "f32" ? models::Precision::F32 : models::Precision::BF16;
  if (args.has("quantize")) {
    request.options.quantization = ops::quant_mode_from_name(args.get("quantize"), "--quantize");
    DIFFUSE_CHECK(request.options.quantization != ops::QuantMode::None, "--quantize must be int8, q4 or w8a8");
  }
  request.chroma_mask = args.get("chroma-mask");
  DIFFUSE_CHECK(request.chroma_mask == "keys" || request.chroma_mask == "diffusers-additive",
                "--chroma-mask must be 'keys' or 'diffusers-additive', got '", request.chroma_mask, "'");
  if (args.has("negative-prompt")) request.negative = args.get("negative-prompt");
  if (args.has("steps")) request.steps = args.get_int("steps");
  DIFFUSE_CHECK(!request.steps || *request.steps >= 1, "--steps must be at least 1");
  if (args.has("cfg")) request.cfg = static_cast<float>(args.get_double("cfg"));
  if (args.has("guidance")) request.guidance = static_cast<float>(args.get_double("guidance"));
  if (args.has("max-seq-len")) request.max_sequence_length = args.get_int("max-seq-len");
  request.cfg_skip = args.get_int("cfg-skip");
  request.seed = args.has("seed") ? std::stoull(args.get("seed")) : std::random_device{}();
  request.width = args.get_int("width");
  request.height = args.get_int("height");

  Timer total;
  const std::string root = io::resolve_model_path(args.get("model"));
  const io::ModelIndex index = io::read_model_index(root);
  const GenerateFamily family = family_for(root, index.class_name);

  Timer phase;
  preflight(root, index);
  check_memory(root, index, request, !args.has("no-memory-check"));
  const double preflight_s = phase.seconds();
  if (args.has("profile")) {
    reset_profile();
    set_profiling(true);
  }
  const GenerateResult r = family(root, index, request);
  set_profiling(false);

  const io::Image8 rgb = io::image_to_rgb8(r.image.select(0, 0));
  io::TextChunks meta = {
      {"Software", "diffuse"},
      {"prompt", request.prompt},
      {"model", std::filesystem::path(root).filename().string()},
      {"pipeline", index.class_name},
      {"steps", std::to_string(r.steps)},
      {"seed", std::to_string(request.seed)},
      {"size", str_cat(r.geometry.width, "x", r.geometry.height)},
      {"dtype", dtype},
  };
  meta.insert(meta.end(), r.metadata.begin(), r.metadata.end());
  const std::string output = args.get("output");
  io::write_png(output, rgb, meta);

  log_info(str_cat("timings: check ", fmt_seconds(preflight_s), ", text ", fmt_seconds(r.text_s), ", load ",
                   fmt_seconds(r.load_s), ", denoise ", fmt_seconds(r.denoise_s), " (",
                   fmt_seconds(r.denoise_s / r.steps), "/step), decode ", fmt_seconds(r.decode_s), ", total ",
                   fmt_seconds(total.seconds())));
  log_info(str_cat("peak memory: ", peak_resident_bytes() / (1024 * 1024), " MiB"));
  if (args.has("profile")) print_profile(total.seconds());
  std::printf("%s\n", output.c_str());
  return 0;
}

const Command reg("generate", "generate an image from a text prompt", run_generate);

}  // namespace
}  // namespace diffuse::cli
