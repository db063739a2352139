#include "ops/reference/norm_ref.h"

#include <cfloat>
#include <cmath>
#include <vector>

#include "tensor/half.h"

namespace diffuse::ops::ref {
namespace {

// All elements of a tensor in row-major order, as double.
std::vector<double> values(const Tensor& t) {
  const Tensor c = t.contiguous().to(DType::F32);
  const float* p = c.data<float>();
  return std::vector<double>(p, p + c.numel());
}

Tensor from_values(const Shape& shape, const std::vector<double>& v) {
  std::vector<float> f(v.begin(), v.end());
  return Tensor::from_f32(shape, f);
}

double at_or(const std::vector<double>* v, int64_t i, double fallback) {
  return v != nullptr ? (*v)[i] : fallback;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) {
  const std::vector<double> xv = values(x);
  const std::vector<double> wv = weight ? values(*weight) : std::vector<double>();
  const std::vector<double> bv = bias ? values(*bias) : std::vector<double>();
  const int64_t c = x.dim(-1), rows = x.numel() / c;
  std::vector<double> out(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < c; ++i) mean += xv[r * c + i];
    mean /= c;
    for (int64_t i = 0; i < c; ++i) var += (xv[r * c + i] - mean) * (xv[r * c + i] - mean);
    var /= c;
    for (int64_t i = 0; i < c; ++i) {
      const double y = (xv[r * c + i] - mean) / std::sqrt(var + eps);
      out[r * c + i] = y * at_or(weight ? &wv : nullptr, i, 1.0) + at_or(bias ? &bv : nullptr, i, 0.0);
    }
  }
  return from_values(x.shape(), out);
}

Tensor layer_norm_modulate(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps) {
  const Tensor n = layer_norm(x, nullptr, nullptr, eps);
  const int64_t b = x.dim(0), s = x.dim(1), c = x.dim(2);
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  float* o = out.data_mut<float>();
  // [B, C] / [B, 1, C] / [B, S, C] modulation read through item().
  auto mod = [&](const Tensor* t, int64_t bi, int64_t si, int64_t ci, double fallback) -> double {
    if (t == nullptr) return fallback;
    if (t->ndim() == 2) return t->item({bi, ci});
    return t->item({bi, t->dim(1) == 1 ? 0 : si, ci});
  };
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t si = 0; si < s; ++si) {
      for (int64_t ci = 0; ci < c; ++ci) {
        const double v = n.item({bi, si, ci}) * (1.0 + mod(scale, bi, si, ci, 0.0)) + mod(shift, bi, si, ci, 0.0);
        o[(bi * s + si) * c + ci] = static_cast<float>(v);
      }
    }
  }
  return out;
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor* weight, const Tensor* bias, float eps,
                  bool fuse_silu) {
  const std::vector<double> xv = values(x);
  const int64_t n = x.dim(0), c = x.dim(1), spatial = x.numel() / (n * c), cg = c / groups;
  std::vector<double> out(xv.size());
  for (int64_t ni = 0; ni < n; ++ni) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t begin = (ni * c + g * cg) * spatial, count = cg * spatial;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < count; ++i) mean += xv[begin + i];
      mean /= count;
      for (int64_t i = 0; i < count; ++i) var += (xv[begin + i] - mean) * (xv[begin + i] - mean);
      var /= count;
      for (int64_t i = 0; i < count; ++i) {
        const int64_t ch = g * cg + i / spatial;
        double y = (xv[begin + i] - mean) / std::sqrt(var + eps);
        if (weight) y *= weight->item({ch});
        if (bias) y += bias->item({ch});
        if (fuse_silu) y = y / (1.0 + std::exp(-y));
        out[begin + i] = y;
      }
    }
  }
  return from_values(x.shape(), out);
}

namespace {

float round_to(float v, DType t) {
  if (t == DType::BF16) return bf16_to_f32(f32_to_bf16(v));
  if (t == DType::F16) return f16_to_f32(f32_to_f16(v));
  return v;
}

DType promote(DType a, DType b) { return a == b ? a : DType::F32; }

}  // namespace

Tensor rms_norm(const Tensor& x, const Tensor* weight, const RmsNormOptions& o) {
  const std::vector<double> xv = values(x);
  const int64_t d = x.dim(-1), rows = x.numel() / d;
  const DType in_t = o.reference_input_dtype;
  const DType w_t = o.reference_weight_dtype.value_or(weight ? weight->dtype() : DType::F32);
  const float eps = o.eps.value_or(FLT_EPSILON);
  std::vector<double> out(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    // Every flavour: variance = mean(x^2) as an fp32 tensor; r = rsqrt(variance + eps) in fp32.
    double sq = 0;
    for (int64_t i = 0; i < d; ++i) sq += xv[r * d + i] * xv[r * d + i];
    const float variance = static_cast<float>(sq / d);
    const float rs = 1.0f / std::sqrt(variance + eps);
    for (int64_t i = 0; i < d; ++i) {
      const float h = static_cast<float>(xv[r * d + i]) * rs;
      const float w = weight ? static_cast<float>(weight->item({i})) : 1.0f;
      float y = 0;
      switch (o.flavor) {
        case RmsNormFlavor::Diffusers:
          // if weight is not None: (cast to weight dtype if half) then * weight; else .to(input_dtype)
          if (weight == nullptr) {
            y = round_to(h, in_t);
          } else if (w_t == DType::BF16 || w_t == DType::F16) {
            y = round_to(round_to(h, w_t) * w, w_t);
          } else {
            y = h * w;
          }
          break;
        case RmsNormFlavor::Torch:
          // upcasted_result = x * rsqrt(...) [* weight]; result.type_as(input)
          y = round_to(weight ? h * w : h, in_t);
          break;
        case RmsNormFlavor::HfLlm:
          // weight * hidden_states.to(input_dtype)
          y = round_to(h, in_t);
          if (weight) y = round_to(w * y, promote(w_t, in_t));
          break;
      }
      out[r * d + i] = y;
    }
  }
  return from_values(x.shape(), out);
}

}  // namespace diffuse::ops::ref
