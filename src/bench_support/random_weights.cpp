#include "bench_support/random_weights.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <string>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "runtime/buffer_pool.h"

namespace diffuse::bench {

Tensor random_tensor(const Shape& shape, uint32_t seed, float scale) {
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data_mut<float>();
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = scale * (static_cast<float>((x >> 8) & 0xffff) / 32768.0f - 1.0f);
  }
  return t;
}

io::WeightBinder random_weight_binder(const std::vector<io::WeightBinder::Expected>& expected, uint32_t seed) {
  io::NamedTensors named;
  for (const auto& e : expected) {
    const bool matrix = e.shape.size() == 2;
    const bool norm = !matrix && e.name.find("norm") != std::string::npos;
    const float scale = matrix ? 1.7f / std::sqrt(static_cast<float>(e.shape[1])) : 0.05f;
    Tensor t = random_tensor(e.shape, seed++, scale);
    if (norm) {
      float* p = t.data_mut<float>();
      for (int64_t i = 0; i < t.numel(); ++i) p[i] += 1.0f;
    }
    named.emplace_back(e.name, t.to(DType::BF16));
  }
  // Unique per process and call: several binders may be built at once.
  static std::atomic<int> counter{0};
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("diffuse_random_weights_" + std::to_string(getpid()) + "_" +
                             std::to_string(counter++) + ".safetensors"))
                               .string();
  io::write_safetensors(path, named);
  named.clear();  // the float copies are no longer needed once written
  // Their buffers would wait idle in the activation arena while binding maps the file and packs the
  // weights outside it, adding to the peak: give them back now.
  release_cached_buffers();
  try {
    io::WeightBinder binder(io::WeightSource::open_file(path));
    std::filesystem::remove(path);  // the mapping stays valid until the model lets go of it
    return binder;
  } catch (...) {
    std::filesystem::remove(path);
    throw;
  }
}

}  // namespace diffuse::bench
