#include "ops/x86_intrinsics.h"  // first: see the header

#include "ops/w8a8_linear.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/cpu_isa.h"
#include "ops/tensor_args.h"
#include "runtime/parallel.h"
#include "tensor/half.h"

namespace diffuse::ops {

namespace {

using dnnl::memory;

// The token scale and the factor that maps the row onto [-127, 127]. A row holding Inf or NaN
// gets a NaN scale and zero values, so its outputs come out NaN instead of garbage.
struct RowScale {
  float scale;    // sx = absmax / 127
  float inverse;  // 127 / absmax (0 for a zero or non-finite row)
};

RowScale row_scale(float amax) {
  if (!std::isfinite(amax)) return {std::numeric_limits<float>::quiet_NaN(), 0.f};
  if (amax == 0.f) return {0.f, 0.f};
  return {amax / 127.f, 127.f / amax};
}

// ---- portable kernels ----

template <typename Load>
void quantize_row_portable(Load load, int64_t k, int8_t* out, float* scale) {
  float amax = 0.f;
  for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(load(i)));
  // std::max drops NaN operands; look for them separately so they reach the scale.
  for (int64_t i = 0; i < k && std::isfinite(amax); ++i)
    if (std::isnan(load(i))) amax = std::numeric_limits<float>::quiet_NaN();
  const RowScale s = row_scale(amax);
  *scale = s.scale;
  for (int64_t i = 0; i < k; ++i) {
    const float v = s.inverse == 0.f ? 0.f : std::nearbyint(load(i) * s.inverse);
    out[i] = static_cast<int8_t>(std::clamp(v, -127.f, 127.f));
  }
}

void quantize_row_f32_portable(const float* x, int64_t k, int8_t* out, float* scale) {
  quantize_row_portable([x](int64_t i) { return x[i]; }, k, out, scale);
}

void quantize_row_bf16_portable(const uint16_t* x, int64_t k, int8_t* out, float* scale) {
  quantize_row_portable([x](int64_t i) { return bf16_to_f32(x[i]); }, k, out, scale);
}

// ---- AVX-512 kernels: the same arithmetic, 16 lanes at a time (masked tails) ----

#if defined(__x86_64__)
#define DIFFUSE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

DIFFUSE_AVX512 inline __m512 load_f32(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }

DIFFUSE_AVX512 inline __m512 load_f32(const uint16_t* p, __mmask16 m) {
  const __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
}

template <typename T>
DIFFUSE_AVX512 void quantize_row_avx512(const T* x, int64_t k, int8_t* out, float* scale) {
  __m512 amax = _mm512_setzero_ps();
  __mmask16 nan = 0;
  for (int64_t i = 0; i < k; i += 16) {
    const __mmask16 m = k - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (k - i)) - 1);
    const __m512 v = load_f32(x + i, m);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    amax = _mm512_max_ps(amax, _mm512_abs_ps(v));
  }
  const float a = nan ? std::numeric_limits<float>::quiet_NaN() : _mm512_reduce_max_ps(amax);
  const RowScale s = row_scale(a);
  *scale = s.scale;
  const __m512 inv = _mm512_set1_ps(s.inverse);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int64_t i = 0; i < k; i += 16) {
    const __mmask16 m = k - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (k - i)) - 1);
    // A non-finite row has inverse 0, but Inf * 0 is NaN: zero those lanes explicitly.
    const __m512 v = s.inverse == 0.f ? _mm512_setzero_ps() : _mm512_mul_ps(load_f32(x + i, m), inv);
    __m512i q = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
    _mm512_mask_cvtepi32_storeu_epi8(out + i, m, q);
  }
}
#endif

void quantize_row(const void* row, DType dtype, int64_t k, int8_t* out, float* scale) {
#if defined(__x86_64__)
  if (cpu_has_avx512()) {
    if (dtype == DType::F32) return quantize_row_avx512(static_cast<const float*>(row), k, out, scale);
    return quantize_row_avx512(static_cast<const uint16_t*>(row), k, out, scale);
  }
#endif
  if (dtype == DType::F32) return quantize_row_f32_portable(static_cast<const float*>(row), k, out, scale);
  quantize_row_bf16_portable(static_cast<const uint16_t*>(row), k, out, scale);
}

}  // namespace

void quantize_per_token(const Tensor& x, int8_t* values, float* scales) {
  DIFFUSE_CHECK(x.defined() && x.ndim() >= 1, "quantize_per_token: input must be a tensor of rows");
  // Other float dtypes take one converted copy; F32 and BF16 rows are read in place.
  const Tensor src = x.dtype() == DType::F32 || x.dtype() == DType::BF16 ? x : x.to(DType::F32);
  const int64_t k = src.dim(-1);
  if (src.numel() == 0) return;
  DIFFUSE_CHECK(src.strides().back() == 1 || k == 1, "quantize_per_token: last dim must have unit stride");
  const Rows rows(src, "quantize_per_token", "input");
  const auto* base = static_cast<const std::byte*>(src.raw());
  const size_t elem = dtype_size(src.dtype());
  parallel_for(rows.count(), rows_grain(k), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      quantize_row(base + rows.offset(r) * static_cast<int64_t>(elem), src.dtype(), k, values + r * k, scales + r);
  });
}

namespace w8a8 {

memory::desc src_desc(int64_t m, int64_t k) { return memory::desc({1, m, k}, memory::data_type::s8, memory::format_tag::abc); }
memory::desc weights_desc(int64_t k, int64_t n) {
  return memory::desc({1, k, n}, memory::data_type::s8, memory::dims{k * n, 1, k});
}
memory::desc any_weights_desc(int64_t k, int64_t n) {
  return memory::desc({1, k, n}, memory::data_type::s8, memory::format_tag::any);
}
memory::desc dst_desc(int64_t m, int64_t cols, int64_t ld) {
  return memory::desc({1, m, cols}, memory::data_type::f32, memory::dims{m * ld, ld, 1});
}
memory::desc row_desc(int64_t m) { return memory::desc({1, m, 1}, memory::data_type::f32, memory::format_tag::abc); }
memory::desc col_desc(int64_t cols) {
  return memory::desc({1, 1, cols}, memory::data_type::f32, memory::format_tag::abc);
}

}  // namespace w8a8

int append_w8a8_dequantize(dnnl::primitive_attr& attr, dnnl::post_ops& ops, const float* weight_scales, int64_t m,
                           int64_t cols, bool bias) {
  // Output scales run on the s32 accumulator converted to f32, before any post-op; mask 1 << 2
  // is "per element of dim 2" (the output column) of the 3-D matmul.
  attr.set_output_scales(1 << 2, std::vector<float>(weight_scales, weight_scales + cols));
  ops.append_binary(dnnl::algorithm::binary_mul, w8a8::row_desc(m));
  if (!bias) return 1;
  // The bias must come after the token scale; as a post-op it is applied exactly there,
  // independent of where oneDNN's int8 matmul would add its own bias argument.
  ops.append_binary(dnnl::algorithm::binary_add, w8a8::col_desc(cols));
  return 2;
}

}  // namespace diffuse::ops
