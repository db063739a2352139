#include "ops/reference/activation_ref.h"

#include <cmath>
#include <numbers>
#include <vector>

namespace diffuse::ops::ref {
namespace {

std::vector<double> values(const Tensor& t) {
  const Tensor c = t.contiguous();
  const float* p = c.data<float>();
  return std::vector<double>(p, p + c.numel());
}

Tensor from_values(const Shape& shape, const std::vector<double>& v) {
  return Tensor::from_f32(shape, std::vector<float>(v.begin(), v.end()));
}

}  // namespace

double activation(double x, Activation act) {
  switch (act) {
    case Activation::Identity: return x;
    case Activation::GeluErf: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::GeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
    case Activation::Silu: return x / (1.0 + std::exp(-x));
    case Activation::QuickGelu: return x / (1.0 + std::exp(-1.702 * x));
  }
  return 0;
}

Tensor activation(const Tensor& x, Activation act) {
  std::vector<double> v = values(x);
  for (double& e : v) e = activation(e, act);
  return from_values(x.shape(), v);
}

Tensor gated(const Tensor& x, Activation act, GatedHalves halves) {
  const std::vector<double> v = values(x);
  const int64_t w = x.dim(-1), f = w / 2, rows = x.numel() / w;
  Shape shape = x.shape();
  shape.back() = f;
  std::vector<double> out(rows * f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < f; ++i) {
      const double first = v[r * w + i], second = v[r * w + f + i];
      out[r * f + i] = halves == GatedHalves::ValueGate ? first * activation(second, act)
                                                        : activation(first, act) * second;
    }
  }
  return from_values(shape, out);
}

Tensor gated(Activation act, const Tensor& gate, const Tensor& up) {
  const std::vector<double> g = values(gate), u = values(up);
  std::vector<double> out(g.size());
  for (size_t i = 0; i < g.size(); ++i) out[i] = activation(g[i], act) * u[i];
  return from_values(gate.shape(), out);
}

namespace {

Tensor softmax_impl(const Tensor& x, bool log) {
  const std::vector<double> v = values(x);
  const int64_t w = x.dim(-1), rows = w == 0 ? 0 : x.numel() / w;
  std::vector<double> out(v.size());
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = v.data() + r * w;
    double m = -INFINITY;
    for (int64_t i = 0; i < w; ++i) m = std::fmax(m, row[i]);
    if (m == -INFINITY) {
      for (int64_t i = 0; i < w; ++i) out[r * w + i] = log ? -INFINITY : 0.0;
      continue;
    }
    double sum = 0;
    for (int64_t i = 0; i < w; ++i) sum += std::exp(row[i] - m);
    for (int64_t i = 0; i < w; ++i) {
      out[r * w + i] = log ? row[i] - m - std::log(sum) : std::exp(row[i] - m) / sum;
    }
  }
  return from_values(x.shape(), out);
}

}  // namespace

Tensor softmax(const Tensor& x) { return softmax_impl(x, false); }
Tensor log_softmax(const Tensor& x) { return softmax_impl(x, true); }

}  // namespace diffuse::ops::ref
