#include "ops/cpu_isa.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace diffuse::ops {

#if defined(__x86_64__)
namespace {

struct Leaf7 {
  unsigned ebx = 0, ecx = 0, edx = 0, eax1 = 0;  // eax1: sub-leaf 1 EAX
};

Leaf7 read_leaf7() {
  Leaf7 r;
  unsigned a, b, c, d;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    r.ebx = b;
    r.ecx = c;
    r.edx = d;
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) r.eax1 = a;
  return r;
}

// The OS must have enabled the AVX-512 register state (XCR0 bits 5-7 with 1-2).
bool os_saves_avx512() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 0xe6u) == 0xe6u;
}

bool request_amx_permission() {
  // Linux 5.16+: tile data is off until the process asks for it (ARCH_REQ_XCOMP_PERM,
  // feature 18 = XTILEDATA). Harmless to repeat; oneDNN makes the same request.
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

}  // namespace

bool cpu_has_avx512() {
  static const bool ok = [] {
    const Leaf7 l = read_leaf7();
    const bool f = l.ebx & (1u << 16), dq = l.ebx & (1u << 17), bw = l.ebx & (1u << 30),
               vl = l.ebx & (1u << 31);
    return f && dq && bw && vl && os_saves_avx512();
  }();
  return ok;
}

bool cpu_has_avx512_bf16() {
  static const bool ok = cpu_has_avx512() && (read_leaf7().eax1 & (1u << 5));
  return ok;
}

bool cpu_has_amx_bf16() {
  static const bool ok = [] {
    const Leaf7 l = read_leaf7();
    const bool tile = l.edx & (1u << 24), bf16 = l.edx & (1u << 22);
    return tile && bf16 && cpu_has_avx512_bf16() && request_amx_permission();
  }();
  return ok;
}
#else
bool cpu_has_avx512() { return false; }
bool cpu_has_avx512_bf16() { return false; }
bool cpu_has_amx_bf16() { return false; }
#endif

}  // namespace diffuse::ops
