// Qwen-Image VAE decode (AutoencoderKLQwenImage, real config: base 96, dim_mult [1, 2, 4, 4],
// 2 residual blocks, z_dim 16) on random bf16 weights, decoder-only as text-to-image loads it:
// a 1 x 16 x 64 x 64 latent -> 512 x 512 image (--quick: 32 x 32 -> 256 x 256), in f32 and bf16
// precision. Reports wall time and CPU time per thread (steadier on a shared machine).
//
//   bench_qwenimage_vae [--threads N] [--quick]
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "bench_util.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/vae/autoencoder_kl_qwenimage.h"

using namespace diffuse;
using namespace diffuse::models;

namespace {

// Random weights scaled like the parity fixtures (weights N(0, clip(1/sqrt(fan_in), 0.02,
// 0.2)), biases N(0, 0.05), norm scales 1 + N(0, 0.1)), stored bf16 like real checkpoints.
void write_random_decoder(const AutoencoderKLQwenImageConfig& cfg, const std::string& path) {
  io::WeightBinder listing = io::WeightBinder::expected_only();
  const AutoencoderKLQwenImage model(cfg, listing, ModelOptions{}, /*decoder_only=*/true);
  std::mt19937 rng(1);
  io::NamedTensors named;
  for (const auto& e : listing.expected()) {
    const int64_t n = shape_numel(e.shape), fan_in = n / e.shape[0];
    const bool bias = e.name.ends_with(".bias"), gamma = e.name.ends_with(".gamma");
    const float scale =
        bias ? 0.05f : gamma ? 0.1f : std::clamp(1.0f / std::sqrt(static_cast<float>(fan_in)), 0.02f, 0.2f);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng) + (gamma ? 1.0f : 0.0f);
    named.emplace_back(e.name, Tensor::from_f32(e.shape, v).to(DType::BF16));
  }
  io::write_safetensors(path, named);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags = bench::parse_flags(argc, argv, "bench_qwenimage_vae [--threads N] [--quick]");
  const auto cfg = AutoencoderKLQwenImageConfig::from_json(io::Json::object(), "defaults (= Qwen/Qwen-Image vae)");
  const std::string path =
      (std::filesystem::temp_directory_path() / ("bench_qwenimage_vae_" + std::to_string(::getpid()) + ".safetensors"))
          .string();
  write_random_decoder(cfg, path);
  const int64_t side = flags.quick ? 32 : 64;
  std::mt19937 rng(2);
  std::normal_distribution<float> dist;
  std::vector<float> v(static_cast<size_t>(cfg.z_dim * side * side));
  for (float& x : v) x = dist(rng);
  const Tensor latent = Tensor::from_f32({1, cfg.z_dim, side, side}, v);
  std::printf("AutoencoderKLQwenImage decode, latent 1x%lldx%lldx%lld -> %lldx%lld image, %d threads\n",
              static_cast<long long>(cfg.z_dim), static_cast<long long>(side), static_cast<long long>(side),
              static_cast<long long>(side * cfg.downscale_factor()), static_cast<long long>(side * cfg.downscale_factor()),
              num_threads());
  for (const Precision precision : {Precision::F32, Precision::BF16}) {
    io::WeightBinder binder(io::WeightSource::open_file(path));
    ModelOptions options;
    options.precision = precision;
    const AutoencoderKLQwenImage vae(cfg, binder, options, /*decoder_only=*/true);
    binder.check();
    const Tensor z = vae.from_model_latent(latent);
    const bench::Timing t = bench::best_timing([&] { vae.decode(z); }, flags.quick ? 2 : 3, 30.0);
    std::printf("  %-4s  wall %7.2f s   cpu/thread %7.2f s\n", precision == Precision::F32 ? "f32" : "bf16", t.wall,
                t.cpu);
  }
  std::filesystem::remove(path);
  return 0;
}
