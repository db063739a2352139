// diffuse: native diffusion engine. `diffuse <command> [options]`; `diffuse --help`.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>

#include "command.h"
#include "runtime/error.h"

namespace diffuse::cli {

std::vector<CommandInfo>& commands() {
  static std::vector<CommandInfo> registry;
  return registry;
}

}  // namespace diffuse::cli

namespace {

void print_usage() {
  auto cmds = diffuse::cli::commands();
  std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::printf("usage: diffuse <command> [options]\n\ncommands:\n");
  for (const auto& c : cmds) std::printf("  %-10s %s\n", c.name.c_str(), c.summary.c_str());
  std::printf("\n`diffuse <command> --help` describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : diffuse::cli::commands()) {
    if (c.name != argv[1]) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const diffuse::Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "error: unknown command '%s' (see `diffuse --help`)\n", argv[1]);
  return 2;
}
