#include "parity/fixture_case.h"

#include <filesystem>

namespace diffuse::parity {

FixtureCase FixtureCase::open(const std::string& dir) {
  namespace fs = std::filesystem;
  DIFFUSE_CHECK(fs::is_directory(dir), dir, ": not a fixture case folder");
  FixtureCase c;
  c.dir_ = dir;
  c.json_ = io::load_json((fs::path(dir) / "case.json").string());
  DIFFUSE_CHECK(c.json_.is_object(), dir, "/case.json: not a JSON object");
  // Most cases keep their tensors in io.safetensors; the RNG case uses randn.safetensors.
  std::string io_file = (fs::path(dir) / "io.safetensors").string();
  if (!fs::exists(io_file)) io_file = (fs::path(dir) / "randn.safetensors").string();
  c.io_ = io::SafetensorsFile::open(io_file);
  return c;
}

std::string FixtureCase::kind() const { return io::require_string(json_, "kind", dir_ + "/case.json"); }

std::string FixtureCase::class_name() const {
  return io::get_string(json_, "class", "", dir_ + "/case.json");
}

Tensor FixtureCase::tensor(const std::string& name) const {
  DIFFUSE_CHECK(io_->contains(name), io_->path(), ": fixture tensor '", name, "' is missing");
  return io_->tensor(name);
}

std::vector<std::string> FixtureCase::names_with_prefix(const std::string& prefix) const {
  std::vector<std::string> out;
  for (const auto& n : io_->names()) {
    if (n.rfind(prefix, 0) == 0) out.push_back(n);
  }
  return out;
}

Tolerance FixtureCase::suggested_tolerance(bool bf16) const {
  Tolerance t;
  if (bf16) {
    t.min_cos = 0.999;
    t.max_abs = 0;
    t.max_rel = 0.03;
  }
  auto it = json_.find("suggested_tolerance");
  if (it == json_.end() || !it->is_object()) return t;
  const std::string ctx = dir_ + "/case.json: suggested_tolerance";
  if (!bf16 && it->contains("float32_engine")) {
    const auto& f = (*it)["float32_engine"];
    t.max_abs = io::get_double(f, "max_abs", t.max_abs, ctx);
    t.min_cos = io::get_double(f, "cosine_min", t.min_cos, ctx);
    t.max_rel = io::get_double(f, "max_rel_to_absmax", t.max_rel, ctx);
  } else if (bf16 && it->contains("bf16_engine")) {
    const auto& b = (*it)["bf16_engine"];
    t.min_cos = io::get_double(b, "cosine_min", t.min_cos, ctx);
    t.max_rel = io::get_double(b, "max_abs_rel_to_absmax", t.max_rel, ctx);
  }
  return t;
}

}  // namespace diffuse::parity
