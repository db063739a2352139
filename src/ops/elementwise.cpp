#include "ops/elementwise.h"

#include <algorithm>

#include "ops/broadcast_loop.h"
#include "ops/tensor_args.h"
#include "ops/vec_math.h"
#include "runtime/profiler.h"

namespace diffuse::ops {
namespace {

struct AddF { float operator()(float a, float b) const { return a + b; } };
struct SubF { float operator()(float a, float b) const { return a - b; } };
struct MulF { float operator()(float a, float b) const { return a * b; } };
struct DivF { float operator()(float a, float b) const { return a / b; } };
struct MulAddF { float operator()(float a, float b, float c) const { return a * b + c; } };

// Inner loop with compile-time input strides (0 = broadcast, 1 = unit) over a unit-stride
// output, so the compiler emits plain vector loads or broadcasts.
template <int SA, int SB, typename F>
void loop2(float* o, const float* a, const float* b, int64_t n, F f) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i * SA], b[i * SB]);
}

template <typename F>
void inner2(const std::array<float*, kMaxBroadcastOperands>& p,
            const std::array<int64_t, kMaxBroadcastOperands>& s, int64_t n, F f) {
  float* o = p[0];
  const float* a = p[1];
  const float* b = p[2];
  if (s[0] == 1) {
    if (s[1] == 1 && s[2] == 1) return loop2<1, 1>(o, a, b, n, f);
    if (s[1] == 1 && s[2] == 0) return loop2<1, 0>(o, a, b, n, f);
    if (s[1] == 0 && s[2] == 1) return loop2<0, 1>(o, a, b, n, f);
    if (s[1] == 0 && s[2] == 0) return loop2<0, 0>(o, a, b, n, f);
  }
  for (int64_t i = 0; i < n; ++i) o[i * s[0]] = f(a[i * s[1]], b[i * s[2]]);
}

template <int SA, int SB, int SC, typename F>
DIFFUSE_NO_FP_CONTRACT void loop3(float* o, const float* a, const float* b, const float* c, int64_t n, F f) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i * SA], b[i * SB], c[i * SC]);
}

template <int SA, typename F>
void inner3_a(float* o, const float* a, const float* b, const float* c, int64_t sb, int64_t sc,
              int64_t n, F f) {
  if (sb == 1 && sc == 1) return loop3<SA, 1, 1>(o, a, b, c, n, f);
  if (sb == 1 && sc == 0) return loop3<SA, 1, 0>(o, a, b, c, n, f);
  if (sb == 0 && sc == 1) return loop3<SA, 0, 1>(o, a, b, c, n, f);
  return loop3<SA, 0, 0>(o, a, b, c, n, f);
}

template <typename F>
DIFFUSE_NO_FP_CONTRACT void strided3(const std::array<float*, kMaxBroadcastOperands>& p,
                                     const std::array<int64_t, kMaxBroadcastOperands>& s, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) p[0][i * s[0]] = f(p[1][i * s[1]], p[2][i * s[2]], p[3][i * s[3]]);
}

template <typename F>
void inner3(const std::array<float*, kMaxBroadcastOperands>& p,
            const std::array<int64_t, kMaxBroadcastOperands>& s, int64_t n, F f) {
  auto unit_or_zero = [](int64_t v) { return v == 0 || v == 1; };
  if (s[0] == 1 && unit_or_zero(s[1]) && unit_or_zero(s[2]) && unit_or_zero(s[3])) {
    if (s[1] == 1) return inner3_a<1>(p[0], p[1], p[2], p[3], s[2], s[3], n, f);
    return inner3_a<0>(p[0], p[1], p[2], p[3], s[2], s[3], n, f);
  }
  strided3(p, s, n, f);
}

// F32 view of an operand (other float types converted once).
Tensor as_f32(const Tensor& t, const char* op, const char* what) {
  check_defined(t, op, what);
  if (t.dtype() == DType::F32) return t;
  DIFFUSE_CHECK(t.dtype() == DType::BF16 || t.dtype() == DType::F16, op, ": ", what,
                " must be F32, BF16 or F16, got ", dtype_name(t.dtype()));
  return t.to(DType::F32);
}

float* mutable_ptr(const Tensor& t) { return const_cast<float*>(static_cast<const float*>(t.raw())); }

// Writes f(inputs...) into `out` (already shaped as the broadcast shape).
template <typename F, size_t N>
void apply(Tensor& out, const std::array<const Tensor*, N>& inputs, const char* op, F f) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  static_assert(N == 2 || N == 3);
  std::array<Shape, kMaxBroadcastOperands> strides;
  std::array<float*, kMaxBroadcastOperands> base{};
  strides[0] = out.strides();
  base[0] = out.data_mut<float>();
  static const char* names[] = {"a", "b", "c"};
  for (size_t k = 0; k < N; ++k) {
    strides[k + 1] = broadcast_strides(*inputs[k], out.shape(), op, names[k]);
    base[k + 1] = mutable_ptr(*inputs[k]);  // inputs are only read
  }
  if (out.numel() == 0) return;
  const BroadcastPlan plan = make_broadcast_plan(out.shape(), static_cast<int>(N) + 1, strides);
  run_broadcast(plan, base, [&](const std::array<float*, kMaxBroadcastOperands>& p,
                                const std::array<int64_t, kMaxBroadcastOperands>& s, int64_t n) {
    if constexpr (N == 2) {
      inner2(p, s, n, f);
    } else {
      inner3(p, s, n, f);
    }
  });
}

template <typename F>
Tensor binary(const Tensor& a_in, const Tensor& b_in, const char* op, F f) {
  const Tensor a = as_f32(a_in, op, "a"), b = as_f32(b_in, op, "b");
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape()), DType::F32);
  apply<F, 2>(out, {&a, &b}, op, f);
  return out;
}

template <typename F>
void binary_inplace(Tensor& x, const Tensor& b_in, const char* op, F f) {
  check_f32(x, op, "x");
  check_writable(x, op, "x");
  const Tensor b = as_f32(b_in, op, "b");
  DIFFUSE_CHECK(broadcast_shapes(x.shape(), b.shape()) == x.shape(), op, ": ", shape_str(b.shape()),
                " does not broadcast to the in-place target ", shape_str(x.shape()));
  apply<F, 2>(x, {&x, &b}, op, f);
}

// A scalar as a one-element tensor that broadcasts against anything.
Tensor scalar_tensor(float s) { return Tensor::from_f32({}, {s}); }

template <typename F>
void unary_inplace_into(Tensor& out, const Tensor& x, const char* op, F f) {
  // Uses the binary engine with a dummy broadcast operand.
  const Tensor zero = scalar_tensor(0.0f);
  apply(out, std::array<const Tensor*, 2>{&x, &zero}, op, [f](float v, float) { return f(v); });
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    DIFFUSE_CHECK(da == db || da == 1 || db == 1, "cannot broadcast shapes ", shape_str(a), " and ",
                  shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, "add", AddF{}); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(a, b, "sub", SubF{}); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, "mul", MulF{}); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(a, b, "div", DivF{}); }

Tensor add(const Tensor& a, float s) { return binary(a, scalar_tensor(s), "add", AddF{}); }
Tensor sub(const Tensor& a, float s) { return binary(a, scalar_tensor(s), "sub", SubF{}); }
Tensor mul(const Tensor& a, float s) { return binary(a, scalar_tensor(s), "mul", MulF{}); }
Tensor div(const Tensor& a, float s) { return binary(a, scalar_tensor(s), "div", DivF{}); }

void add_inplace(Tensor& x, const Tensor& b) { binary_inplace(x, b, "add_inplace", AddF{}); }
void sub_inplace(Tensor& x, const Tensor& b) { binary_inplace(x, b, "sub_inplace", SubF{}); }
void mul_inplace(Tensor& x, const Tensor& b) { binary_inplace(x, b, "mul_inplace", MulF{}); }
void div_inplace(Tensor& x, const Tensor& b) { binary_inplace(x, b, "div_inplace", DivF{}); }
void add_inplace(Tensor& x, float s) { binary_inplace(x, scalar_tensor(s), "add_inplace", AddF{}); }
void mul_inplace(Tensor& x, float s) { binary_inplace(x, scalar_tensor(s), "mul_inplace", MulF{}); }

Tensor mul_add(const Tensor& a_in, const Tensor& b_in, const Tensor& c_in) {
  const char* op = "mul_add";
  const Tensor a = as_f32(a_in, op, "a"), b = as_f32(b_in, op, "b"), c = as_f32(c_in, op, "c");
  Tensor out = Tensor::empty(broadcast_shapes(broadcast_shapes(a.shape(), b.shape()), c.shape()), DType::F32);
  apply<MulAddF, 3>(out, {&a, &b, &c}, op, MulAddF{});
  return out;
}

void addcmul_inplace(Tensor& x, const Tensor& a_in, const Tensor& b_in, float value) {
  const char* op = "addcmul_inplace";
  check_f32(x, op, "x");
  check_writable(x, op, "x");
  const Tensor a = as_f32(a_in, op, "a"), b = as_f32(b_in, op, "b");
  DIFFUSE_CHECK(broadcast_shapes(broadcast_shapes(x.shape(), a.shape()), b.shape()) == x.shape(), op,
                ": ", shape_str(a.shape()), " * ", shape_str(b.shape()),
                " does not broadcast to the in-place target ", shape_str(x.shape()));
  if (value == 1.0f) {
    apply(x, std::array<const Tensor*, 3>{&a, &b, &x}, op, MulAddF{});
  } else {
    apply(x, std::array<const Tensor*, 3>{&a, &b, &x}, op,
          [value](float av, float bv, float xv) { return (value * av) * bv + xv; });
  }
}

Tensor clamp(const Tensor& x_in, float lo, float hi) {
  const char* op = "clamp";
  DIFFUSE_CHECK(!(lo > hi), op, ": lo ", lo, " > hi ", hi);
  const Tensor x = as_f32(x_in, op, "x");
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  unary_inplace_into(out, x, op, [lo, hi](float v) { return v < lo ? lo : (v > hi ? hi : v); });
  return out;
}

void clamp_inplace(Tensor& x, float lo, float hi) {
  const char* op = "clamp_inplace";
  DIFFUSE_CHECK(!(lo > hi), op, ": lo ", lo, " > hi ", hi);
  check_f32(x, op, "x");
  check_writable(x, op, "x");
  unary_inplace_into(x, x, op, [lo, hi](float v) { return v < lo ? lo : (v > hi ? hi : v); });
}

}  // namespace diffuse::ops
