#include "ops/gemm_operand.h"

#include "ops/x86_intrinsics.h"  // first: see the header

#include <algorithm>
#include <cstring>

#include "ops/cpu_isa.h"
#include "ops/tensor_args.h"
#include "runtime/parallel.h"
#include "tensor/half.h"

namespace diffuse::ops {

namespace {

// One loop body per conversion; compiled twice (below) so that on AVX-512 machines the
// compiler vectorizes it 16 wide, while the default build stays portable.
inline __attribute__((always_inline)) void convert_loop(const void* src, DType st, void* dst, DType dt,
                                                        int64_t n) {
  const auto* sf = static_cast<const float*>(src);
  const auto* s16 = static_cast<const uint16_t*>(src);
  auto* df = static_cast<float*>(dst);
  auto* d16 = static_cast<uint16_t*>(dst);
  if (st == DType::F32 && dt == DType::BF16) {
    for (int64_t i = 0; i < n; ++i) d16[i] = f32_to_bf16(sf[i]);
  } else if (st == DType::BF16 && dt == DType::F32) {
    for (int64_t i = 0; i < n; ++i) df[i] = bf16_to_f32(s16[i]);
  } else if (st == DType::F16 && dt == DType::F32) {
    for (int64_t i = 0; i < n; ++i) df[i] = f16_to_f32(s16[i]);
  } else if (st == DType::F16 && dt == DType::BF16) {
    for (int64_t i = 0; i < n; ++i) d16[i] = f32_to_bf16(f16_to_f32(s16[i]));
  } else if (st == DType::F32 && dt == DType::F16) {
    for (int64_t i = 0; i < n; ++i) d16[i] = f32_to_f16(sf[i]);
  } else if (st == DType::BF16 && dt == DType::F16) {
    for (int64_t i = 0; i < n; ++i) d16[i] = f32_to_f16(bf16_to_f32(s16[i]));
  }
}

void convert_portable(const void* src, DType st, void* dst, DType dt, int64_t n) {
  convert_loop(src, st, dst, dt, n);
}

#if defined(__x86_64__)
// f32 -> bf16 with the exact rounding of f32_to_bf16 (nearest even, NaN kept quiet, subnormals
// rounded rather than flushed as vcvtneps2bf16 would), 16 at a time.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void f32_to_bf16_avx512(const float* in, uint16_t* out,
                                                                                     int64_t n) {
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7fff), quiet = _mm512_set1_epi32(0x40);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(in + i);
    const __m512i u = _mm512_castps_si512(x);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(bias, lsb)), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), quiet);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm512_cvtepi32_epi16(r));
  }
  for (; i < n; ++i) out[i] = f32_to_bf16(in[i]);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void bf16_to_f32_avx512(const uint16_t* in, float* out,
                                                                                     int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i)));
    _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
  }
  for (; i < n; ++i) out[i] = bf16_to_f32(in[i]);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void convert_avx512(const void* src, DType st, void* dst,
                                                                                 DType dt, int64_t n) {
  if (st == DType::F32 && dt == DType::BF16)
    return f32_to_bf16_avx512(static_cast<const float*>(src), static_cast<uint16_t*>(dst), n);
  if (st == DType::BF16 && dt == DType::F32)
    return bf16_to_f32_avx512(static_cast<const uint16_t*>(src), static_cast<float*>(dst), n);
  convert_loop(src, st, dst, dt, n);
}
#endif

bool is_float_type(DType t) { return t == DType::F32 || t == DType::BF16 || t == DType::F16; }

}  // namespace

void convert_elements(const void* src, DType st, void* dst, DType dt, int64_t n) {
  DIFFUSE_CHECK(is_float_type(st) && is_float_type(dt), "convert_elements: unsupported dtypes ",
                dtype_name(st), " -> ", dtype_name(dt));
  if (n <= 0) return;
  if (st == dt) {
    std::memcpy(dst, src, static_cast<size_t>(n) * dtype_size(st));
    return;
  }
#if defined(__x86_64__)
  if (cpu_has_avx512()) return convert_avx512(src, st, dst, dt, n);
#endif
  convert_portable(src, st, dst, dt, n);
}

RowMatrix dense_rows(const Tensor& x, DType want, Tensor& scratch) {
  const Rows layout(x, "GEMM", "input");
  const int64_t cols = layout.width(), rows = layout.count();
  RowMatrix m{nullptr, rows, cols, cols, want};
  if (x.dtype() == want && x.is_contiguous()) {
    m.data = x.raw();
    return m;
  }
  if (scratch.numel() < x.numel() || scratch.dtype() != want || !scratch.writable())
    scratch = Tensor::empty({x.numel()}, want);
  auto* out = static_cast<std::byte*>(scratch.raw_mut());
  const auto* in = static_cast<const std::byte*>(x.raw());
  const size_t out_row_bytes = static_cast<size_t>(cols) * dtype_size(want);
  const size_t in_elem = dtype_size(x.dtype());
  parallel_for(rows, rows_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      convert_elements(in + layout.offset(r) * in_elem, x.dtype(), out + r * out_row_bytes, want, cols);
  });
  m.data = out;
  return m;
}

}  // namespace diffuse::ops
