// Measured instruction peaks of this machine, the yardstick for every benchmark figure:
// a register-only loop of one instruction with enough independent accumulators to hide its
// latency, run on all threads at once. Flops per instruction: zmm FMA 32 (16 lanes x 2),
// zmm vdpbf16ps 64 (16 lanes x 2 pairs x 2), AMX tdpbf16ps 16384 (16 x 16 x 32 x 2).
#pragma once

#include "ops/x86_intrinsics.h"  // first: see the header

#include <omp.h>

#include <cstdint>
#include <ctime>

#include "ops/cpu_isa.h"

namespace diffuse::bench {

#if defined(__x86_64__)
__attribute__((target("avx512f"), noinline)) inline float fma_f32_loop(int64_t iters) {
  constexpr int kAcc = 12;  // 4-cycle latency x 2 ports, plus slack
  __m512 acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  }
  __m512 s = acc[0];
  for (int j = 1; j < kAcc; ++j) s = _mm512_add_ps(s, acc[j]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512bf16"), noinline)) inline float dpbf16_loop(int64_t iters) {
  constexpr int kAcc = 12;
  __m512 acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x3a803a80);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
  }
  __m512 s = acc[0];
  for (int j = 1; j < kAcc; ++j) s = _mm512_add_ps(s, acc[j]);
  return _mm512_reduce_add_ps(s);
}

struct alignas(64) AmxTileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

__attribute__((target("amx-tile,amx-bf16"), noinline)) inline float amx_loop(int64_t iters) {
  AmxTileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
  alignas(64) static thread_local uint16_t ab[16 * 32];
  for (auto& v : ab) v = 0x3c00;  // small bf16 values keep the sums finite
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, ab, 64);
  _tile_loadd(5, ab, 64);
  _tile_loadd(6, ab, 64);
  _tile_loadd(7, ab, 64);
  for (int64_t i = 0; i < iters; ++i) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) static thread_local float c[16 * 16];
  _tile_stored(0, c, 64);
  _tile_release();
  return c[0];
}
#endif

// Runs loop(iters) on `threads` threads at once; returns GFLOP/s for `flops_per_iter` per
// thread-iteration, timed by process CPU time / threads: on a shared, oversubscribed machine
// wall time would also count the time our threads sat descheduled.
template <typename Loop>
double measure_peak(int threads, int64_t iters, double flops_per_iter, Loop loop) {
  volatile float sink = 0;
#pragma omp parallel num_threads(threads)
  { sink = sink + loop(iters / 20); }  // warm up clocks
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
#pragma omp parallel num_threads(threads)
    { sink = sink + loop(iters); }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    const double cpu = static_cast<double>(t1.tv_sec - t0.tv_sec) + 1e-9 * static_cast<double>(t1.tv_nsec - t0.tv_nsec);
    const double gflops = flops_per_iter * static_cast<double>(iters) * threads / (cpu / threads) / 1e9;
    if (gflops > best) best = gflops;
  }
  return best;
}

struct Peaks {
  double f32 = 0;        // zmm FMA
  double bf16_dot = 0;   // zmm vdpbf16ps
  double amx_bf16 = 0;   // AMX tdpbf16ps (0 when unavailable)
};

// About 0.3 s per available instruction set.
inline Peaks measure_peaks(int threads) {
  Peaks p;
#if defined(__x86_64__)
  if (ops::cpu_has_avx512()) p.f32 = measure_peak(threads, 8'000'000, 12 * 32.0, fma_f32_loop);
  if (ops::cpu_has_avx512_bf16()) p.bf16_dot = measure_peak(threads, 8'000'000, 12 * 64.0, dpbf16_loop);
  if (ops::cpu_has_amx_bf16()) p.amx_bf16 = measure_peak(threads, 1'000'000, 4 * 16384.0, amx_loop);
#endif
  return p;
}

}  // namespace diffuse::bench
