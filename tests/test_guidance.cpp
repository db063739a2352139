// Guidance combiners against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "sampling/guidance.h"

namespace diffuse {
namespace {

TEST(Guidance, CfgCombineIsUncondPlusScaledDifference) {
  const Tensor cond = Tensor::from_f32({1, 2, 2}, {1, 2, 3, 4});
  const Tensor uncond = Tensor::from_f32({1, 2, 2}, {0, 1, 1, 5});
  const std::vector<float> got = cfg_combine(cond, uncond, 3.0f).to_f32_vector();
  EXPECT_EQ(got, (std::vector<float>{3, 4, 7, 2}));
}

TEST(Guidance, NormRescaledCfgKeepsEachTokensCondNorm) {
  // Token 0: cond (3, 4, 0) has norm 5; comb = (1,0,0) + 2 * ((3,4,0) - (1,0,0)) = (5, 8, 0).
  // Token 1: cond == uncond, so comb == cond and the factor is 1.
  // Token 2: comb is exactly zero and stays zero.
  const Tensor cond = Tensor::from_f32({1, 3, 3}, {3, 4, 0, 1, -2, 2, 1, 1, 0});
  const Tensor uncond = Tensor::from_f32({1, 3, 3}, {1, 0, 0, 1, -2, 2, 2, 2, 0});
  const std::vector<float> got = cfg_combine_norm_rescaled(cond, uncond, 2.0f).to_f32_vector();
  const float f = 5.0f / std::sqrt(89.0f);
  const std::vector<float> want = {5 * f, 8 * f, 0, 1, -2, 2, 0, 0, 0};
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
}

TEST(Guidance, MismatchedShapesAreAnError) {
  EXPECT_THROW(cfg_combine_norm_rescaled(Tensor::zeros({1, 2, 3}, DType::F32), Tensor::zeros({1, 3, 3}, DType::F32), 2),
               Error);
}

}  // namespace
}  // namespace diffuse
