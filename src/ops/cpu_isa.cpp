#include "ops/cpu_isa.h"

#if defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace diffuse::ops {

#if defined(__x86_64__)
namespace {

// Linux 5.16+: the AMX tile data state is off until the process asks for it
// (ARCH_REQ_XCOMP_PERM for feature 18, XTILEDATA); using a tile before that faults.
// Harmless to repeat (oneDNN makes the same request before its own AMX kernels).
bool request_amx_permission() {
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

}  // namespace

// __builtin_cpu_supports also checks that the OS saves the wider register state (XCR0).
bool cpu_has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return ok;
}

bool cpu_has_avx512_bf16() {
  static const bool ok = cpu_has_avx512() && __builtin_cpu_supports("avx512bf16");
  return ok;
}

bool cpu_has_amx_bf16() {
  static const bool ok = cpu_has_avx512_bf16() && __builtin_cpu_supports("amx-tile") &&
                         __builtin_cpu_supports("amx-bf16") && request_amx_permission();
  return ok;
}

bool cpu_has_amx_int8() {
  static const bool ok = cpu_has_avx512() && __builtin_cpu_supports("amx-tile") &&
                         __builtin_cpu_supports("amx-int8") && request_amx_permission();
  return ok;
}
#else
bool cpu_has_avx512() { return false; }
bool cpu_has_avx512_bf16() { return false; }
bool cpu_has_amx_bf16() { return false; }
bool cpu_has_amx_int8() { return false; }
#endif

}  // namespace diffuse::ops
