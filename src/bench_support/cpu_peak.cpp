#include "bench_support/cpu_peak.h"

#include "ops/x86_intrinsics.h"  // first: see the header

#include <omp.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <cstdint>
#include <ctime>

#include "ops/amx_tiles.h"
#include "ops/cpu_isa.h"

namespace diffuse::bench {
namespace {

#if defined(__x86_64__)
__attribute__((target("avx512f"), noinline)) float fma_f32_loop(int64_t iters) {
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

__attribute__((target("avx512f,avx512bf16"), noinline)) float dpbf16_loop(int64_t iters) {
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

__attribute__((target("avx512f,avx512vnni"), noinline)) float vnni_int8_loop(int64_t iters) {
  constexpr int kAcc = 12;
  __m512i acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_set1_epi32(j);
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(-1);  // lanes shrink by 4 per step: no lane overflows
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
  }
  // Summed as floats: 12 accumulators x 16 lanes of up to -4 x iters each overflow an int32.
  __m512 s = _mm512_cvtepi32_ps(acc[0]);
  for (int j = 1; j < kAcc; ++j) s = _mm512_add_ps(s, _mm512_cvtepi32_ps(acc[j]));
  return _mm512_reduce_add_ps(s);
}


// Eight 16 x 64-byte tiles: 0-3 accumulators, 4-7 operands. `Dot` issues one tile product.
template <typename Dot>
__attribute__((target("amx-tile"), always_inline)) inline float amx_loop(int64_t iters, Dot dot) {
  ops::amx::configure_full_tiles();
  alignas(64) uint16_t ab[16 * 32];
  for (auto& v : ab) v = 0x3c00;  // small bf16 values (int8 pairs 0, 0x3c) keep the sums finite
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, ab, 64);
  _tile_loadd(5, ab, 64);
  _tile_loadd(6, ab, 64);
  _tile_loadd(7, ab, 64);
  // Four independent accumulator tiles: each tdpbf16ps waits only on its own previous one.
  for (int64_t i = 0; i < iters; ++i) dot();
  alignas(64) float c[16 * 16];
  _tile_stored(0, c, 64);
  _tile_release();
  return c[0];
}

__attribute__((target("amx-tile,amx-bf16"), noinline)) float amx_bf16_loop(int64_t iters) {
  return amx_loop(iters, [] __attribute__((always_inline)) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  });
}

__attribute__((target("amx-tile,amx-int8"), noinline)) float amx_int8_loop(int64_t iters) {
  return amx_loop(iters, [] __attribute__((always_inline)) {
    _tile_dpbssd(0, 4, 6);
    _tile_dpbssd(1, 4, 7);
    _tile_dpbssd(2, 5, 6);
    _tile_dpbssd(3, 5, 7);
  });
}

// The 2x2 tile product fed from memory: each step loads two A and two B tiles (16 KB of each,
// 64-byte aligned, so they stay in L1) before its four products, as any tile GEMM must.
__attribute__((target("amx-tile,amx-bf16"), noinline)) float amx_bf16_fed_loop(int64_t iters) {
  ops::amx::configure_full_tiles();
  constexpr int64_t kSteps = 16, kTileElems = 16 * 32;
  alignas(64) static thread_local uint16_t a[kSteps * 2 * kTileElems], b[kSteps * 2 * kTileElems];
  for (int64_t i = 0; i < kSteps * 2 * kTileElems; ++i) a[i] = b[i] = 0x3c00;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t i = 0; i < iters; ++i) {
    const int64_t at = (i % kSteps) * 2 * kTileElems;
    _tile_loadd(4, a + at, 64);
    _tile_loadd(6, b + at, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_loadd(7, b + at + kTileElems, 64);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(5, a + at + kTileElems, 64);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float c[16 * 16];
  _tile_stored(0, c, 64);
  _tile_release();
  return c[0];
}

// CPUID leaf 7: AVX512_VNNI is ECX bit 11, AMX-INT8 EDX bit 25. The OS-state checks (AVX-512
// registers, the AMX tile permission) are those of ops/cpu_isa.
bool cpuid7_bit(int reg, int bit) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return ((reg == 2 ? ecx : edx) >> bit) & 1u;
}
#endif

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Runs loop(iters) on `threads` threads at once; GFLOP/s for `flops_per_iter` per thread-iteration.
double measure_loop(int threads, int64_t iters, double flops_per_iter, float (*loop)(int64_t)) {
  volatile float sink = 0;
#pragma omp parallel num_threads(threads)
  { sink = sink + loop(iters / 20); }  // warm up clocks (and AVX-512 / AMX power states)
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const double c0 = cpu_seconds();
#pragma omp parallel num_threads(threads)
    { sink = sink + loop(iters); }
    const double cpu = (cpu_seconds() - c0) / threads;
    const double gflops = flops_per_iter * static_cast<double>(iters) * threads / cpu / 1e9;
    if (gflops > best) best = gflops;
  }
  return best;
}

}  // namespace

const char* peak_kind_name(PeakKind kind) {
  switch (kind) {
    case PeakKind::FmaF32: return "fma_f32";
    case PeakKind::DpBf16: return "avx512_bf16_dot";
    case PeakKind::AmxBf16: return "amx_bf16";
    case PeakKind::VnniInt8: return "avx512_vnni_int8";
    case PeakKind::AmxInt8: return "amx_int8";
    case PeakKind::None: break;
  }
  return "none";
}

bool peak_available(PeakKind kind) {
  switch (kind) {
    case PeakKind::FmaF32: return ops::cpu_has_avx512();
    case PeakKind::DpBf16: return ops::cpu_has_avx512_bf16();
    case PeakKind::AmxBf16: return ops::cpu_has_amx_bf16();
#if defined(__x86_64__)
    case PeakKind::VnniInt8: return ops::cpu_has_avx512() && cpuid7_bit(2, 11);
    case PeakKind::AmxInt8: return ops::cpu_has_amx_bf16() && cpuid7_bit(3, 25);
#else
    case PeakKind::VnniInt8:
    case PeakKind::AmxInt8: return false;
#endif
    case PeakKind::None: break;
  }
  return false;
}

double measure_peak_gflops(PeakKind kind, int threads) {
  if (!peak_available(kind) || threads < 1) return 0;
#if defined(__x86_64__)
  switch (kind) {
    case PeakKind::FmaF32: return measure_loop(threads, 8'000'000, 12 * 32.0, fma_f32_loop);
    case PeakKind::DpBf16: return measure_loop(threads, 8'000'000, 12 * 64.0, dpbf16_loop);
    case PeakKind::AmxBf16: return measure_loop(threads, 1'000'000, 4 * 16384.0, amx_bf16_loop);
    case PeakKind::VnniInt8: return measure_loop(threads, 8'000'000, 12 * 128.0, vnni_int8_loop);
    case PeakKind::AmxInt8: return measure_loop(threads, 1'000'000, 4 * 32768.0, amx_int8_loop);
    case PeakKind::None: break;
  }
#endif
  return 0;
}

double measure_amx_bf16_fed_gflops(int threads) {
  if (!peak_available(PeakKind::AmxBf16) || threads < 1) return 0;
#if defined(__x86_64__)
  return measure_loop(threads, 1'000'000, 4 * 16384.0, amx_bf16_fed_loop);
#else
  return 0;
#endif
}

PeakKind gemm_peak_kind(GemmType type) {
  // Fastest first: the tile instruction where the CPU has it, else the vector one.
  const auto first_available = [](PeakKind a, PeakKind b) {
    return peak_available(a) ? a : peak_available(b) ? b : PeakKind::None;
  };
  switch (type) {
    case GemmType::BF16: return first_available(PeakKind::AmxBf16, PeakKind::DpBf16);
    case GemmType::Int8: return first_available(PeakKind::AmxInt8, PeakKind::VnniInt8);
    case GemmType::F32: break;
  }
  return first_available(PeakKind::FmaF32, PeakKind::None);
}

PeakKind vector_peak_kind(GemmType type) {
  const PeakKind kind = type == GemmType::BF16   ? PeakKind::DpBf16
                        : type == GemmType::Int8 ? PeakKind::VnniInt8
                                                 : PeakKind::FmaF32;
  return peak_available(kind) ? kind : PeakKind::None;
}

Peaks measure_peaks(int threads) {
  Peaks p;
  p.f32 = measure_peak_gflops(PeakKind::FmaF32, threads);
  p.bf16_dot = measure_peak_gflops(PeakKind::DpBf16, threads);
  p.amx_bf16 = measure_peak_gflops(PeakKind::AmxBf16, threads);
  p.vnni_int8 = measure_peak_gflops(PeakKind::VnniInt8, threads);
  p.amx_int8 = measure_peak_gflops(PeakKind::AmxInt8, threads);
  return p;
}

}  // namespace diffuse::bench
