// diffuse memory: how much memory a generation with a model folder needs in each weight mode,
// from the configs alone (weights optional), against what this machine has available.
#include <cstdio>

#include "args.h"
#include "command.h"
#include "io/model_folder.h"
#include "pipelines/memory_plan.h"

namespace diffuse::cli {
namespace {

int run_memory(int argc, char** argv) {
  Args args;
  args.option("model", "diffusers model folder (config files are enough)", "-m");
  args.option("width", "image width in pixels", "-W", "1024");
  args.option("height", "image height in pixels", "-H", "1024");
  args.option("max-seq-len", "text tokens", "", "512");
  args.option("dtype", "compute precision: bf16 (default) or f32", "", "bf16");
  args.flag("no-cfg", "plan one transformer row per step instead of two (cond + uncond)");
  if (!args.parse(argc, argv, "diffuse memory -m MODEL [options]")) return 0;
  const std::string dtype = args.get("dtype");
  DIFFUSE_CHECK(dtype == "bf16" || dtype == "f32", "--dtype must be bf16 or f32, got '", dtype, "'");

  const std::string root = io::resolve_model_path(args.get("model"));
  const io::ModelIndex index = io::read_model_index(root);
  const auto shape = pipelines::generation_shape(root, args.get_int("width"), args.get_int("height"),
                                                 args.get_int("max-seq-len"), !args.has("no-cfg"));
  const uint64_t available = pipelines::available_memory_bytes();
  std::printf("%s at %lldx%lld, %lld text tokens, %lld transformer row(s) per step; available now: %s\n",
              index.class_name.c_str(), static_cast<long long>(shape.geometry.width),
              static_cast<long long>(shape.geometry.height), static_cast<long long>(shape.text_tokens),
              static_cast<long long>(shape.batch), pipelines::gib(available).c_str());
  for (const auto mode : {ops::QuantMode::None, ops::QuantMode::Int8, ops::QuantMode::Q4}) {
    models::ModelOptions options;
    options.precision = dtype == "f32" ? models::Precision::F32 : models::Precision::BF16;
    options.quantization = mode;
    const auto plan = pipelines::plan_generation_memory(root, index, options, shape);
    std::printf("%s weights: peak %s%s\n%s\n", mode == ops::QuantMode::None ? dtype.c_str() : ops::quant_mode_name(mode),
                pipelines::gib(plan.peak()).c_str(),
                available == 0 ? "" : plan.peak() <= available ? " (fits)" : " (does not fit)",
                plan.describe().c_str());
  }
  return 0;
}

const Command reg("memory", "estimate the memory a generation needs, per weight mode", run_memory);

}  // namespace
}  // namespace diffuse::cli
