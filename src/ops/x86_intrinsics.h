// <immintrin.h> for kernels compiled with function target attributes (x86-64 only).
// GCC 12 reports the intrinsics' own "undefined" pass-through operands (_mm512_undefined_ps
// and friends) as uninitialized once they are inlined (GCC bug 105593); the warnings point
// into the header, so they are silenced for the header alone. Include this before any other
// header that may pull in <immintrin.h>.
#pragma once

#if defined(__x86_64__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
