// Fused attention throughput at DiT sizes (B = 1, 24 heads, head dim 128), compared in the same
// run with the bf16 GEMM rate (a 4096 x 3072 x 3072 Linear), the measured instruction peaks,
// and the naive reference. Flops: 4 * S^2 * D * H (QK^T and PV, 2 flops per multiply-add).
//
//   bench_attention [--threads N] [--quick]
#include <cstdio>
#include <vector>

#include "bench_support/cpu_peak.h"
#include "bench_util.h"
#include "ops/attention.h"
#include "ops/cpu_isa.h"
#include "ops/linear.h"
#include "ops/reference/attention_ref.h"
#include "tensor/tensor.h"

using namespace diffuse;

namespace {

Tensor random_tensor(const Shape& shape, uint32_t seed, DType dtype = DType::F32) {
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data_mut<float>();
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = static_cast<float>((x >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
  return dtype == DType::F32 ? t : t.to(dtype);
}

// q, k, v as the models pass them: [B, S, H*D] projections viewed as [B, H, S, D].
Tensor heads(const Tensor& bsx, int64_t h) {
  const int64_t b = bsx.dim(0), s = bsx.dim(1), d = bsx.dim(2) / h;
  return bsx.reshape({b, s, h, d}).permute({0, 2, 1, 3});
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags = bench::parse_flags(argc, argv, "bench_attention [--threads N] [--quick]");
  const int threads = num_threads();
  const bench::Peaks peaks = bench::measure_peaks(threads);
  std::printf("threads %d | measured peaks GFLOP/s: f32 FMA %.0f, bf16 vdpbf16ps %.0f, AMX bf16 %.0f\n", threads,
              peaks.f32, peaks.bf16_dot, peaks.amx_bf16);

  // Reference rate: the bf16 GEMM at the DiT's main shape.
  const int64_t gm = 4096, gk = 3072, gn = 3072;
  const ops::Linear lin(random_tensor({gn, gk}, 1, DType::BF16));
  const Tensor gx = random_tensor({gm, gk}, 2, DType::BF16);
  Tensor gy = Tensor::empty({gm, gn}, DType::F32);
  const bench::Timing gemm_t = bench::best_timing([&] { lin.forward_into(gx, gy); }, flags.quick ? 2 : 5);
  const double gemm_flops = 2.0 * gm * gn * gk;
  const double gemm_wall = gemm_flops / gemm_t.wall / 1e9, gemm_cpu = gemm_flops / gemm_t.cpu / 1e9;
  std::printf("bf16 GEMM %ldx%ldx%ld: %.2f ms, %.0f GFLOP/s wall, %.0f GFLOP/s cpu\n", gm, gk, gn, gemm_t.wall * 1e3,
              gemm_wall, gemm_cpu);
  std::printf("(rates from wall time and from CPU time / threads; \"vs GEMM\" compares like with like)\n\n");

  const int64_t H = 24, D = 128;
  std::printf("%-6s %-5s %-9s %9s %10s %10s %9s %9s\n", "S", "prec", "kernel", "ms", "GF/s wall", "GF/s cpu",
              "vs GEMM w", "vs GEMM c");
  const std::vector<int64_t> lengths = flags.quick ? std::vector<int64_t>{1024} : std::vector<int64_t>{1024, 4608};
  for (int64_t S : lengths) {
    const Tensor q = heads(random_tensor({1, S, H * D}, 3), H), k = heads(random_tensor({1, S, H * D}, 4), H),
                 v = heads(random_tensor({1, S, H * D}, 5), H);
    const double flops = 4.0 * S * S * D * H;
    for (auto precision : {ops::AttentionPrecision::BF16, ops::AttentionPrecision::F32}) {
      std::vector<ops::AttentionKernel> kernels{ops::attention_auto_kernel(precision)};
      if (precision == ops::AttentionPrecision::BF16 && kernels[0] == ops::AttentionKernel::Amx && ops::cpu_has_avx512())
        kernels.push_back(ops::AttentionKernel::Avx512);
      for (auto kernel : kernels) {
        ops::AttentionOptions o;
        o.precision = precision;
        o.kernel = kernel;
        const bench::Timing t = bench::best_timing([&] { ops::attention(q, k, v, o); }, flags.quick ? 1 : 3, 4.0);
        const double wall = flops / t.wall / 1e9, cpu = flops / t.cpu / 1e9;
        std::printf("%-6ld %-5s %-9s %9.1f %10.0f %10.0f %8.0f%% %8.0f%%\n", S,
                    precision == ops::AttentionPrecision::BF16 ? "bf16" : "f32", ops::attention_kernel_name(kernel),
                    t.wall * 1e3, wall, cpu, 100.0 * wall / gemm_wall, 100.0 * cpu / gemm_cpu);
      }
    }
    if (S == lengths.front()) {
      // Naive reference (double, materialized scores) on 2 of the 24 heads, scaled to all 24.
      const int64_t rh = 2;
      const Tensor qs = q.slice(1, 0, rh), ks = k.slice(1, 0, rh), vs = v.slice(1, 0, rh);
      ops::AttentionOptions o;
      o.precision = ops::AttentionPrecision::F32;
      // The reference is single-threaded: its CPU time is its run time without descheduling.
      const double c0 = bench::cpu_seconds();
      ops::ref::attention_ref(qs, ks, vs, o);
      const double ref_s = (bench::cpu_seconds() - c0) * static_cast<double>(H) / rh;
      o.precision = ops::AttentionPrecision::BF16;
      const double fast_s = bench::best_timing([&] { ops::attention(q, k, v, o); }, 2).cpu;
      std::printf("%-6ld naive reference (1 thread, double; 2 heads timed, x12): %.0f ms, %.1f GFLOP/s cpu -> "
                  "fused bf16 is %.0fx faster\n",
                  S, ref_s * 1e3, flops / ref_s / 1e9, ref_s / fast_s);
    }
  }
  return 0;
}
