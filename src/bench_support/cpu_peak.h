// Measured instruction peaks of this machine, the yardstick for every benchmark figure
// (bench/ programs and `diffuse bench`): a register-only loop of one instruction with enough
// independent accumulators to hide its latency, run on all threads at once. Flops per
// instruction: zmm FMA 32 (16 lanes x 2), zmm vdpbf16ps 64 (16 lanes x 2 pairs x 2),
// zmm vpdpbusd 128 (16 lanes x 4 byte pairs x 2), AMX tdpbf16ps 16384 (16 x 16 x 32 x 2),
// AMX tdpbssd 32768 (16 x 16 x 64 x 2; int8 "flops" are multiply-adds x 2 like the others).
#pragma once

#include <string>

namespace diffuse::bench {

enum class PeakKind {
  None,       // the CPU has none of the instructions below (rates are then reported without a fraction)
  FmaF32,     // zmm vfmadd (AVX-512F)
  DpBf16,     // zmm vdpbf16ps (AVX-512 BF16)
  AmxBf16,    // AMX tdpbf16ps
  VnniInt8,   // zmm vpdpbusd (AVX-512 VNNI)
  AmxInt8,    // AMX tdpbssd
};

// "fma_f32" / "avx512_bf16_dot" / "amx_bf16" / "avx512_vnni_int8" / "amx_int8" / "none".
const char* peak_kind_name(PeakKind kind);

// Whether this CPU (and OS, for AMX) can run `kind`'s instruction.
bool peak_available(PeakKind kind);

// GFLOP/s of `kind`'s loop on `threads` threads at once (best of three runs of about 0.1 s),
// timed by process CPU time / threads: on a shared, oversubscribed machine wall time would also
// count the time our threads sat descheduled. 0 when the instruction is unavailable.
double measure_peak_gflops(PeakKind kind, int threads);

// The AMX bf16 tile product with its operands loaded from L1 every step (two A and two B tiles
// per four products, the fewest a GEMM's inner loop can load): the ceiling for any tile GEMM
// kernel on this CPU, below the register-only peak because tile loads and products share the
// tile unit's time. 0 without AMX bf16.
double measure_amx_bf16_fed_gflops(int threads);

enum class GemmType { F32, BF16, Int8 };

// The peak a GEMM of this type is measured against: bf16 -> the AMX tile peak when the CPU has
// AMX, else vdpbf16ps; int8 -> AMX tdpbssd, else vpdpbusd; f32 -> FMA. None when the CPU has
// neither.
PeakKind gemm_peak_kind(GemmType type);

// The AVX-512 vector instruction of that type (vdpbf16ps, vpdpbusd, FMA) whether or not the CPU
// also has tiles: the yardstick of engines without AMX kernels, reported beside the tile peak.
// None when the CPU lacks it.
PeakKind vector_peak_kind(GemmType type);

struct Peaks {
  double f32 = 0;       // zmm FMA
  double bf16_dot = 0;  // zmm vdpbf16ps
  double amx_bf16 = 0;  // AMX tdpbf16ps (0 when unavailable)
  double vnni_int8 = 0; // zmm vpdpbusd
  double amx_int8 = 0;  // AMX tdpbssd
};

// Every available peak (about 0.3 s each).
Peaks measure_peaks(int threads);

}  // namespace diffuse::bench
