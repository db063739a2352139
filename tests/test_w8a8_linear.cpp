// W8A8 Linear (int8 weights x per-token int8 activations, ops/w8a8_linear.h) against a naive
// reference written from the definition: activations quantized per row, exact integer dot
// products, then (acc * sw[n]) * sx[m] + b[n] in f32 and the epilogue in double.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ops/linear.h"
#include "ops/reference/activation_ref.h"
#include "ops/w8a8_linear.h"
#include "random_tensor.h"
#include "tensor/half.h"

namespace diffuse::ops {
namespace {

using testing::compare;
using testing::random_tensor;

struct RefTokens {
  std::vector<int8_t> values;  // rows x K
  std::vector<float> scales;   // rows
};

// Rows of x (any shape [..., K], any dtype) quantized symmetric per row.
RefTokens ref_quantize_tokens(const Tensor& x) {
  const std::vector<float> v = x.to_f32_vector();
  const int64_t k = x.dim(-1), rows = x.numel() / k;
  RefTokens t{std::vector<int8_t>(v.size()), std::vector<float>(static_cast<size_t>(rows))};
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0.f;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(v[r * k + i]));
    t.scales[r] = amax / 127.f;
    for (int64_t i = 0; i < k; ++i) {
      const float q = amax == 0.f ? 0.f : std::nearbyint(v[r * k + i] * (127.f / amax));
      t.values[r * k + i] = static_cast<int8_t>(std::max(-127.f, std::min(127.f, q)));
    }
  }
  return t;
}

// The W8A8 Linear output with the epilogue, f32 [..., N].
Tensor ref_w8a8(const Tensor& x, const QuantizedWeight& q, const Tensor* bias, const Epilogue& e = {}) {
  const RefTokens t = ref_quantize_tokens(x);
  const int64_t k = q.in_features, n = q.out_features, m = x.numel() / k;
  const int8_t* w = q.values.data<int8_t>();
  const float* sw = q.scales.data<float>();
  const std::vector<float> b = bias ? bias->to_f32_vector() : std::vector<float>();
  const std::vector<float> gate = e.gate.defined() ? e.gate.to_f32_vector() : std::vector<float>();
  const std::vector<float> res = e.residual.defined() ? e.residual.to_f32_vector() : std::vector<float>();
  const int64_t groups = gate.empty() ? 1 : static_cast<int64_t>(gate.size()) / n;
  Shape shape = x.shape();
  shape.back() = n;
  std::vector<float> out(static_cast<size_t>(m * n));
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < n; ++c) {
      int64_t acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += int64_t{t.values[r * k + i]} * int64_t{w[c * k + i]};
      float y = static_cast<float>(acc) * sw[c] * t.scales[r];
      if (bias) y += b[c];
      double v = ref::activation(y, e.activation);
      if (!gate.empty()) v *= gate[(groups == 1 ? 0 : r / (m / groups)) * n + c];
      if (!res.empty()) v += res[r * n + c];
      out[r * n + c] = static_cast<float>(v);
    }
  }
  return Tensor::from_f32(shape, out);
}

void expect_close(const Tensor& got, const Tensor& want, double tol) {
  const auto d = compare(got, want);
  EXPECT_LE(d.rel(), tol) << "max abs " << d.max_abs << " of max " << d.max_ref;
}

TEST(W8A8QuantizeTokens, MatchesDefinition) {
  // Odd widths exercise the 16-lane tails; bf16 and a strided view are read in place.
  for (int64_t k : {1, 5, 16, 33, 300}) {
    for (DType dt : {DType::F32, DType::BF16}) {
      SCOPED_TRACE(::testing::Message() << "k " << k << " " << dtype_name(dt));
      std::vector<float> v = random_tensor({7, k}, static_cast<uint32_t>(k), 2.f).to_f32_vector();
      for (int64_t i = 0; i < k; ++i) v[2 * k + i] = 0.f;  // row 2 all zero
      const Tensor x = Tensor::from_f32({7, k}, v).to(dt);
      const RefTokens want = ref_quantize_tokens(x);
      std::vector<int8_t> values(static_cast<size_t>(7 * k));
      std::vector<float> scales(7);
      quantize_per_token(x, values.data(), scales.data());
      EXPECT_EQ(values, want.values);
      EXPECT_EQ(scales, want.scales);
      EXPECT_EQ(scales[2], 0.f);
      // Every row's largest magnitude maps to +-127.
      for (int r = 0; r < 7; ++r) {
        if (r == 2) continue;
        int mx = 0;
        for (int64_t i = 0; i < k; ++i) mx = std::max(mx, std::abs(int{values[r * k + i]}));
        EXPECT_EQ(mx, 127);
      }
    }
  }
}

TEST(W8A8QuantizeTokens, RoundsHalfToEvenAndReadsStridedRows) {
  // Row max 127 makes the scale exactly 1, so x * 127 / 127 keeps the ties .5 exact.
  const Tensor x = Tensor::from_f32({1, 6}, {127.f, 0.5f, 1.5f, 2.5f, -0.5f, -3.5f});
  std::vector<int8_t> v(6);
  float s = 0;
  quantize_per_token(x, v.data(), &s);
  EXPECT_EQ(s, 1.f);
  EXPECT_EQ(v, (std::vector<int8_t>{127, 0, 2, 2, 0, -4}));
  // A column slice of a wider buffer: rows are read with their stride.
  const Tensor wide = random_tensor({4, 40}, 3);
  const Tensor view = wide.slice(1, 3, 38);
  const RefTokens want = ref_quantize_tokens(view.contiguous());
  std::vector<int8_t> values(4 * 35);
  std::vector<float> scales(4);
  quantize_per_token(view, values.data(), scales.data());
  EXPECT_EQ(values, want.values);
  EXPECT_EQ(scales, want.scales);
}

TEST(W8A8QuantizeTokens, NonFiniteRowGivesNaNScale) {
  const float inf = INFINITY;
  for (int64_t k : {3, 20}) {
    std::vector<float> v(static_cast<size_t>(2 * k), 1.f);
    v[1] = inf;
    v[k + 2] = NAN;
    std::vector<int8_t> values(static_cast<size_t>(2 * k), 5);
    std::vector<float> scales(2);
    quantize_per_token(Tensor::from_f32({2, k}, v), values.data(), scales.data());
    EXPECT_TRUE(std::isnan(scales[0]));
    EXPECT_TRUE(std::isnan(scales[1]));
    for (int8_t q : values) EXPECT_EQ(q, 0);
  }
}

TEST(W8A8Linear, MatchesIntegerReferenceOnOddShapes) {
  for (int64_t k : {3, 64, 100, 257}) {
    for (int64_t n : {1, 17, 130}) {
      const Tensor w = random_tensor({n, k}, static_cast<uint32_t>(k * 7 + n), 0.05f, DType::BF16);
      const Tensor b = random_tensor({n}, 2);
      const QuantizedWeight q = quantize_int8_per_channel(w);
      for (bool prepack : {true, false}) {
        for (bool with_bias : {true, false}) {
          const Linear lin(q, with_bias ? &b : nullptr, DType::I8, LinearOptions{.prepack = prepack});
          EXPECT_EQ(lin.gemm_dtype(), DType::I8);
          ASSERT_NE(lin.quantized_weight(), nullptr);
          for (int64_t m : {1, 7, 33}) {
            for (DType xt : {DType::F32, DType::BF16}) {
              SCOPED_TRACE(::testing::Message() << "m " << m << " k " << k << " n " << n << " prepack " << prepack
                                                << " bias " << with_bias << " x " << dtype_name(xt));
              const Tensor x = random_tensor({m, k}, static_cast<uint32_t>(m + 100), 1.f, xt);
              expect_close(lin.forward(x), ref_w8a8(x, q, with_bias ? &b : nullptr), 2e-6);
            }
          }
        }
      }
    }
  }
}

TEST(W8A8Linear, AllEpilogues) {
  const int64_t k = 192, n = 72;
  const Tensor w = random_tensor({n, k}, 3, 0.05f, DType::BF16);
  const Tensor b = random_tensor({n}, 4);
  const QuantizedWeight q = quantize_int8_per_channel(w);
  const Linear lin(q, &b, DType::I8);
  const Tensor x = random_tensor({2, 9, k}, 5);
  for (Activation a : {Activation::Identity, Activation::GeluTanh, Activation::GeluErf, Activation::Silu,
                       Activation::QuickGelu}) {
    SCOPED_TRACE(activation_name(a));
    expect_close(lin.forward(x, {.activation = a}), ref_w8a8(x, q, &b, {.activation = a}), 1e-5);
  }
  // Per-batch gate, broadcast gate, separate residual (post-op add).
  const Tensor gate = random_tensor({2, n}, 6);
  const Tensor gate1 = random_tensor({n}, 16, 1.f, DType::BF16);
  const Tensor res = random_tensor({2, 9, n}, 7);
  for (const Tensor& g : {gate, gate1}) {
    const Epilogue e{.activation = Activation::GeluTanh, .gate = g, .residual = res};
    expect_close(lin.forward(x, e), ref_w8a8(x, q, &b, e), 1e-5);
  }
  // In-place residual: h += gate * (x W^T + b).
  Tensor h = random_tensor({2, 9, n}, 8);
  const Tensor want = ref_w8a8(x, q, &b, {.gate = gate, .residual = h.clone()});
  lin.forward_into(x, h, {.gate = gate, .residual = h});
  expect_close(h, want, 1e-5);
  // Strided output: a column slice of a wider buffer, others untouched; also with a residual.
  Tensor buf = random_tensor({2, 9, 100}, 9);
  const Tensor before = buf.clone();
  Tensor mid = buf.slice(2, 10, 10 + n);
  lin.forward_into(x, mid, {.activation = Activation::Silu});
  expect_close(mid, ref_w8a8(x, q, &b, {.activation = Activation::Silu}), 1e-5);
  EXPECT_EQ(compare(buf.slice(2, 0, 10), before.slice(2, 0, 10)).max_abs, 0.0);
  EXPECT_EQ(compare(buf.slice(2, 10 + n, 100), before.slice(2, 10 + n, 100)).max_abs, 0.0);
  const Tensor res2 = random_tensor({2, 9, n}, 10);
  lin.forward_into(x, mid, {.gate = gate, .residual = res2});
  expect_close(mid, ref_w8a8(x, q, &b, {.gate = gate, .residual = res2}), 1e-5);
  // A strided input (column slice) is quantized from its rows in place.
  const Tensor xw = random_tensor({5, k + 20}, 11);
  const Tensor xs = xw.slice(1, 7, 7 + k);
  expect_close(lin.forward(xs), ref_w8a8(xs.contiguous(), q, &b), 1e-5);
}

TEST(W8A8Linear, ZeroAndNonFiniteTokens) {
  const Tensor w = random_tensor({40, 64}, 12, 0.05f, DType::BF16);
  const Tensor b = random_tensor({40}, 13);
  const Linear lin(quantize_int8_per_channel(w), &b, DType::I8);
  Tensor x = random_tensor({3, 64}, 14);
  x.select(0, 1).copy_from(Tensor::zeros({64}, DType::F32));
  x.data_mut<float>()[2 * 64 + 5] = NAN;
  const Tensor y = lin.forward(x);
  // A zero token gives exactly the bias; a NaN token gives NaN rather than a finite guess.
  expect_close(y.select(0, 1), b, 0.0);
  for (int64_t c = 0; c < 40; ++c) EXPECT_TRUE(std::isnan(y.data<float>()[2 * 40 + c]));
  for (int64_t c = 0; c < 40; ++c) EXPECT_TRUE(std::isfinite(y.data<float>()[c]));
}

TEST(W8A8Linear, CloseToBf16AtRealWidth) {
  // Random weights at FLUX width: quantization error only, cosine vs the bf16 GEMM well above
  // the 0.995 block target.
  const Tensor w = random_tensor({3072, 3072}, 15, 0.02f, DType::BF16);
  const Tensor b = random_tensor({3072}, 16, 0.1f);
  const Tensor x = random_tensor({64, 3072}, 17);
  const Tensor want = Linear(w, &b).forward(x);
  const Tensor got = Linear(quantize_int8_per_channel(w), &b, DType::I8).forward(x);
  EXPECT_GE(compare(got, want).cosine, 0.9995);
}

TEST(W8A8Linear, RejectsAffineWeightsAndBadInputs) {
  const Tensor w = random_tensor({8, 64}, 18);
  EXPECT_THROW(Linear(quantize_affine(w, 4, 64), nullptr, DType::I8), Error);
  const Linear lin(quantize_int8_per_channel(w), nullptr, DType::I8);
  EXPECT_THROW(lin.forward(random_tensor({3, 63}, 19)), Error);
  const Tensor bad_bias = random_tensor({7}, 20);
  EXPECT_THROW(Linear(quantize_int8_per_channel(w), &bad_bias, DType::I8), Error);
}

}  // namespace
}  // namespace diffuse::ops
