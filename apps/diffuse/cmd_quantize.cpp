// `diffuse quantize IN OUT --mode int8|q4`: writes a copy of a diffusers model folder (or one
// component folder) whose Linear weights are quantized, so later runs load the small weights
// directly (`diffuse generate -m OUT`). See pipelines/model_quantizer.h for what is rewritten.
#include <cstdio>
#include <sstream>

#include "args.h"
#include "command.h"
#include "io/inspect_report.h"
#include "pipelines/model_quantizer.h"
#include "runtime/log.h"
#include "runtime/parallel.h"
#include "runtime/timer.h"

namespace diffuse::cli {
namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream ss(text);
  for (std::string p; std::getline(ss, p, ',');)
    if (!p.empty()) parts.push_back(p);
  return parts;
}

int run_quantize(int argc, char** argv) {
  Args args;
  args.positional("in", "diffusers model folder (model_index.json) or one component folder");
  args.positional("out", "output folder (must not exist, or be empty)");
  args.option("mode", "int8 (per output channel) or q4 (4-bit, group 64, MLX layout)");
  args.option("components", "comma-separated components to quantize (default: every one diffuse has an architecture for)");
  args.option("threads", "worker threads (default: all cores)");
  args.flag("quiet", "no progress output", "-q");
  if (!args.parse(argc, argv, "diffuse quantize IN OUT --mode int8|q4 [--components transformer,text_encoder]"))
    return 0;
  if (args.has("quiet")) set_log_level(LogLevel::Quiet);
  if (args.has("threads")) set_num_threads(args.get_int("threads"));
  DIFFUSE_CHECK(args.has("mode"), "quantize: --mode int8|q4 is required");
  pipelines::QuantizeModelOptions options;
  options.mode = ops::quant_mode_from_name(args.get("mode"), "--mode");
  DIFFUSE_CHECK(options.mode != ops::QuantMode::None, "--mode must be int8 or q4");
  DIFFUSE_CHECK(options.mode != ops::QuantMode::W8A8,
                "--mode w8a8 is a way to run int8 weights, not a storage format: store --mode int8 and run it with "
                "generate --quantize w8a8");
  if (args.has("components")) options.components = split_commas(args.get("components"));
  options.progress = !args.has("quiet");
  Timer timer;
  const auto& pos = args.positionals();
  const auto s = pipelines::quantize_model_folder(pos.at(0), pos.at(1), options);
  log_info(str_cat("quantized ", s.quantized, " Linear weights to ", ops::quant_mode_name(options.mode), ", ", s.kept_float,
                   " kept in float, ", s.copied, " other tensors copied; ", io::human_bytes(s.bytes_in), " -> ",
                   io::human_bytes(s.bytes_out), " in ", static_cast<int>(timer.seconds()), " s"));
  std::printf("%s\n", pos.at(1).c_str());
  return 0;
}

const Command reg("quantize", "write a copy of a model with quantized Linear weights", run_quantize);

}  // namespace
}  // namespace diffuse::cli
