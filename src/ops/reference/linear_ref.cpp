#include "ops/reference/linear_ref.h"

#include <cmath>
#include <vector>

#include "tensor/half.h"

namespace diffuse::ops::ref {

namespace {

// Activations in double, from their textbook definitions.
double activation_in_double(Activation act, double x) {
  switch (act) {
    case Activation::Identity: return x;
    case Activation::QuickGelu: return x / (1.0 + std::exp(-1.702 * x));
    case Activation::GeluErf: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::GeluTanh: {
      const double c = std::sqrt(2.0 / M_PI);
      return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
    }
    case Activation::Silu: return x / (1.0 + std::exp(-x));
  }
  return x;
}

}  // namespace

Tensor linear_ref(const Tensor& x, const Tensor& weight, const Tensor* bias, const Epilogue& e) {
  const int64_t n = weight.dim(0), k = weight.dim(1);
  DIFFUSE_CHECK(x.dim(-1) == k, "linear_ref: shape mismatch");
  std::vector<float> xs = x.to_f32_vector();
  if (weight.dtype() == DType::BF16)
    for (float& v : xs) v = bf16_to_f32(f32_to_bf16(v));
  const std::vector<float> w = weight.to_f32_vector();
  const std::vector<float> b = bias ? bias->to_f32_vector() : std::vector<float>(n, 0.f);
  const std::vector<float> gate = e.gate.defined() ? e.gate.to_f32_vector() : std::vector<float>();
  const std::vector<float> res = e.residual.defined() ? e.residual.to_f32_vector() : std::vector<float>();
  const int64_t m = x.numel() / k;
  const int64_t groups = gate.empty() ? 1 : static_cast<int64_t>(gate.size()) / n;
  Shape shape = x.shape();
  shape.back() = n;
  Tensor out = Tensor::empty(shape, DType::F32);
  float* o = out.data_mut<float>();
  for (int64_t i = 0; i < m; ++i) {
    const int64_t g = groups == 1 ? 0 : i / (m / groups);
    for (int64_t j = 0; j < n; ++j) {
      double s = b[j];
      for (int64_t t = 0; t < k; ++t) s += double(xs[i * k + t]) * double(w[j * k + t]);
      s = activation_in_double(e.activation, s);
      if (!gate.empty()) s *= gate[g * n + j];
      if (!res.empty()) s += res[i * n + j];
      o[i * n + j] = static_cast<float>(s);
    }
  }
  return out;
}

Tensor matmul_ref(const Tensor& a, const Tensor& b) {
  const int64_t m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
  DIFFUSE_CHECK(b.dim(-2) == k, "matmul_ref: shape mismatch");
  const int nb = std::max(a.ndim(), b.ndim()) - 2;
  Shape batch(nb);
  auto dim_of = [&](const Tensor& t, int i) {  // batch dim i of the right-aligned shape
    const int j = i - (nb - (t.ndim() - 2));
    return j >= 0 ? t.shape()[j] : int64_t{1};
  };
  for (int i = 0; i < nb; ++i) batch[i] = std::max(dim_of(a, i), dim_of(b, i));
  Shape shape = batch;
  shape.push_back(m);
  shape.push_back(n);
  Tensor out = Tensor::empty(shape, DType::F32);
  float* o = out.data_mut<float>();
  const int64_t nbatch = shape_numel(batch);
  std::vector<int64_t> ia(a.ndim()), ib(b.ndim());
  for (int64_t ob = 0; ob < nbatch; ++ob) {
    int64_t rest = ob;
    for (int i = nb; i-- > 0;) {
      const int64_t idx = rest % batch[i];
      rest /= batch[i];
      const int ja = i - (nb - (a.ndim() - 2)), jb = i - (nb - (b.ndim() - 2));
      if (ja >= 0) ia[ja] = a.shape()[ja] == 1 ? 0 : idx;
      if (jb >= 0) ib[jb] = b.shape()[jb] == 1 ? 0 : idx;
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t t = 0; t < k; ++t) {
          ia[a.ndim() - 2] = i;
          ia[a.ndim() - 1] = t;
          ib[b.ndim() - 2] = t;
          ib[b.ndim() - 1] = j;
          s += a.item(ia) * b.item(ib);
        }
        o[(ob * m + i) * n + j] = static_cast<float>(s);
      }
  }
  return out;
}

}  // namespace diffuse::ops::ref
