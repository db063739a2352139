#include "ops/norm.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include "ops/activation.h"
#include "ops/tensor_args.h"
#include "ops/vec_math.h"
#include "runtime/parallel.h"
#include "runtime/profiler.h"
#include "tensor/half.h"

namespace diffuse::ops {
namespace {

struct Moments {
  double mean;
  double rstd;
};

// Sums of d = x - center and of d^2, in double over 16 independent lanes.
DIFFUSE_VECTOR_CLONES void sums(const float* x, int64_t n, double center, double* sum, double* sum_sq) {
  constexpr int kLanes = 16;
  double s[kLanes] = {}, q[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
#pragma omp simd
    for (int k = 0; k < kLanes; ++k) {
      const double d = static_cast<double>(x[i + k]) - center;
      s[k] += d;
      q[k] += d * d;
    }
  }
  double st = 0, qt = 0;
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - center;
    st += d;
    qt += d * d;
  }
  for (int k = 0; k < kLanes; ++k) {
    st += s[k];
    qt += q[k];
  }
  *sum = st;
  *sum_sq = qt;
}

// Mean and 1/sqrt(biased variance + eps) in one pass over the row. Shifting by the row's first
// element x0 keeps var = E[d^2] - E[d]^2 accurate for rows far from zero mean (DiT streams
// reach 1e7): its relative error is ~1e-16 * (1 + (mean - x0)^2 / var), and one element of n
// can deviate by at most sqrt(n) standard deviations, so the error stays below ~1e-16 * n.
Moments moments(const float* x, int64_t n, float eps) {
  const double center = n > 0 ? x[0] : 0.0;
  double sum = 0, sq = 0;
  sums(x, n, center, &sum, &sq);
  const double mean_d = sum / static_cast<double>(n);
  const double var = std::max(0.0, sq / static_cast<double>(n) - mean_d * mean_d);
  return {center + mean_d, 1.0 / std::sqrt(var + static_cast<double>(eps))};
}

// y = (x - mean) * rstd formed in double (so a large mean cancels exactly), rounded to f32,
// then the optional per-channel affine in f32: y * mul + add, or y * (1 + mul) + add for adaLN
// (1 + scale formed in f32 first, as the reference does).
template <bool Mul, bool Add, bool PlusOne>
inline void normalize_affine(const float* x, float* y, int64_t n, Moments m, const float* mul,
                             const float* add) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    float v = static_cast<float>((x[i] - m.mean) * m.rstd);
    if constexpr (Mul) v = v * (PlusOne ? 1.0f + mul[i] : mul[i]);
    if constexpr (Add) v += add[i];
    y[i] = v;
  }
}

DIFFUSE_VECTOR_CLONES void normalize_row(const float* x, float* y, int64_t n, Moments m, const float* mul,
                                         const float* add, bool plus_one) {
  if (mul != nullptr && add != nullptr) {
    if (plus_one) return normalize_affine<true, true, true>(x, y, n, m, mul, add);
    return normalize_affine<true, true, false>(x, y, n, m, mul, add);
  }
  if (mul != nullptr) {
    if (plus_one) return normalize_affine<true, false, true>(x, y, n, m, mul, add);
    return normalize_affine<true, false, false>(x, y, n, m, mul, add);
  }
  if (add != nullptr) return normalize_affine<false, true, false>(x, y, n, m, mul, add);
  return normalize_affine<false, false, false>(x, y, n, m, mul, add);
}

DIFFUSE_VECTOR_CLONES void scale_shift(float* y, int64_t n, float scale, float shift) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] * scale + shift;
}

const float* optional_vector(const Tensor* t, int64_t n, const char* op, const char* what,
                             Tensor& holder) {
  if (t == nullptr) return nullptr;
  holder = vector_as_f32(*t, n, op, what);
  return holder.data<float>();
}

void check_eps(float eps, const char* op) {
  DIFFUSE_CHECK(std::isfinite(eps) && eps >= 0, op, ": eps must be finite and >= 0, got ", eps);
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  const char* op = "layer_norm";
  check_f32(x, op, "x");
  check_contiguous(x, op, "x");
  DIFFUSE_CHECK(x.ndim() >= 1, op, ": x must have at least one dim");
  check_eps(eps, op);
  const int64_t c = x.dim(-1);
  const int64_t rows = c == 0 ? 0 : x.numel() / c;
  Tensor wh, bh;
  const float* w = optional_vector(weight, c, op, "weight", wh);
  const float* b = optional_vector(bias, c, op, "bias", bh);
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  const float* src = x.data<float>();
  float* dst = out.data_mut<float>();
  parallel_for(rows, rows_grain(c), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = src + r * c;
      normalize_row(xr, dst + r * c, c, moments(xr, c, eps), w, b, false);
    }
  });
  return out;
}

namespace {

// A modulation tensor ([B, C], [B, 1, C] or [B, S, C]) addressed per (batch, token).
struct Modulation {
  const float* base = nullptr;
  int64_t batch_stride = 0;
  int64_t token_stride = 0;  // 0 when broadcast over tokens

  const float* row(int64_t b, int64_t s) const { return base + b * batch_stride + s * token_stride; }
};

Modulation modulation(const Tensor* t, int64_t batch, int64_t tokens, int64_t channels,
                      const char* what) {
  const char* op = "layer_norm_modulate";
  Modulation m;
  if (t == nullptr) return m;
  check_f32(*t, op, what);
  const Shape& sh = t->shape();
  const bool per_batch = (t->ndim() == 2 && sh[0] == batch && sh[1] == channels) ||
                         (t->ndim() == 3 && sh[0] == batch && sh[1] == 1 && sh[2] == channels);
  const bool per_token = t->ndim() == 3 && sh[0] == batch && sh[1] == tokens && sh[2] == channels;
  DIFFUSE_CHECK(per_batch || per_token, op, ": ", what, " must be [", batch, ", ", channels, "], [",
                batch, ", 1, ", channels, "] or [", batch, ", ", tokens, ", ", channels, "], got ",
                shape_str(sh));
  DIFFUSE_CHECK(channels <= 1 || t->strides().back() == 1, op, ": ", what,
                " must be contiguous in its last dim");
  m.base = t->data<float>();
  m.batch_stride = t->strides()[0];
  m.token_stride = per_token && tokens > 1 ? t->strides()[1] : 0;
  return m;
}

}  // namespace

Tensor layer_norm_modulate(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps, DType out_dtype) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  const char* op = "layer_norm_modulate";
  check_f32(x, op, "x");
  check_contiguous(x, op, "x");
  check_rank(x, 3, op, "x");
  check_eps(eps, op);
  DIFFUSE_CHECK(out_dtype == DType::F32 || out_dtype == DType::BF16, op, ": output dtype must be F32 or BF16, not ",
                dtype_name(out_dtype));
  const int64_t batch = x.dim(0), tokens = x.dim(1), c = x.dim(2);
  const Modulation sh = modulation(shift, batch, tokens, c, "shift");
  const Modulation sc = modulation(scale, batch, tokens, c, "scale");
  Tensor out = Tensor::empty(x.shape(), out_dtype);
  const bool bf16 = out_dtype == DType::BF16;
  const float* src = x.data<float>();
  float* dst = bf16 ? nullptr : out.data_mut<float>();
  uint16_t* dst16 = bf16 ? out.data_mut<uint16_t>() : nullptr;
  parallel_for(batch * tokens, rows_grain(c), [&](int64_t begin, int64_t end) {
    std::vector<float> row(bf16 ? static_cast<size_t>(c) : 0);
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / tokens, s = r % tokens;
      const float* xr = src + r * c;
      const float* k = sc.base != nullptr ? sc.row(b, s) : nullptr;
      const float* a = sh.base != nullptr ? sh.row(b, s) : nullptr;
      normalize_row(xr, bf16 ? row.data() : dst + r * c, c, moments(xr, c, eps), k, a, true);
      if (bf16) f32_to_bf16(row.data(), dst16 + r * c, static_cast<size_t>(c));
    }
  });
  return out;
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor* weight, const Tensor* bias,
                  float eps, bool fuse_silu) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  const char* op = "group_norm";
  check_f32(x, op, "x");
  check_contiguous(x, op, "x");
  DIFFUSE_CHECK(x.ndim() >= 2, op, ": x must be [N, C, ...], got ", shape_str(x.shape()));
  check_eps(eps, op);
  const int64_t n = x.dim(0), c = x.dim(1);
  DIFFUSE_CHECK(groups > 0 && c % groups == 0, op, ": ", c, " channels are not divisible into ",
                groups, " groups");
  const int64_t spatial = n * c == 0 ? 0 : x.numel() / (n * c);
  const int64_t per_group = c / groups;
  Tensor wh, bh;
  const float* w = optional_vector(weight, c, op, "weight", wh);
  const float* b = optional_vector(bias, c, op, "bias", bh);
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  const float* src = x.data<float>();
  float* dst = out.data_mut<float>();
  const int64_t group_size = per_group * spatial;
  parallel_for(n * groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t ng = begin; ng < end; ++ng) {
      const float* xg = src + ng * group_size;
      float* yg = dst + ng * group_size;
      normalize_row(xg, yg, group_size, moments(xg, group_size, eps), nullptr, nullptr, false);
      const int64_t c0 = (ng % groups) * per_group;
      for (int64_t ci = 0; ci < per_group; ++ci) {
        float* y = yg + ci * spatial;
        const float wc = w != nullptr ? w[c0 + ci] : 1.0f;
        const float bc = b != nullptr ? b[c0 + ci] : 0.0f;
        if (w != nullptr || b != nullptr) scale_shift(y, spatial, wc, bc);
        if (fuse_silu) apply_activation(y, spatial, Activation::Silu);
      }
    }
  });
  return out;
}

// ---- RMSNorm ---------------------------------------------------------------------------

namespace {

bool is_half(DType t) { return t == DType::BF16 || t == DType::F16; }

// Rounds an f32 value to `T` and back (identity for F32).
template <DType T>
inline float round_as(float v) {
  if constexpr (T == DType::BF16) return bf16_to_f32(f32_to_bf16(v));
  if constexpr (T == DType::F16) return f16_to_f32(f32_to_f16(v));
  return v;
}

// Where a flavour rounds: `normalized` is applied to y = x * r, `output` to the product with
// the weight.
struct RmsCasts {
  DType normalized = DType::F32;
  DType output = DType::F32;
};

RmsCasts rms_casts(RmsNormFlavor flavor, DType input, DType weight, bool has_weight) {
  const DType promoted = input == weight ? input : DType::F32;
  switch (flavor) {
    case RmsNormFlavor::Diffusers:
      if (!has_weight) return {input, DType::F32};
      if (is_half(weight)) return {weight, weight};
      return {DType::F32, DType::F32};
    case RmsNormFlavor::Torch:
      return {DType::F32, input};
    case RmsNormFlavor::HfLlm:
      return {input, has_weight ? promoted : DType::F32};
  }
  return {};
}

template <DType RN, DType RO>
void rms_rows(const Tensor& x, const Rows& in_rows, float* out, bool out_contiguous,
              const Rows* out_rows, const float* w, float eps) {
  const float* src = static_cast<const float*>(x.raw());
  const int64_t d = in_rows.width();
  parallel_for(in_rows.count(), rows_grain(d), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = src + in_rows.offset(r);
      float* yr = out + (out_contiguous ? r * d : out_rows->offset(r));
      double unused = 0, sq = 0;
      sums(xr, d, 0.0, &unused, &sq);
      // The reference forms the mean of squares and rsqrt(var + eps) in fp32.
      const float var = static_cast<float>(sq / static_cast<double>(d));
      const float rs = 1.0f / std::sqrt(var + eps);
      if (w != nullptr) {
        for (int64_t i = 0; i < d; ++i) yr[i] = round_as<RO>(round_as<RN>(xr[i] * rs) * w[i]);
      } else {
        for (int64_t i = 0; i < d; ++i) yr[i] = round_as<RO>(round_as<RN>(xr[i] * rs));
      }
    }
  });
}

template <DType RN>
void rms_dispatch_output(DType ro, const Tensor& x, const Rows& in_rows, float* out,
                         bool out_contiguous, const Rows* out_rows, const float* w, float eps) {
  switch (ro) {
    case DType::BF16: return rms_rows<RN, DType::BF16>(x, in_rows, out, out_contiguous, out_rows, w, eps);
    case DType::F16: return rms_rows<RN, DType::F16>(x, in_rows, out, out_contiguous, out_rows, w, eps);
    default: return rms_rows<RN, DType::F32>(x, in_rows, out, out_contiguous, out_rows, w, eps);
  }
}

void rms_norm_into(const Tensor& x, const Tensor* weight, const RmsNormOptions& o, float* out,
                   bool out_contiguous, const Rows* out_rows, const char* op) {
  check_f32(x, op, "x");
  const Rows in_rows(x, op, "x");
  const float eps = o.eps.value_or(FLT_EPSILON);
  check_eps(eps, op);
  const DType in_t = o.reference_input_dtype;
  DIFFUSE_CHECK(in_t == DType::F32 || is_half(in_t), op, ": reference_input_dtype must be F32, BF16 or F16");
  Tensor wh;
  const float* w = optional_vector(weight, in_rows.width(), op, "weight", wh);
  const DType w_t = o.reference_weight_dtype.value_or(weight != nullptr ? weight->dtype() : DType::F32);
  DIFFUSE_CHECK(w_t == DType::F32 || is_half(w_t), op, ": reference_weight_dtype must be F32, BF16 or F16");
  const RmsCasts casts = rms_casts(o.flavor, in_t, w_t, w != nullptr);
  switch (casts.normalized) {
    case DType::BF16:
      return rms_dispatch_output<DType::BF16>(casts.output, x, in_rows, out, out_contiguous, out_rows, w, eps);
    case DType::F16:
      return rms_dispatch_output<DType::F16>(casts.output, x, in_rows, out, out_contiguous, out_rows, w, eps);
    default:
      return rms_dispatch_output<DType::F32>(casts.output, x, in_rows, out, out_contiguous, out_rows, w, eps);
  }
}

}  // namespace

Tensor rms_norm(const Tensor& x, const Tensor* weight, const RmsNormOptions& options) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  check_f32(x, "rms_norm", "x");
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  rms_norm_into(x, weight, options, out.data_mut<float>(), true, nullptr, "rms_norm");
  return out;
}

void rms_norm_inplace(Tensor& x, const Tensor* weight, const RmsNormOptions& options) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  const char* op = "rms_norm_inplace";
  check_f32(x, op, "x");
  check_writable(x, op, "x");
  const Rows rows(x, op, "x");
  // Each row is read completely (sum of squares) before it is written, so aliasing is safe.
  float* base = x.data_mut<float>();
  rms_norm_into(x, weight, options, base, false, &rows, op);
}

// ---- Channel RMSNorm (causal-VAE norm) -------------------------------------------------

Tensor channel_rms_norm(const Tensor& x, const Tensor* gamma, const Tensor* bias, bool fuse_silu) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  const char* op = "channel_rms_norm";
  check_f32(x, op, "x");
  check_contiguous(x, op, "x");
  DIFFUSE_CHECK(x.ndim() >= 2, op, ": x must be [N, C, ...], got ", shape_str(x.shape()));
  const int64_t n = x.dim(0), c = x.dim(1);
  const int64_t positions = n * c == 0 ? 0 : x.numel() / (n * c);
  Tensor gh, bh;
  const float* g = optional_vector(gamma, c, op, "gamma", gh);
  const float* b = optional_vector(bias, c, op, "bias", bh);
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  if (out.numel() == 0) return out;
  const float* src = x.data<float>();
  float* dst = out.data_mut<float>();
  const float sqrt_c = static_cast<float>(std::sqrt(static_cast<double>(c)));
  // Channels are `positions` apart, so each task takes a run of positions and walks the
  // channels twice (sum of squares, then scale): unit-stride inner loops, and the run of one
  // image (C x kChunk floats) stays in cache between the two walks.
  constexpr int64_t kChunk = 256;
  const int64_t chunks = (positions + kChunk - 1) / kChunk;
  parallel_for(n * chunks, 1, [&](int64_t begin, int64_t end) {
    double sum_sq[kChunk];
    float inv[kChunk];
    for (int64_t task = begin; task < end; ++task) {
      const int64_t img = task / chunks, p0 = (task % chunks) * kChunk;
      const int64_t len = std::min(kChunk, positions - p0);
      const float* xs = src + img * c * positions + p0;
      float* ys = dst + img * c * positions + p0;
      std::fill(sum_sq, sum_sq + len, 0.0);
      for (int64_t ci = 0; ci < c; ++ci) {
        const float* row = xs + ci * positions;
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) sum_sq[i] += static_cast<double>(row[i]) * row[i];
      }
      // F.normalize divides by the norm clamped below at 1e-12.
      for (int64_t i = 0; i < len; ++i) inv[i] = static_cast<float>(1.0 / std::max(std::sqrt(sum_sq[i]), 1e-12));
      for (int64_t ci = 0; ci < c; ++ci) {
        const float* row = xs + ci * positions;
        float* y = ys + ci * positions;
        const float scale = g != nullptr ? sqrt_c * g[ci] : sqrt_c;
        const float shift = b != nullptr ? b[ci] : 0.0f;
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) y[i] = row[i] * inv[i] * scale + shift;
        if (fuse_silu) apply_activation(y, len, Activation::Silu);
      }
    }
  });
  return out;
}

}  // namespace diffuse::ops
