// `diffuse inspect <path>`: what a checkpoint holds (components, tensor counts, dtypes,
// bytes; every tensor with --tensors). Validates every file it touches, so it doubles as
// a checker for downloaded checkpoints.
#include <cstdio>

#include "args.h"
#include "command.h"
#include "io/inspect_report.h"

namespace diffuse::cli {
namespace {

int run_inspect(int argc, char** argv) {
  Args args;
  args.positional("path",
                  ".safetensors file, *.safetensors.index.json, component folder, diffusers model "
                  "folder or Hugging Face cache folder (models--ORG--NAME)");
  args.flag("tensors", "list every tensor: name dtype shape bytes");
  if (!args.parse(argc, argv, "diffuse inspect <path> [--tensors]")) return 0;
  io::InspectOptions options;
  options.list_tensors = args.has("tensors");
  const std::string report = io::inspect_path(args.positionals()[0], options);
  std::fputs(report.c_str(), stdout);
  return 0;
}

const Command inspect_command("inspect", "show the tensors, dtypes and sizes of a checkpoint or model",
                              run_inspect);

}  // namespace
}  // namespace diffuse::cli
