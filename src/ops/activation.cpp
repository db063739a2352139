#include "ops/activation.h"

#include <cmath>

#include "ops/x86_intrinsics.h"  // first: see the header
#include "ops/cpu_isa.h"
#include "ops/exp2_avx512.h"
#include "ops/tensor_args.h"
#include "ops/vec_math.h"
#include "runtime/parallel.h"
#include "runtime/profiler.h"

namespace diffuse::ops {
namespace {

constexpr float kSqrtHalf = 0.70710678118654752440f;
constexpr float kGeluTanhBeta = 0.79788456080286535588f;  // sqrt(2 / pi)
constexpr float kGeluTanhKappa = 0.044715f;
constexpr float kQuickGeluAlpha = 1.702f;

inline float gelu_erf_f(float x) { return x * 0.5f * (1.0f + vec::erf(x * kSqrtHalf)); }

// 0.5 * (1 + tanh(u)) == 1 / (1 + exp(-2u)): one exp instead of tanh, and no cancellation in
// 1 + tanh(u) for negative u.
inline float gelu_tanh_f(float x) {
  const float cube = x * x * x;
  const float inner = kGeluTanhBeta * (x + kGeluTanhKappa * cube);
  return x / (1.0f + vec::exp(-2.0f * inner));
}

inline float silu_f(float x) { return x / (1.0f + vec::exp(-x)); }

inline float quick_gelu_f(float x) { return x * (1.0f / (1.0f + vec::exp(-(kQuickGeluAlpha * x)))); }

// y may equal x (in place): each iteration reads its element before writing it.
DIFFUSE_VECTOR_CLONES void activation_kernel(const float* x, float* y, int64_t n, Activation act) {
  switch (act) {
    case Activation::Identity:
      if (x != y) {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) y[i] = x[i];
      }
      return;
    case Activation::GeluErf:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) y[i] = gelu_erf_f(x[i]);
      return;
    case Activation::GeluTanh:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) y[i] = gelu_tanh_f(x[i]);
      return;
    case Activation::Silu:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) y[i] = silu_f(x[i]);
      return;
    case Activation::QuickGelu:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) y[i] = quick_gelu_f(x[i]);
      return;
  }
}

// out[i] = act(gate[i]) * value[i]
DIFFUSE_VECTOR_CLONES void gated_kernel(const float* gate, const float* value, float* out, int64_t n,
                                        Activation act) {
  switch (act) {
    case Activation::Identity:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) out[i] = gate[i] * value[i];
      return;
    case Activation::GeluErf:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) out[i] = gelu_erf_f(gate[i]) * value[i];
      return;
    case Activation::GeluTanh:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) out[i] = gelu_tanh_f(gate[i]) * value[i];
      return;
    case Activation::Silu:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) out[i] = silu_f(gate[i]) * value[i];
      return;
    case Activation::QuickGelu:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) out[i] = quick_gelu_f(gate[i]) * value[i];
      return;
  }
}

constexpr int64_t kGrain = 1 << 14;

}  // namespace

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Identity: return "identity";
    case Activation::GeluErf: return "gelu_erf";
    case Activation::GeluTanh: return "gelu_tanh";
    case Activation::Silu: return "silu";
    case Activation::QuickGelu: return "quick_gelu";
  }
  return "unknown";
}

void apply_activation(float* data, int64_t n, Activation act) { activation_kernel(data, data, n, act); }

#if defined(__x86_64__)
namespace {
// x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3) (gelu_tanh_f's form), 16 lanes at a time:
// the exponential as exp2_ps<4> (2.7e-6 relative) and the division as a refined reciprocal
// estimate. The exponent is capped at 64, where the result is x * 5e-20 ~ 0, so 1 + e stays
// finite for the reciprocal (exp2_ps keeps e itself from going subnormal: unclamped, large
// positive activations ran this ~5x slower through microcode assists).
__attribute__((target("avx512f,avx512dq,fma"))) void gelu_tanh_avx512(float* data, int64_t n) {
  constexpr float kLog2e = 1.44269504088896341f;
  const __m512 c1 = _mm512_set1_ps(-2.0f * kGeluTanhBeta * kLog2e);
  const __m512 c3 = _mm512_set1_ps(-2.0f * kGeluTanhBeta * kGeluTanhKappa * kLog2e);
  const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f), cap = _mm512_set1_ps(64.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(m, data + i);
    const __m512 t = _mm512_min_ps(_mm512_mul_ps(x, _mm512_fmadd_ps(c3, _mm512_mul_ps(x, x), c1)), cap);
    const __m512 d = _mm512_add_ps(one, exp2_ps<4>(t));
    __m512 r = _mm512_rcp14_ps(d);
    r = _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, two));  // one Newton step: ~f32 accuracy
    _mm512_mask_storeu_ps(data + i, m, _mm512_mul_ps(x, r));
  }
}
}  // namespace
#endif

void apply_activation_for_bf16(float* data, int64_t n, Activation act) {
#if defined(__x86_64__)
  static const bool avx512 = cpu_has_avx512();
  if (act == Activation::GeluTanh && avx512) return gelu_tanh_avx512(data, n);
#endif
  apply_activation(data, n, act);
}

Tensor activation(const Tensor& x, Activation act) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  const char* op = "activation";
  check_f32(x, op, "x");
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  float* dst = out.data_mut<float>();
  if (x.is_contiguous()) {
    const float* src = x.data<float>();
    parallel_for(x.numel(), kGrain, [&](int64_t begin, int64_t end) {
      activation_kernel(src + begin, dst + begin, end - begin, act);
    });
    return out;
  }
  const Rows rows(x, op, "x");
  const float* src = static_cast<const float*>(x.raw());
  const int64_t w = rows.width();
  parallel_for(rows.count(), rows_grain(w), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) activation_kernel(src + rows.offset(r), dst + r * w, w, act);
  });
  return out;
}

void activation_inplace(Tensor& x, Activation act) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  const char* op = "activation_inplace";
  check_f32(x, op, "x");
  check_writable(x, op, "x");
  float* data = x.data_mut<float>();
  if (x.is_contiguous()) {
    parallel_for(x.numel(), kGrain, [&](int64_t begin, int64_t end) {
      activation_kernel(data + begin, data + begin, end - begin, act);
    });
    return;
  }
  const Rows rows(x, op, "x");
  const int64_t w = rows.width();
  parallel_for(rows.count(), rows_grain(w), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* row = data + rows.offset(r);
      activation_kernel(row, row, w, act);
    }
  });
}

Tensor gated(const Tensor& x, Activation act, GatedHalves halves) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  const char* op = "gated";
  check_f32(x, op, "x");
  const Rows rows(x, op, "x");
  const int64_t w = rows.width();
  DIFFUSE_CHECK(w % 2 == 0, op, ": last dim of x ", shape_str(x.shape()), " must be even (2F)");
  const int64_t f = w / 2;
  Shape out_shape = x.shape();
  out_shape.back() = f;
  Tensor out = Tensor::empty(out_shape, DType::F32);
  const float* src = static_cast<const float*>(x.raw());
  float* dst = out.data_mut<float>();
  const bool gate_first = halves == GatedHalves::GateUp;
  parallel_for(rows.count(), rows_grain(f), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* row = src + rows.offset(r);
      const float* gate = gate_first ? row : row + f;
      const float* value = gate_first ? row + f : row;
      gated_kernel(gate, value, dst + r * f, f, act);
    }
  });
  return out;
}

Tensor gated(Activation act, const Tensor& gate, const Tensor& up) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  const char* op = "gated";
  check_f32(gate, op, "gate");
  check_f32(up, op, "up");
  DIFFUSE_CHECK(gate.shape() == up.shape(), op, ": gate ", shape_str(gate.shape()), " and up ",
                shape_str(up.shape()), " must have the same shape");
  Tensor out = Tensor::empty(gate.shape(), DType::F32);
  float* dst = out.data_mut<float>();
  if (gate.is_contiguous() && up.is_contiguous()) {
    const float* g = gate.data<float>();
    const float* u = up.data<float>();
    parallel_for(gate.numel(), kGrain, [&](int64_t begin, int64_t end) {
      gated_kernel(g + begin, u + begin, dst + begin, end - begin, act);
    });
    return out;
  }
  const Rows grows(gate, op, "gate"), urows(up, op, "up");
  const float* g = static_cast<const float*>(gate.raw());
  const float* u = static_cast<const float*>(up.raw());
  const int64_t w = grows.width();
  parallel_for(grows.count(), rows_grain(w), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) gated_kernel(g + grows.offset(r), u + urows.offset(r), dst + r * w, w, act);
  });
  return out;
}

}  // namespace diffuse::ops
