// `diffuse inspect <path>`: what a checkpoint holds (components, tensor counts, dtypes,
// bytes; every tensor with --tensors), and, for components whose architecture diffuse knows,
// whether the weights match it ("N/N tensors matched", every mismatch named). Validates
// every file it touches, so it doubles as a checker for downloaded checkpoints.
// `diffuse inspect --expected PATH` lists the tensors an architecture expects from its
// config.json alone.
#include <cstdio>
#include <filesystem>

#include "args.h"
#include "command.h"
#include "io/inspect_report.h"
#include "io/model_folder.h"
#include "pipelines/model_catalog.h"

namespace diffuse::cli {
namespace {

namespace fs = std::filesystem;

// "transformer (FluxTransformer2DModel): 1160/1160 tensors matched" plus the mismatches.
std::string match_report(const std::string& root, const std::string& component, const std::string& class_name) {
  const io::WeightBinder binder = pipelines::check_component(root, component, class_name);
  std::string report = binder.report();
  // Indent the binder's lines under the component name.
  std::string out = "  " + component + " (" + class_name + "): ";
  for (char c : report) {
    out += c;
    if (c == '\n') out += "    ";
  }
  while (!out.empty() && (out.back() == ' ')) out.pop_back();
  if (out.back() != '\n') out += '\n';
  return out;
}

// Weight matching for a model folder (every component) or a single component folder.
std::string matching_section(const std::string& path) {
  if (!fs::is_directory(path)) return "";
  const std::string root = io::is_hf_cache_path(path) ? io::resolve_model_path(path) : path;
  std::string out;
  if (fs::is_regular_file(fs::path(root) / "model_index.json")) {
    for (const auto& c : io::read_model_index(root).components) {
      if (pipelines::architecture_builder(c.class_name)) out += match_report(root, c.name, c.class_name);
    }
  } else if (fs::is_regular_file(fs::path(root) / "config.json")) {
    const std::string cls = pipelines::config_class_name(io::load_json((fs::path(root) / "config.json").string()));
    const fs::path folder = fs::path(root).lexically_normal();
    const fs::path parent = (folder.has_filename() ? folder : folder.parent_path()).parent_path();
    const std::string name = (folder.has_filename() ? folder : folder.parent_path()).filename().string();
    if (pipelines::architecture_builder(cls)) out += match_report(parent.string(), name, cls);
  }
  return out.empty() ? "" : "weights vs architecture:\n" + out;
}

// `--expected`: one "name shape" line per tensor, sorted by name.
std::string expected_list(const std::string& path) {
  const fs::path config_path = fs::is_directory(path) ? fs::path(path) / "config.json" : fs::path(path);
  const io::Json config = io::load_json(config_path.string());
  const std::string cls = pipelines::config_class_name(config);
  DIFFUSE_CHECK(!cls.empty(), config_path.string(), ": no \"_class_name\" or \"architectures\" field");
  std::string out;
  for (const auto& e : pipelines::expected_tensors(cls, config, config_path.string())) {
    out += e.name + " " + shape_str(e.shape) + "\n";
  }
  return out;
}

int run_inspect(int argc, char** argv) {
  Args args;
  args.positional("path",
                  ".safetensors file, *.safetensors.index.json, component folder, diffusers model "
                  "folder or Hugging Face cache folder (models--ORG--NAME)", /*required=*/false);
  args.flag("tensors", "list every tensor: name dtype shape bytes");
  args.option("expected", "list the tensors the architecture in this component folder / config.json expects "
                          "(no weights needed): one 'name shape' line each, sorted by name");
  if (!args.parse(argc, argv, "diffuse inspect <path> [--tensors] | diffuse inspect --expected CONFIG")) return 0;
  if (args.has("expected")) {
    std::fputs(expected_list(args.get("expected")).c_str(), stdout);
    return 0;
  }
  DIFFUSE_CHECK(!args.positionals().empty(), "missing argument <path> (see --help)");
  io::InspectOptions options;
  options.list_tensors = args.has("tensors");
  const std::string path = args.positionals()[0];
  std::fputs(io::inspect_path(path, options).c_str(), stdout);
  const std::string matching = matching_section(path);
  std::fputs(matching.c_str(), stdout);
  return 0;
}

const Command inspect_command("inspect", "show a checkpoint's tensors and check them against their architecture",
                              run_inspect);

}  // namespace
}  // namespace diffuse::cli
