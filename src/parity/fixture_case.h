// A golden fixture case folder (format: tests/golden/README.md): case.json describing the
// call, io.safetensors with in.* inputs, out.* outputs and dump.* intermediates, and for
// model cases the model's config.json and weights.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/json_config.h"
#include "io/safetensors.h"
#include "parity/compare.h"

namespace diffuse::parity {

class FixtureCase {
 public:
  // Reads <dir>/case.json and maps <dir>/<io_file> (default io.safetensors; the RNG case
  // names its own file).
  static FixtureCase open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const io::Json& json() const { return json_; }
  std::string kind() const;         // case.json "kind"
  std::string class_name() const;  // case.json "class" (empty if absent)

  bool has(const std::string& name) const { return io_->contains(name); }
  Tensor tensor(const std::string& name) const;  // throws naming the case and tensor
  std::vector<std::string> names_with_prefix(const std::string& prefix) const;

  // Tolerance suggested by case.json for the given engine precision (float32 or bf16),
  // falling back to the DESIGN defaults.
  Tolerance suggested_tolerance(bool bf16) const;

 private:
  std::string dir_;
  io::Json json_;
  std::shared_ptr<io::SafetensorsFile> io_;
};

}  // namespace diffuse::parity
