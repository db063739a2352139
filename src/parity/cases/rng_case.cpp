// The torch_randn case: torch.randn streams for given seeds, shapes and dtypes. Values
// must agree to the last bit or within one ulp (PyTorch's vectorized paths may round
// transcendental functions differently).
#include "parity/cases/cases.h"
#include "sampling/torch_rng.h"

namespace diffuse::parity {

ProducedSet run_rng_case(const FixtureCase& c, const RunOptions&) {
  const std::string ctx = c.dir() + "/case.json";
  ProducedSet out;
  for (const auto& item : c.json().at("cases")) {
    const std::string name = io::require_string(item, "name", ctx + ": cases");
    const uint64_t seed = static_cast<uint64_t>(io::require_int(item, "seed", ctx + ": " + name));
    const Shape shape = io::get_int_array(item, "shape", {}, ctx + ": " + name);
    const std::string dtype = io::require_string(item, "dtype", ctx + ": " + name);
    const DType dt = dtype.rfind("bfloat16", 0) == 0 ? DType::BF16 : DType::F32;
    TorchGenerator gen(seed);
    Tensor values = gen.randn(shape, dt).to(DType::F32);
    out.outputs.push_back({name, values, Tolerance{0.9999999, 1e-6, -1, /*max_ulp=*/1}});
  }
  return out;
}

}  // namespace diffuse::parity
