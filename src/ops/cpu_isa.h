// Which optional x86 instruction sets the running CPU (and OS) lets our kernels use.
// Kernels are compiled with function target attributes and picked at run time, so one
// binary runs on any x86-64 (and the portable paths build for other architectures).
#pragma once

namespace diffuse::ops {

bool cpu_has_avx512();       // AVX-512 F/BW/VL/DQ: our wide f32 kernels
bool cpu_has_avx512_bf16();  // vdpbf16ps / vcvtne2ps2bf16
// AMX tiles with bf16 multiply, and the OS granted this process the tile state
// (Linux needs an arch_prctl request before the first tile instruction).
bool cpu_has_amx_bf16();
// AMX tiles with int8 multiply (tdpbssd), tile state granted as above.
bool cpu_has_amx_int8();

}  // namespace diffuse::ops
