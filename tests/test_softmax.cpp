#include <gtest/gtest.h>

#include <cmath>

#include "ops/reference/activation_ref.h"
#include "ops/softmax.h"
#include "random_tensor.h"

namespace diffuse {
namespace {

using testing::compare;
using testing::random_tensor;

TEST(Softmax, HandComputed) {
  // softmax([0, ln 2, ln 3, ln 2]) = [1, 2, 3, 2] / 8
  const Tensor x = Tensor::from_f32({1, 4}, {0.0f, std::log(2.0f), std::log(3.0f), std::log(2.0f)});
  const std::vector<float> y = ops::softmax(x).to_f32_vector();
  const float want[] = {0.125f, 0.25f, 0.375f, 0.25f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], want[i], 1e-7);
  EXPECT_NEAR(ops::log_softmax(x).to_f32_vector()[2], std::log(0.375), 2e-7);
}

TEST(Softmax, MatchesReferenceOnOddRowsAndLargeValues) {
  for (float scale : {1.0f, 30.0f, 1e4f}) {
    const Tensor x = random_tensor({5, 3, 77}, 1, scale);
    const auto d = compare(ops::softmax(x), ops::ref::softmax(x));
    EXPECT_LT(d.max_abs, 2e-7) << scale;
    const auto l = compare(ops::log_softmax(x), ops::ref::log_softmax(x));
    EXPECT_LT(l.max_abs, 2e-6 * std::max(1.0, l.max_ref)) << scale;
  }
  // Shifting a row by a constant changes nothing (the max is subtracted first).
  std::vector<float> v = random_tensor({2, 50}, 2).to_f32_vector();
  const Tensor a = Tensor::from_f32({2, 50}, v);
  for (float& e : v) e += 1000.0f;
  EXPECT_LT(compare(ops::softmax(Tensor::from_f32({2, 50}, v)), ops::softmax(a)).max_abs, 1e-5);
}

TEST(Softmax, MaskedEntriesAndFullyMaskedRows) {
  const float inf = INFINITY;
  const Tensor x = Tensor::from_f32({2, 3}, {1.0f, -inf, 1.0f, -inf, -inf, -inf});
  const std::vector<float> y = ops::softmax(x).to_f32_vector();
  EXPECT_EQ(y, (std::vector<float>{0.5f, 0.0f, 0.5f, 0.0f, 0.0f, 0.0f}));  // all -inf row: zeros
  const std::vector<float> l = ops::log_softmax(x).to_f32_vector();
  EXPECT_NEAR(l[0], std::log(0.5), 1e-7);
  EXPECT_EQ(l[1], -inf);
  EXPECT_EQ(l[4], -inf);
  // NaN and +inf poison their row, as in torch.
  const Tensor bad = Tensor::from_f32({2, 2}, {NAN, 1.0f, inf, 1.0f});
  for (float v : ops::softmax(bad).to_f32_vector()) EXPECT_TRUE(std::isnan(v));
}

TEST(Softmax, InPlaceOnStridedView) {
  Tensor buf = random_tensor({4, 2, 19}, 3, 4.0f);
  const Tensor before = buf.clone();
  Tensor v = buf.select(1, 0);
  const Tensor want = ops::ref::softmax(v);
  EXPECT_LT(compare(ops::softmax(v), want).max_abs, 2e-7);
  ops::softmax_inplace(v);
  EXPECT_LT(compare(v, want).max_abs, 2e-7);
  EXPECT_EQ(compare(buf.select(1, 1), before.select(1, 1)).max_abs, 0.0);
}

}  // namespace
}  // namespace diffuse
