#include <gtest/gtest.h>

#include <cmath>

#include "ops/activation.h"
#include "ops/reference/activation_ref.h"
#include "random_tensor.h"

namespace diffuse {
namespace {

using ops::Activation;
using ops::GatedHalves;
using testing::compare;
using testing::random_tensor;

const Activation kAll[] = {Activation::GeluErf, Activation::GeluTanh, Activation::Silu, Activation::QuickGelu};

// Worst |got - exact| / max(1, |x|) over the elements of x.
double worst_error(const Tensor& x, const Tensor& got, Activation act) {
  const std::vector<float> xv = x.contiguous().to_f32_vector(), g = got.to_f32_vector();
  double worst = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const double want = ops::ref::activation(double(xv[i]), act);
    worst = std::max(worst, std::fabs(g[i] - want) / std::max(1.0, std::fabs(double(xv[i]))));
  }
  return worst;
}

TEST(Activation, HandComputedValues) {
  const Tensor x = Tensor::from_f32({4}, {1.0f, -1.0f, 0.0f, 3.0f});
  // gelu(1) = 0.5 (1 + erf(1/sqrt 2)) = 0.841344746; gelu(-1) = -0.158655254; gelu(3) = 2.995950
  const std::vector<float> ge = ops::gelu_erf(x).to_f32_vector();
  EXPECT_NEAR(ge[0], 0.8413447461f, 2e-7);
  EXPECT_NEAR(ge[1], -0.1586552539f, 2e-7);
  EXPECT_EQ(ge[2], 0.0f);
  EXPECT_NEAR(ge[3], 2.9959502f, 5e-7);
  // tanh form: 0.5 * (1 + tanh(0.7978845608 * 1.044715)) = 0.841191990
  const std::vector<float> gt = ops::gelu_tanh(x).to_f32_vector();
  EXPECT_NEAR(gt[0], 0.8411919906f, 2e-7);
  EXPECT_NEAR(gt[1], -0.1588080094f, 2e-7);
  // silu(1) = 1 / (1 + e^-1) = 0.731058579
  const std::vector<float> si = ops::silu(x).to_f32_vector();
  EXPECT_NEAR(si[0], 0.7310585786f, 2e-7);
  EXPECT_NEAR(si[1], -0.2689414214f, 2e-7);
  // quick gelu(1) = sigmoid(1.702) = 0.845795
  EXPECT_NEAR(ops::activation(x, Activation::QuickGelu).to_f32_vector()[0], 0.8457957f, 2e-7);
}

TEST(Activation, MatchesExactMathOverWideRange) {
  std::vector<float> v;
  for (float t = -30.0f; t <= 30.0f; t += 0.00731f) v.push_back(t);
  for (float t : {-1e4f, -100.0f, -88.5f, -87.0f, 1e4f, 1e-30f, -1e-30f, 0.0f}) v.push_back(t);
  const Tensor x = Tensor::from_f32({static_cast<int64_t>(v.size())}, v);
  for (Activation act : kAll) {
    EXPECT_LT(worst_error(x, ops::activation(x, act), act), 4e-7) << ops::activation_name(act);
  }
}

// The form for results rounded to bf16 next: within 1e-5 (relative to max(1, |x|)) of the
// exact value over the same range and at every length (AVX-512 tails are masked); the exact
// kernel for every other activation.
TEST(Activation, ForBf16OutputsStaysFarBelowBf16Spacing) {
  std::vector<float> v;
  for (float t = -30.0f; t <= 30.0f; t += 0.00731f) v.push_back(t);
  for (float t : {-1e4f, -100.0f, -88.5f, -87.0f, 1e4f, 1e-30f, -1e-30f, 0.0f}) v.push_back(t);
  for (Activation act : kAll) {
    for (size_t n : {v.size(), size_t{1}, size_t{15}, size_t{17}}) {
      std::vector<float> data(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
      ops::apply_activation_for_bf16(data.data(), static_cast<int64_t>(n), act);
      const Tensor x = Tensor::from_f32({static_cast<int64_t>(n)}, std::vector<float>(v.begin(), v.begin() + n));
      const Tensor got = Tensor::from_f32({static_cast<int64_t>(n)}, data);
      EXPECT_LT(worst_error(x, got, act), act == Activation::GeluTanh ? 1e-5 : 4e-7)
          << ops::activation_name(act) << " n " << n;
    }
  }
}

TEST(Activation, InPlaceAndStridedInputsAgree) {
  const Tensor base = random_tensor({6, 2, 45}, 1, 3.0f);
  const Tensor view = base.select(1, 1);  // strided rows
  ASSERT_FALSE(view.is_contiguous());
  for (Activation act : kAll) {
    const Tensor want = ops::ref::activation(view, act);
    const Tensor out = ops::activation(view, act);
    EXPECT_LT(compare(out, want).max_abs, 4e-6) << ops::activation_name(act);
    Tensor copy = base.clone();
    Tensor v = copy.select(1, 1);
    ops::activation_inplace(v, act);
    EXPECT_EQ(compare(v, out).max_abs, 0.0);
    EXPECT_EQ(compare(copy.select(1, 0), base.select(1, 0)).max_abs, 0.0);  // other rows untouched
    Tensor flat = view.contiguous().clone();
    ops::activation_inplace(flat, act);
    EXPECT_EQ(compare(flat, out).max_abs, 0.0);
  }
}

TEST(Gated, HandComputedHalvesOrder) {
  // x = [2, 1]: value|gate (diffusers SwiGLU): 2 * silu(1) = 1.462117157;
  // gate|up: silu(2) * 1 = 1.761594156.
  const Tensor x = Tensor::from_f32({1, 2}, {2.0f, 1.0f});
  EXPECT_NEAR(ops::swiglu(x, GatedHalves::ValueGate).to_f32_vector()[0], 1.4621171573f, 3e-7);
  EXPECT_NEAR(ops::swiglu(x, GatedHalves::GateUp).to_f32_vector()[0], 1.7615941560f, 3e-7);
  // GEGLU (exact gelu on the gate): 2 * gelu(1) = 1.682689492
  EXPECT_NEAR(ops::geglu(x, GatedHalves::ValueGate).to_f32_vector()[0], 1.6826894921f, 3e-7);
}

TEST(Gated, FusedProjectionMatchesReference) {
  const Tensor x = random_tensor({3, 5, 2 * 67}, 2, 2.0f);
  for (Activation act : kAll) {
    for (GatedHalves h : {GatedHalves::ValueGate, GatedHalves::GateUp}) {
      const Tensor got = ops::gated(x, act, h);
      ASSERT_EQ(got.shape(), (Shape{3, 5, 67}));
      EXPECT_LT(compare(got, ops::ref::gated(x, act, h)).max_abs, 1e-5) << ops::activation_name(act);
    }
  }
  // Strided rows (a column block of a wider buffer).
  const Tensor wide = random_tensor({4, 300}, 3);
  const Tensor part = wide.slice(1, 100, 300);
  EXPECT_LT(compare(ops::swiglu(part, GatedHalves::ValueGate),
                    ops::ref::gated(part, Activation::Silu, GatedHalves::ValueGate)).max_abs, 1e-5);
  EXPECT_THROW(ops::gated(random_tensor({2, 7}, 4), Activation::Silu, GatedHalves::GateUp), Error);
}

TEST(Gated, TwoTensorFormMatchesReference) {
  const Tensor gate = random_tensor({4, 33}, 5, 2.0f), up = random_tensor({4, 33}, 6);
  for (Activation act : kAll) {
    EXPECT_LT(compare(ops::gated(act, gate, up), ops::ref::gated(act, gate, up)).max_abs, 1e-5);
  }
  const Tensor both = random_tensor({4, 2, 33}, 7);
  EXPECT_LT(compare(ops::gated(Activation::GeluTanh, both.select(1, 0), both.select(1, 1)),
                    ops::ref::gated(Activation::GeluTanh, both.select(1, 0), both.select(1, 1))).max_abs, 1e-5);
  EXPECT_THROW(ops::gated(Activation::Silu, gate, random_tensor({4, 32}, 8)), Error);
}

}  // namespace
}  // namespace diffuse
