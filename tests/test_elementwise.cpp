#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "ops/elementwise.h"
#include "ops/reference/eltwise_ref.h"
#include "random_tensor.h"

namespace diffuse {
namespace {

using testing::compare;
using testing::random_tensor;

// f32 rounding of each operation, so the reference is exact for single f32 operations.
double f32(double v) { return static_cast<float>(v); }

struct BinaryCase {
  const char* name;
  Tensor (*op)(const Tensor&, const Tensor&);
  void (*inplace)(Tensor&, const Tensor&);
  std::function<double(double, double)> f;
};

std::vector<BinaryCase> binary_cases() {
  return {{"add", ops::add, ops::add_inplace, [](double a, double b) { return f32(a + b); }},
          {"sub", ops::sub, ops::sub_inplace, [](double a, double b) { return f32(a - b); }},
          {"mul", ops::mul, ops::mul_inplace, [](double a, double b) { return f32(a * b); }},
          {"div", ops::div, ops::div_inplace, [](double a, double b) { return f32(a / b); }}};
}

TEST(Broadcast, Shapes) {
  EXPECT_EQ(ops::broadcast_shapes({2, 1, 5}, {3, 1}), (Shape{2, 3, 5}));
  EXPECT_EQ(ops::broadcast_shapes({}, {4, 2}), (Shape{4, 2}));
  EXPECT_EQ(ops::broadcast_shapes({0, 3}, {1, 3}), (Shape{0, 3}));
  try {
    ops::broadcast_shapes({2, 3}, {4, 3});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2x3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("4x3"), std::string::npos) << e.what();
  }
}

TEST(Elementwise, BinaryOpsMatchReferenceForBroadcastPatterns) {
  struct Pair { Shape a, b; };
  const std::vector<Pair> pairs = {
      {{3, 37}, {3, 37}},            // equal
      {{4, 5, 37}, {37}},            // per-row bias
      {{2, 6, 5, 7}, {6, 1, 1}},     // per-channel
      {{2, 1, 9}, {1, 5, 1}},        // outer product
      {{3, 8}, {}},                  // scalar tensor
      {{1}, {2, 3}},                 // broadcast first operand
      {{2, 3, 1, 4}, {3, 5, 4}},     // mixed
  };
  uint32_t seed = 1;
  for (const Pair& p : pairs) {
    const Tensor a = random_tensor(p.a, seed++), b_raw = random_tensor(p.b, seed++);
    std::vector<float> bv = b_raw.to_f32_vector();
    for (float& v : bv) v = v >= 0 ? v + 0.5f : v - 0.5f;  // keep division well away from 0
    const Tensor b = Tensor::from_f32(p.b, bv);
    for (const BinaryCase& c : binary_cases()) {
      const Tensor want = ops::ref::broadcast_map({a, b}, [&](const std::vector<double>& v) { return c.f(v[0], v[1]); });
      EXPECT_EQ(compare(c.op(a, b), want).max_abs, 0.0) << c.name << " " << shape_str(p.a) << " " << shape_str(p.b);
    }
  }
}

TEST(Elementwise, StridedAndPermutedInputs) {
  const Tensor base = random_tensor({4, 6, 10}, 20);
  const Tensor a = base.permute({2, 0, 1});        // 10x4x6, strided
  const Tensor b = random_tensor({6, 4}, 21).transpose(0, 1);  // 4x6, transposed
  const Tensor col = random_tensor({10, 3}, 22).slice(1, 1, 2);  // 10x1 column view
  for (const BinaryCase& c : binary_cases()) {
    const Tensor w1 = ops::ref::broadcast_map({a, b}, [&](const std::vector<double>& v) { return c.f(v[0], f32(v[1] + 3.0)); });
    EXPECT_EQ(compare(c.op(a, ops::add(b, 3.0f)), w1).max_abs, 0.0) << c.name;
    const Tensor w2 = ops::ref::broadcast_map({a, col.unsqueeze(2)}, [&](const std::vector<double>& v) { return c.f(v[0], v[1]); });
    EXPECT_EQ(compare(c.op(a, col.unsqueeze(2)), w2).max_abs, 0.0) << c.name;
  }
}

TEST(Elementwise, ScalarForms) {
  const Tensor a = random_tensor({5, 13}, 30);
  auto check = [&](const Tensor& got, std::function<double(double)> f) {
    EXPECT_EQ(compare(got, ops::ref::broadcast_map({a}, [&](const std::vector<double>& v) { return f(v[0]); })).max_abs, 0.0);
  };
  check(ops::add(a, 0.25f), [](double x) { return f32(x + 0.25); });
  check(ops::sub(a, 1.5f), [](double x) { return f32(x - 1.5); });
  check(ops::mul(a, 3.1f), [](double x) { return f32(x * double(3.1f)); });
  check(ops::div(a, 3.0f), [](double x) { return f32(x / 3.0); });  // true division, not * (1/3)
  Tensor b = a.clone();
  ops::mul_inplace(b, 3.1f);
  ops::add_inplace(b, 0.25f);
  check(b, [](double x) { return f32(f32(x * double(3.1f)) + 0.25); });
}

TEST(Elementwise, InPlaceIntoStridedTargetTouchesOnlyTheView) {
  for (const BinaryCase& c : binary_cases()) {
    Tensor buf = random_tensor({3, 2, 20}, 40);
    const Tensor before = buf.clone();
    Tensor target = buf.select(1, 0);  // 3x20, row stride 40
    const Tensor bias = ops::add(random_tensor({20}, 41), 5.0f);
    const Tensor want = c.op(before.select(1, 0), bias);
    c.inplace(target, bias);
    EXPECT_EQ(compare(target, want).max_abs, 0.0) << c.name;
    EXPECT_EQ(compare(buf.select(1, 1), before.select(1, 1)).max_abs, 0.0) << c.name;
  }
  Tensor x = random_tensor({3, 4}, 42);
  EXPECT_THROW(ops::add_inplace(x, random_tensor({2, 3, 4}, 43)), Error);  // would grow the target
  const std::vector<float> data(12, 1.0f);
  Tensor ro = Tensor::view_of(data.data(), {3, 4}, DType::F32, nullptr);
  EXPECT_THROW(ops::add_inplace(ro, x), Error);
}

TEST(Elementwise, MulAddAndAddcmul) {
  const Tensor a = random_tensor({2, 7, 33}, 50), b = random_tensor({2, 1, 33}, 51), c = random_tensor({33}, 52);
  const Tensor want = ops::ref::broadcast_map({a, b, c}, [](const std::vector<double>& v) { return f32(f32(v[0] * v[1]) + v[2]); });
  EXPECT_EQ(compare(ops::mul_add(a, b, c), want).max_abs, 0.0);
  // Gated residual: h += attn * gate[B, 1, C].
  Tensor h = random_tensor({2, 7, 33}, 53);
  const Tensor h0 = h.clone();
  ops::addcmul_inplace(h, a, b);
  EXPECT_EQ(compare(h, ops::ref::broadcast_map({h0, a, b}, [](const std::vector<double>& v) {
                      return f32(v[0] + f32(v[1] * v[2]));
                    })).max_abs, 0.0);
  Tensor g = h0.clone();
  ops::addcmul_inplace(g, a, b, -0.5f);
  EXPECT_EQ(compare(g, ops::ref::broadcast_map({h0, a, b}, [](const std::vector<double>& v) {
                      return f32(v[0] + f32(f32(-0.5 * v[1]) * v[2]));
                    })).max_abs, 0.0);
  Tensor small = random_tensor({7, 33}, 54);
  EXPECT_THROW(ops::addcmul_inplace(small, a, b), Error);
}

TEST(Elementwise, Clamp) {
  const Tensor x = Tensor::from_f32({5}, {-2.0f, -1.0f, 0.3f, 1.5f, NAN});
  const std::vector<float> y = ops::clamp(x, -1.0f, 1.0f).to_f32_vector();
  EXPECT_EQ(y[0], -1.0f);
  EXPECT_EQ(y[1], -1.0f);
  EXPECT_EQ(y[2], 0.3f);
  EXPECT_EQ(y[3], 1.0f);
  EXPECT_TRUE(std::isnan(y[4]));
  Tensor z = x.clone();
  ops::clamp_inplace(z, 0.0f, 0.5f);
  EXPECT_EQ(z.to_f32_vector()[3], 0.5f);
  EXPECT_THROW(ops::clamp(x, 1.0f, -1.0f), Error);
}

TEST(Elementwise, HalfOperandsAreConvertedAndLargeTensorsSplit) {
  const Tensor a = random_tensor({3, 40000}, 60);  // long rows: the parallel split path
  const Tensor b16 = random_tensor({40000}, 61, 1.0f, DType::BF16);
  const Tensor want = ops::ref::broadcast_map({a, b16}, [](const std::vector<double>& v) { return f32(v[0] + v[1]); });
  EXPECT_EQ(compare(ops::add(a, b16), want).max_abs, 0.0);
  const Tensor flat = random_tensor({100003}, 62);
  EXPECT_EQ(compare(ops::mul(flat, flat), ops::ref::broadcast_map({flat}, [](const std::vector<double>& v) {
                      return f32(v[0] * v[0]);
                    })).max_abs, 0.0);
  EXPECT_THROW(ops::add(a, Tensor::zeros({3}, DType::I32)), Error);
}

}  // namespace
}  // namespace diffuse
