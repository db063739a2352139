// Shared by the `diffuse generate` CLI tests: running the binary with stdout and stderr
// together, and reading a PNG text chunk.
#pragma once

#include <string>

#include "io/png.h"
#include "test_safetensors_helpers.h"

namespace diffuse::testing {

struct CliOutput {
  int exit_code;
  std::string output;  // stderr then stdout
};

inline CliOutput run_cli_combined(const std::string& args) {
  const CliResult r = run_cli(args);
  return {r.exit_code, r.err + r.out};
}

inline std::string text_chunk(const io::PngContents& png, const std::string& key) {
  for (const auto& [k, v] : png.text)
    if (k == key) return v;
  return "";
}

}  // namespace diffuse::testing
