// Weight quantization at real FLUX width: one double block (D 3072, 24 x 128 heads, 512 text +
// 1024 image tokens, B 1) on random bf16 weights, bound four times from the same file: bf16,
// int8 per channel, q4 (group-64 affine, quantized at load) and w8a8 (int8 weights x per-token
// int8 activations). Per mode: output cosine vs
// bf16 (both streams), Linear weight bytes, resident memory the block added, ms per block.
// Then quantized / bf16 Linear time at M = 256 / 1024 / 4096 for [3072, 3072], [12288, 3072]
// and [3072, 12288] weights. Times are best-of-n; "cpu" is process CPU time / threads, steadier
// than wall time on a shared machine.
//
//   bench_quantized_block [--threads N] [--quick]
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "bench_util.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/dit/flux_blocks.h"
#include "ops/linear.h"
#include "ops/quantized_weight.h"

using namespace diffuse;
using namespace diffuse::models;

namespace {

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

// Resident set size of this process (VmRSS), bytes.
uint64_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

double cosine(const Tensor& a, const Tensor& b) {
  const auto x = a.to_f32_vector(), y = b.to_f32_vector();
  double dot = 0, nx = 0, ny = 0;
  for (size_t i = 0; i < x.size(); ++i) dot += double(x[i]) * y[i], nx += double(x[i]) * x[i], ny += double(y[i]) * y[i];
  return dot / std::sqrt(nx * ny);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags = bench::parse_flags(argc, argv, "bench_quantized_block [--threads N] [--quick]");
  const int64_t heads = 24, head_dim = 128, dim = heads * head_dim, txt = 512, img = flags.quick ? 256 : 1024;
  const int64_t len = txt + img;
  const FluxBlockDims dims{dim, heads, head_dim, 4 * dim};
  std::printf("threads %d | FLUX double block D %ld, txt %ld + img %ld tokens\n", num_threads(), dim, txt, img);

  // One random bf16 checkpoint for the block; matrices ~1/sqrt(fan_in), norm scales ~1.
  io::WeightBinder listing = io::WeightBinder::expected_only();
  FluxDoubleBlock(listing, dims, /*adaln_linears=*/false, ModelOptions{});
  io::NamedTensors named;
  uint32_t seed = 1;
  for (const auto& e : listing.expected()) {
    const bool matrix = e.shape.size() == 2;
    Tensor t = random_tensor(e.shape, seed++, matrix ? 1.7f / std::sqrt(static_cast<float>(e.shape[1])) : 0.05f);
    if (e.name.find("norm") != std::string::npos && !matrix) {
      float* p = t.data_mut<float>();
      for (int64_t i = 0; i < t.numel(); ++i) p[i] += 1.0f;
    }
    named.emplace_back(e.name, t.to(DType::BF16));
  }
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("bench_quantized_block_" + std::to_string(getpid()) + ".safetensors")).string();
  io::write_safetensors(path, named);
  named.clear();

  JointAttentionContext attn;
  attn.precision = Precision::BF16;
  std::vector<float> ids;
  const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(img)));
  for (int64_t i = 0; i < len; ++i) {
    const int64_t p = std::max<int64_t>(i - txt, 0);
    const bool image = i >= txt;
    ids.insert(ids.end(), {0.0f, image ? static_cast<float>(p / side) : 0.0f, image ? static_cast<float>(p % side) : 0.0f});
  }
  const Tensor all_ids = Tensor::from_f32({len, 3}, ids);
  attn.rope = flux_rope_tables(all_ids.slice(0, 0, txt).contiguous(), all_ids.slice(0, txt, len).contiguous(), {16, 56, 56});
  const AdaLnZeroModulation mod = AdaLnZeroModulation::from_rows(random_tensor({1, 6, dim}, 9, 0.5f));
  const Tensor ctx0 = random_tensor({1, txt, dim}, 10, 1.0f), x0 = random_tensor({1, img, dim}, 11, 1.0f);

  Tensor ref_ctx, ref_x;
  std::printf("%-6s %10s %12s %12s %10s %10s %10s\n", "mode", "cosine", "weights MiB", "resident MiB", "wall ms",
              "cpu ms", "cpu ratio");
  double bf16_cpu = 0;
  // Kept alive to the end so each mode's resident delta is not memory freed by the previous one.
  std::vector<std::unique_ptr<FluxDoubleBlock>> blocks;
  // bf16 first: its output is the reference.
  for (ops::QuantMode mode : {ops::QuantMode::None, ops::QuantMode::Int8, ops::QuantMode::Q4, ops::QuantMode::W8A8}) {
    ModelOptions options;
    options.quantization = mode;
    const uint64_t rss0 = resident_bytes();
    io::WeightBinder binder(io::WeightSource::open_file(path));
    blocks.push_back(std::make_unique<FluxDoubleBlock>(binder, dims, false, options));
    const FluxDoubleBlock* block = blocks.back().get();
    binder.check();
    const uint64_t rss1 = resident_bytes();
    uint64_t weight_bytes = 0;
    for (const auto& e : binder.expected())
      if (e.linear_weight) weight_bytes += ops::quantized_weight_bytes(e.shape, mode);
    Tensor ctx = ctx0.clone(), x = x0.clone();
    block->forward(ctx, x, mod, mod, attn);
    if (mode == ops::QuantMode::None) ref_ctx = ctx, ref_x = x;
    const double cos = std::min(cosine(ctx, ref_ctx), cosine(x, ref_x));
    const bench::Timing t = bench::best_timing(
        [&] {
          Tensor c = ctx0.clone(), h = x0.clone();
          block->forward(c, h, mod, mod, attn);
        },
        flags.quick ? 1 : 3, 30.0);
    if (mode == ops::QuantMode::None) bf16_cpu = t.cpu;
    std::printf("%-6s %10.6f %12.1f %12.1f %10.1f %10.1f %10.2f\n", ops::quant_mode_name(mode), cos,
                weight_bytes / 1048576.0, (static_cast<double>(rss1) - static_cast<double>(rss0)) / 1048576.0,
                t.wall * 1e3, t.cpu * 1e3, t.cpu / bf16_cpu);
  }
  std::filesystem::remove(path);

  // Linear alone: quantized / bf16 time ratio (CPU time) per shape and M.
  std::printf("\n%-16s %6s %10s %10s %10s %10s %8s %8s %8s\n", "weight [N, K]", "M", "bf16 ms", "int8 ms", "q4 ms",
              "w8a8 ms", "int8 x", "q4 x", "w8a8 x");
  const std::vector<Shape> shapes = {{3072, 3072}, {12288, 3072}, {3072, 12288}};
  const std::vector<int64_t> ms = flags.quick ? std::vector<int64_t>{256} : std::vector<int64_t>{256, 1024, 4096};
  for (const Shape& s : shapes) {
    const Tensor w = random_tensor(s, 21, 0.02f).to(DType::BF16);
    const ops::Linear dense(w);
    const ops::Linear int8(ops::quantize(w, ops::QuantMode::Int8), nullptr, DType::BF16);
    const ops::Linear q4(ops::quantize(w, ops::QuantMode::Q4), nullptr, DType::BF16);
    const ops::Linear w8a8(ops::quantize(w, ops::QuantMode::W8A8), nullptr, DType::I8);
    for (int64_t m : ms) {
      const Tensor x = random_tensor({m, s[1]}, 22, 1.0f).to(DType::BF16);
      Tensor y = Tensor::empty({m, s[0]}, DType::F32);
      const double td = bench::best_timing([&] { dense.forward_into(x, y); }, 3, 5.0).cpu;
      const double ti = bench::best_timing([&] { int8.forward_into(x, y); }, 3, 5.0).cpu;
      const double tq = bench::best_timing([&] { q4.forward_into(x, y); }, 3, 5.0).cpu;
      const double tw = bench::best_timing([&] { w8a8.forward_into(x, y); }, 3, 5.0).cpu;
      std::printf("[%5ld, %5ld]   %6ld %10.2f %10.2f %10.2f %10.2f %8.2f %8.2f %8.2f\n", s[0], s[1], m, td * 1e3, ti * 1e3,
                  tq * 1e3, tw * 1e3, ti / td, tq / td, tw / td);
    }
  }
  return 0;
}
