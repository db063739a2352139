// GEMM throughput of ops::Linear at DiT shapes (M tokens x K in -> N out), bf16 and f32: oneDNN's
// matmul and ours (AMX tiles where the CPU has them) in the same run, against this machine's
// measured instruction peaks (see bench_support/cpu_peak.h). Also measures whether prepacking the
// weight into oneDNN's blocked layout pays, and what an f32 input costs.
//
//   bench_gemm [--threads N] [--quick]
#include <cstdio>
#include <vector>

#include "bench_support/cpu_peak.h"
#include "bench_util.h"
#include "ops/dnnl_context.h"
#include "ops/linear.h"
#include "tensor/tensor.h"

using namespace diffuse;

namespace {

Tensor random_tensor(const Shape& shape, uint32_t seed, DType dtype) {
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data_mut<float>();
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = static_cast<float>((x >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
  return dtype == DType::F32 ? t : t.to(dtype);
}

struct Shape3 {
  int64_t k, n;
};

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags = bench::parse_flags(argc, argv, "bench_gemm [--threads N] [--quick]");
  const int threads = num_threads();
  const bench::Peaks peaks = bench::measure_peaks(threads);
  const double fed = bench::measure_amx_bf16_fed_gflops(threads);
  std::printf("threads %d | measured peaks GFLOP/s: f32 FMA %.0f, bf16 vdpbf16ps %.0f, AMX bf16 tdpbf16ps %.0f\n"
              "AMX bf16 tile product with its operand tiles loaded from L1 (the ceiling of any tile GEMM): %.0f"
              " (%.0f%% of the tile peak)\n",
              threads, peaks.f32, peaks.bf16_dot, peaks.amx_bf16, fed, peaks.amx_bf16 > 0 ? 100 * fed / peaks.amx_bf16 : 0.0);
  std::printf("(rates from wall time and from CPU time / threads; %%peak from the CPU-time rate: bf16 vs the AMX\n"
              " peak when AMX is present, else vs vdpbf16ps; f32 vs FMA)\n\n");
  const std::vector<Shape3> shapes = {{3072, 3072}, {3072, 12288}, {12288, 3072}};
  const std::vector<int64_t> ms = flags.quick ? std::vector<int64_t>{256, 1024} : std::vector<int64_t>{256, 1024, 4096};
  std::printf("%-5s %5s %6s %6s | %9s %9s | %9s %9s %6s | %7s\n", "type", "M", "K", "N", "oneDNN ms", "GF/s cpu",
              "ours ms", "GF/s cpu", "%peak", "speedup");
  for (DType dt : {DType::BF16, DType::F32}) {
    const double peak = dt == DType::F32 ? peaks.f32 : (peaks.amx_bf16 > 0 ? peaks.amx_bf16 : peaks.bf16_dot);
    for (const Shape3& s : shapes) {
      const Tensor w = random_tensor({s.n, s.k}, 1, dt);
      const ops::Linear onednn(w, nullptr, {.amx = false});
      const ops::Linear ours(w);  // our AMX kernels where the CPU has them (bf16), else the same oneDNN path
      for (int64_t m : ms) {
        const Tensor x = random_tensor({m, s.k}, 2, dt);
        Tensor y = Tensor::empty({m, s.n}, DType::F32);
        const double flops = 2.0 * m * s.k * s.n;
        const int reps = flags.quick ? 1 : (dt == DType::F32 && m == 4096 ? 2 : 4);
        const bench::Timing a = bench::best_timing([&] { onednn.forward_into(x, y); }, reps, 3.0);
        const bench::Timing b = bench::best_timing([&] { ours.forward_into(x, y); }, reps, 3.0);
        const double rate_a = flops / a.cpu / 1e9, rate_b = flops / b.cpu / 1e9;
        std::printf("%-5s %5ld %6ld %6ld | %9.2f %9.0f | %9.2f %9.0f %5.0f%% | %6.2fx\n", dt == DType::F32 ? "f32" : "bf16",
                    m, s.k, s.n, a.wall * 1e3, rate_a, b.wall * 1e3, rate_b, peak > 0 ? 100.0 * rate_b / peak : 0.0,
                    rate_b / rate_a);
      }
    }
  }

  // Prepacked (oneDNN blocked layout) vs the weight used as stored, same run.
  std::printf("\noneDNN prepack (bf16, K = N = 3072): CPU-time GFLOP/s plain -> prepacked\n");
  const Tensor w = random_tensor({3072, 3072}, 3, DType::BF16);
  const ops::Linear packed(w, nullptr, {.amx = false}), plain(w, nullptr, {.prepack = false});
  for (int64_t m : ms) {
    const Tensor x = random_tensor({m, 3072}, 4, DType::BF16);
    Tensor y = Tensor::empty({m, 3072}, DType::F32);
    const double flops = 2.0 * m * 3072 * 3072;
    const double r_plain = flops / bench::best_timing([&] { plain.forward_into(x, y); }, 4).cpu / 1e9;
    const double r_packed = flops / bench::best_timing([&] { packed.forward_into(x, y); }, 4).cpu / 1e9;
    std::printf("  M %5ld: %6.0f -> %6.0f  (x%.2f)\n", m, r_plain, r_packed, r_packed / r_plain);
  }

  // The same GEMM fed f32 activations: includes the one rounding pass of x to bf16.
  const Tensor x32 = random_tensor({1024, 3072}, 5, DType::F32);
  const Tensor x16 = x32.to(DType::BF16);
  Tensor y = Tensor::empty({1024, 3072}, DType::F32);
  const double flops = 2.0 * 1024 * 3072 * 3072;
  const ops::Linear ours(w);
  const double r16 = flops / bench::best_timing([&] { ours.forward_into(x16, y); }, 4).cpu / 1e9;
  const double r32 = flops / bench::best_timing([&] { ours.forward_into(x32, y); }, 4).cpu / 1e9;
  std::printf("\nbf16 GEMM 1024x3072x3072 with bf16 input %.0f GFLOP/s, with f32 input (converted) %.0f (x%.2f)\n", r16,
              r32, r32 / r16);
  return 0;
}
