#include "ops/quantized_weight.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/amx_gemm.h"
#include "ops/cpu_isa.h"
#include "ops/gemm_operand.h"
#include "ops/tensor_args.h"
#include "runtime/parallel.h"
#include "tensor/half.h"

namespace diffuse::ops {

const char* quant_mode_name(QuantMode mode) {
  switch (mode) {
    case QuantMode::None: return "none";
    case QuantMode::Int8: return "int8";
    case QuantMode::Q4: return "q4";
    case QuantMode::W8A8: return "w8a8";
  }
  return "?";
}

QuantMode quant_mode_from_name(const std::string& name, const std::string& context) {
  for (QuantMode m : {QuantMode::None, QuantMode::Int8, QuantMode::Q4, QuantMode::W8A8})
    if (name == quant_mode_name(m)) return m;
  fail(context, ": quantization must be none, int8, q4 or w8a8, got '", name, "'");
}

uint64_t QuantizedWeight::bytes() const {
  uint64_t b = 0;
  for (const Tensor* t : {&values, &scales, &biases})
    if (t->defined()) b += static_cast<uint64_t>(t->numel()) * dtype_size(t->dtype());
  return b;
}

bool quantizable(const Shape& shape, QuantMode mode) {
  if (shape.size() != 2 || shape[0] <= 0 || shape[1] <= 0) return false;
  if (mode == QuantMode::W8A8) return shape[1] >= kW8A8MinInFeatures;
  return mode != QuantMode::Q4 || shape[1] % kQ4GroupSize == 0;
}

uint64_t bf16_weight_bytes(const Shape& shape) { return static_cast<uint64_t>(shape_numel(shape)) * 2; }

uint64_t quantized_weight_bytes(const Shape& shape, QuantMode mode) {
  if (mode == QuantMode::None || !quantizable(shape, mode)) return bf16_weight_bytes(shape);
  const auto n = static_cast<uint64_t>(shape[0]), k = static_cast<uint64_t>(shape[1]);
  if (mode == QuantMode::Int8) return n * k + n * 4;
  // W8A8 keeps one rearranged copy of the int8 values on the AMX kernels, two on oneDNN's.
  if (mode == QuantMode::W8A8) return (amx::gemm_available(DType::I8) ? 1 : 2) * n * k + n * 4;
  return n * k / 2 + 2 * n * (k / kQ4GroupSize) * 2;  // 4-bit values + bf16 scales and biases
}

namespace {

bool is_float(DType t) { return t == DType::F32 || t == DType::BF16 || t == DType::F16; }

// x rounded to the nearest value of `dtype` (F32 / BF16 / F16), as f32.
float round_to(float x, DType dtype) {
  switch (dtype) {
    case DType::BF16: return bf16_to_f32(f32_to_bf16(x));
    case DType::F16: return f16_to_f32(f32_to_f16(x));
    default: return x;
  }
}

void check_weight(const Tensor& w, const char* what) {
  DIFFUSE_CHECK(w.defined() && w.ndim() == 2 && w.dim(0) > 0 && w.dim(1) > 0, what, ": weight must be a non-empty [out, in] matrix, got ",
                w.defined() ? shape_str(w.shape()) : std::string("undefined"));
  DIFFUSE_CHECK(is_float(w.dtype()), what, ": weight dtype ", dtype_name(w.dtype()), " is not F32, BF16 or F16");
}

// Row r of w as f32 (w may be any float dtype and strides; rows are converted one at a time).
void row_as_f32(const Tensor& w, int64_t r, float* out) {
  const Tensor row = w.select(0, r);
  if (row.strides()[0] == 1) {
    convert_elements(row.raw(), w.dtype(), out, DType::F32, w.dim(1));
  } else {
    const Tensor c = row.contiguous();
    convert_elements(c.raw(), w.dtype(), out, DType::F32, w.dim(1));
  }
}

bool dense_aligned(const Tensor& t) {
  return !t.defined() || (t.is_contiguous() && reinterpret_cast<uintptr_t>(t.raw()) % dtype_size(t.dtype()) == 0);
}

void store_scale(float v, DType dtype, void* base, int64_t i) {
  switch (dtype) {
    case DType::BF16: static_cast<uint16_t*>(base)[i] = f32_to_bf16(v); return;
    case DType::F16: static_cast<uint16_t*>(base)[i] = f32_to_f16(v); return;
    default: static_cast<float*>(base)[i] = v; return;
  }
}

// ---- dequantization kernels: one body, compiled portable and for AVX-512 ----

// Dequantized values of one row into f32 `out` (K values).
inline __attribute__((always_inline)) void int8_row_body(const int8_t* v, float scale, float* out, int64_t k) {
  for (int64_t i = 0; i < k; ++i) out[i] = scale * static_cast<float>(v[i]);
}

template <int Bits>
inline __attribute__((always_inline)) void affine_row_body(const uint32_t* words, const float* scales,
                                                           const float* biases, int64_t group, float* out,
                                                           int64_t k) {
  constexpr int per_word = 32 / Bits;
  constexpr uint32_t mask = (1u << Bits) - 1;
  const int64_t words_per_group = group / per_word;
  for (int64_t g = 0; g < k / group; ++g) {
    const float s = scales[g], b = biases[g];
    const uint32_t* wg = words + g * words_per_group;
    float* og = out + g * group;
    for (int64_t w = 0; w < words_per_group; ++w) {
      const uint32_t word = wg[w];
      for (int j = 0; j < per_word; ++j)
        og[w * per_word + j] = static_cast<float>((word >> (j * Bits)) & mask) * s + b;
    }
  }
}

void int8_row_portable(const int8_t* v, float s, float* out, int64_t k) { int8_row_body(v, s, out, k); }
template <int Bits>
void affine_row_portable(const uint32_t* w, const float* s, const float* b, int64_t g, float* out, int64_t k) {
  affine_row_body<Bits>(w, s, b, g, out, k);
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void int8_row_avx512(const int8_t* v, float s, float* out,
                                                                                  int64_t k) {
  int8_row_body(v, s, out, k);
}
template <int Bits>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void affine_row_avx512(const uint32_t* w, const float* s,
                                                                                    const float* b, int64_t g,
                                                                                    float* out, int64_t k) {
  affine_row_body<Bits>(w, s, b, g, out, k);
}
#endif

void int8_row(const int8_t* v, float s, float* out, int64_t k) {
#if defined(__x86_64__)
  if (cpu_has_avx512()) return int8_row_avx512(v, s, out, k);
#endif
  int8_row_portable(v, s, out, k);
}

void affine_row(int bits, const uint32_t* w, const float* s, const float* b, int64_t g, float* out, int64_t k) {
#if defined(__x86_64__)
  if (cpu_has_avx512()) return bits == 4 ? affine_row_avx512<4>(w, s, b, g, out, k) : affine_row_avx512<8>(w, s, b, g, out, k);
#endif
  return bits == 4 ? affine_row_portable<4>(w, s, b, g, out, k) : affine_row_portable<8>(w, s, b, g, out, k);
}

}  // namespace

QuantizedWeight quantize_int8_per_channel(const Tensor& w) {
  check_weight(w, "quantize int8");
  const int64_t n = w.dim(0), k = w.dim(1);
  QuantizedWeight q;
  q.format = QuantFormat::Int8PerChannel;
  q.out_features = n;
  q.in_features = k;
  q.bits = 8;
  q.values = Tensor::empty({n, k}, DType::I8);
  q.scales = Tensor::empty({n}, DType::F32);
  int8_t* values = q.values.data_mut<int8_t>();
  float* scales = q.scales.data_mut<float>();
  parallel_for(n, rows_grain(k, 1 << 16), [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t r = r0; r < r1; ++r) {
      row_as_f32(w, r, row.data());
      float amax = 0.f;
      for (float x : row) amax = std::max(amax, std::fabs(x));
      DIFFUSE_CHECK(std::isfinite(amax), "quantize int8: row ", r, " holds a non-finite value");
      const float scale = amax / 127.f;
      scales[r] = scale;
      int8_t* out = values + r * k;
      for (int64_t i = 0; i < k; ++i) {
        const float v = scale > 0.f ? std::nearbyint(row[i] / scale) : 0.f;
        out[i] = static_cast<int8_t>(std::clamp(v, -127.f, 127.f));
      }
    }
  });
  return q;
}

QuantizedWeight quantize_affine(const Tensor& w, int bits, int64_t group) {
  check_weight(w, "quantize affine");
  DIFFUSE_CHECK(bits == 4 || bits == 8, "quantize affine: bits must be 4 or 8, got ", bits);
  DIFFUSE_CHECK(group == 32 || group == 64 || group == 128, "quantize affine: group size must be 32, 64 or 128, got ", group);
  const int64_t n = w.dim(0), k = w.dim(1);
  DIFFUSE_CHECK(k % group == 0, "quantize affine: in_features ", k, " is not a multiple of the group size ", group);
  // MLX computes in the weight's dtype; f16 and bf16 weights keep their scales in that dtype.
  const DType sd = w.dtype();
  const int per_word = 32 / bits;
  const int64_t groups = k / group;
  QuantizedWeight q;
  q.format = QuantFormat::Affine;
  q.out_features = n;
  q.in_features = k;
  q.bits = bits;
  q.group_size = group;
  q.values = Tensor::empty({n, k / per_word}, DType::U32);
  q.scales = Tensor::empty({n, groups}, sd);
  q.biases = Tensor::empty({n, groups}, sd);
  uint32_t* words = q.values.data_mut<uint32_t>();
  void* scales = q.scales.raw_mut();
  void* biases = q.biases.raw_mut();
  const float n_bins = static_cast<float>((1 << bits) - 1);
  const float eps = round_to(1e-7f, sd);
  auto r = [sd](float x) { return round_to(x, sd); };
  parallel_for(n, rows_grain(k, 1 << 16), [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t row_i = r0; row_i < r1; ++row_i) {
      row_as_f32(w, row_i, row.data());
      for (int64_t g = 0; g < groups; ++g) {
        const float* x = row.data() + g * group;
        float lo = x[0], hi = x[0];
        for (int64_t i = 1; i < group; ++i) {
          lo = std::min(lo, x[i]);
          hi = std::max(hi, x[i]);
        }
        DIFFUSE_CHECK(std::isfinite(lo) && std::isfinite(hi), "quantize affine: row ", row_i,
                      " holds a non-finite value");
        // The edge of larger magnitude is represented exactly (q = 0 there); the scale is then
        // nudged so that 0 also lands on a grid point when it can.
        const bool low_edge = std::fabs(lo) > std::fabs(hi);
        float scale = std::max(r(r(hi - lo) / n_bins), eps);
        if (!low_edge) scale = -scale;
        const float edge = low_edge ? lo : hi;
        const float q0 = std::nearbyint(r(edge / scale));
        if (q0 != 0.f) scale = r(edge / q0);
        const float bias = q0 == 0.f ? 0.f : edge;
        store_scale(scale, sd, scales, row_i * groups + g);
        store_scale(bias, sd, biases, row_i * groups + g);
        uint32_t* out = words + row_i * (k / per_word) + g * (group / per_word);
        for (int64_t wi = 0; wi < group / per_word; ++wi) {
          uint32_t word = 0;
          for (int j = 0; j < per_word; ++j) {
            const float v = std::nearbyint(r(r(x[wi * per_word + j] - bias) / scale));
            word |= static_cast<uint32_t>(std::clamp(v, 0.f, n_bins)) << (j * bits);
          }
          out[wi] = word;
        }
      }
    }
  });
  return q;
}

QuantizedWeight quantize(const Tensor& w, QuantMode mode) {
  switch (mode) {
    case QuantMode::Int8:
    case QuantMode::W8A8: return quantize_int8_per_channel(w);
    case QuantMode::Q4: return quantize_affine(w, 4, kQ4GroupSize);
    case QuantMode::None: break;
  }
  fail("quantize: no quantization mode given");
}

QuantizedWeight int8_from_tensors(Tensor values, Tensor scales, int64_t n, int64_t k, const std::string& context) {
  DIFFUSE_CHECK(values.defined() && scales.defined(), context, ": int8 weight needs values and scales");
  DIFFUSE_CHECK(values.dtype() == DType::I8 && values.shape() == Shape({n, k}), context, ": int8 values are ",
                dtype_name(values.dtype()), " ", shape_str(values.shape()), ", expected I8 ", shape_str({n, k}));
  DIFFUSE_CHECK(scales.dtype() == DType::F32 && scales.shape() == Shape({n}), context, ": int8 scales are ",
                dtype_name(scales.dtype()), " ", shape_str(scales.shape()), ", expected F32 ", shape_str({n}));
  QuantizedWeight q;
  q.format = QuantFormat::Int8PerChannel;
  q.out_features = n;
  q.in_features = k;
  q.bits = 8;
  q.values = std::move(values);
  q.scales = std::move(scales);
  return q;
}

QuantizedWeight affine_from_tensors(Tensor values, Tensor scales, Tensor biases, int64_t n, int64_t k,
                                    const std::string& context) {
  DIFFUSE_CHECK(values.defined() && scales.defined() && biases.defined(), context,
                ": affine weight needs values, scales and biases");
  DIFFUSE_CHECK(values.dtype() == DType::U32 && values.ndim() == 2 && values.dim(0) == n && values.dim(1) > 0, context,
                ": packed values are ", dtype_name(values.dtype()), " ", shape_str(values.shape()), ", expected U32 [",
                n, ", ", k, " * bits / 32]");
  DIFFUSE_CHECK((values.dim(1) * 32) % k == 0, context, ": packed width ", values.dim(1), " does not divide into ", k,
                " columns");
  const int64_t bits = values.dim(1) * 32 / k;
  DIFFUSE_CHECK(bits == 4 || bits == 8, context, ": packed width ", values.dim(1), " for ", k,
                " columns means ", bits, "-bit values; only 4 and 8 are supported");
  DIFFUSE_CHECK(is_float(scales.dtype()) && scales.ndim() == 2 && scales.dim(0) == n && scales.dim(1) > 0, context,
                ": scales are ", dtype_name(scales.dtype()), " ", shape_str(scales.shape()), ", expected a float [", n,
                ", groups] matrix");
  DIFFUSE_CHECK(biases.dtype() == scales.dtype() && biases.shape() == scales.shape(), context, ": biases are ",
                dtype_name(biases.dtype()), " ", shape_str(biases.shape()), ", expected ", dtype_name(scales.dtype()), " ",
                shape_str(scales.shape()), " like the scales");
  DIFFUSE_CHECK(k % scales.dim(1) == 0, context, ": ", scales.dim(1), " scale groups do not divide ", k, " columns");
  const int64_t group = k / scales.dim(1);
  DIFFUSE_CHECK(group == 32 || group == 64 || group == 128, context, ": group size ", group,
                " (from ", scales.dim(1), " groups over ", k, " columns) is not 32, 64 or 128");
  QuantizedWeight q;
  q.format = QuantFormat::Affine;
  q.out_features = n;
  q.in_features = k;
  q.bits = static_cast<int>(bits);
  q.group_size = group;
  q.values = std::move(values);
  q.scales = std::move(scales);
  q.biases = std::move(biases);
  return q;
}

QuantizedWeight with_dense_aligned_storage(QuantizedWeight q) {
  for (Tensor* t : {&q.values, &q.scales, &q.biases})
    if (!dense_aligned(*t)) *t = t->clone();
  return q;
}

void dequantize_rows(const QuantizedWeight& q, int64_t row0, int64_t rows, DType dtype, void* dst) {
  DIFFUSE_CHECK(dense_aligned(q.values) && dense_aligned(q.scales) && dense_aligned(q.biases),
                "dequantize: storage is not dense and aligned (see with_dense_aligned_storage)");
  DIFFUSE_CHECK(dtype == DType::F32 || dtype == DType::BF16, "dequantize: output dtype must be F32 or BF16");
  DIFFUSE_CHECK(row0 >= 0 && rows >= 0 && row0 + rows <= q.out_features, "dequantize: rows [", row0, ", ",
                row0 + rows, ") outside ", q.out_features);
  const int64_t k = q.in_features;
  std::vector<float> f32_row(dtype == DType::F32 ? 0 : static_cast<size_t>(k));
  const size_t out_row_bytes = static_cast<size_t>(k) * dtype_size(dtype);
  if (q.format == QuantFormat::Int8PerChannel) {
    const int8_t* values = q.values.data<int8_t>();
    const float* scales = q.scales.data<float>();
    for (int64_t r = row0; r < row0 + rows; ++r) {
      auto* out = static_cast<std::byte*>(dst) + (r - row0) * out_row_bytes;
      float* f = dtype == DType::F32 ? reinterpret_cast<float*>(out) : f32_row.data();
      int8_row(values + r * k, scales[r], f, k);
      if (dtype != DType::F32) convert_elements(f, DType::F32, out, dtype, k);
    }
    return;
  }
  const int64_t groups = k / q.group_size;
  const int64_t words = k * q.bits / 32;
  std::vector<float> s(static_cast<size_t>(groups)), b(static_cast<size_t>(groups));
  const auto* sbase = static_cast<const std::byte*>(q.scales.raw());
  const auto* bbase = static_cast<const std::byte*>(q.biases.raw());
  const size_t ssize = dtype_size(q.scales.dtype());
  const uint32_t* values = q.values.data<uint32_t>();
  for (int64_t r = row0; r < row0 + rows; ++r) {
    convert_elements(sbase + r * groups * ssize, q.scales.dtype(), s.data(), DType::F32, groups);
    convert_elements(bbase + r * groups * ssize, q.biases.dtype(), b.data(), DType::F32, groups);
    auto* out = static_cast<std::byte*>(dst) + (r - row0) * out_row_bytes;
    float* f = dtype == DType::F32 ? reinterpret_cast<float*>(out) : f32_row.data();
    affine_row(q.bits, values + r * words, s.data(), b.data(), q.group_size, f, k);
    if (dtype != DType::F32) convert_elements(f, DType::F32, out, dtype, k);
  }
}

Tensor dequantize(const QuantizedWeight& q, DType dtype) {
  Tensor out = Tensor::empty({q.out_features, q.in_features}, dtype);
  auto* base = static_cast<std::byte*>(out.raw_mut());
  const size_t row_bytes = static_cast<size_t>(q.in_features) * dtype_size(dtype);
  parallel_for(q.out_features, rows_grain(q.in_features), [&](int64_t r0, int64_t r1) {
    dequantize_rows(q, r0, r1 - r0, dtype, base + r0 * row_bytes);
  });
  return out;
}

}  // namespace diffuse::ops
