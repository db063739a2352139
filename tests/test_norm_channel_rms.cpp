// ops::channel_rms_norm (the Wan / Qwen-Image causal VAE norm) against a naive double
// reference written from its definition: F.normalize over the channel dim (x / max(||x||, 1e-12))
// * sqrt(C) * gamma + bias, then optional SiLU. Shapes cover several position chunks with a
// ragged tail, batches, a 2-D [N, C] input, and all-zero positions (the clamp).
#include <gtest/gtest.h>

#include <cmath>

#include "ops/norm.h"
#include "random_tensor.h"

namespace diffuse::ops {
namespace {

using testing::compare;
using testing::random_tensor;

Tensor naive_channel_rms_norm(const Tensor& x, const Tensor* gamma, const Tensor* bias, bool silu) {
  const std::vector<float> xv = x.to_f32_vector();
  const std::vector<float> g = gamma ? gamma->to_f32_vector() : std::vector<float>();
  const std::vector<float> b = bias ? bias->to_f32_vector() : std::vector<float>();
  const int64_t n = x.dim(0), c = x.dim(1), s = x.numel() / (n * c);
  std::vector<float> out(xv.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < s; ++p) {
      double sq = 0;
      for (int64_t ch = 0; ch < c; ++ch) sq += std::pow(static_cast<double>(xv[static_cast<size_t>((i * c + ch) * s + p)]), 2);
      const double norm = std::max(std::sqrt(sq), 1e-12);
      for (int64_t ch = 0; ch < c; ++ch) {
        const size_t at = static_cast<size_t>((i * c + ch) * s + p);
        double y = xv[at] / norm * std::sqrt(static_cast<double>(c));
        if (gamma) y *= g[static_cast<size_t>(ch)];
        if (bias) y += b[static_cast<size_t>(ch)];
        if (silu) y = y / (1.0 + std::exp(-y));
        out[at] = static_cast<float>(y);
      }
    }
  return Tensor::from_f32(x.shape(), out);
}

void expect_close(const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape());
  const auto d = compare(got, want);
  EXPECT_LE(d.max_abs, 2e-6 * std::max(1.0, d.max_ref)) << "max ref " << d.max_ref;
}

TEST(ChannelRmsNorm, MatchesNaiveReference) {
  // 2 x 7 x 23 x 29 = 667 positions per image: two full 256-position chunks and a tail.
  const Tensor x = random_tensor({2, 7, 23, 29}, 1, 3.0f);
  const Tensor gamma = random_tensor({7}, 2), bias = random_tensor({7}, 3, 0.1f);
  for (bool silu : {false, true}) {
    expect_close(channel_rms_norm(x, &gamma, &bias, silu), naive_channel_rms_norm(x, &gamma, &bias, silu));
    expect_close(channel_rms_norm(x, &gamma, nullptr, silu), naive_channel_rms_norm(x, &gamma, nullptr, silu));
    expect_close(channel_rms_norm(x, nullptr, nullptr, silu), naive_channel_rms_norm(x, nullptr, nullptr, silu));
  }
  // [N, C] (one position per row) and bf16 gamma (widened, not rounded further).
  const Tensor rows = random_tensor({5, 384}, 4);
  const Tensor g16 = random_tensor({384}, 5, 1.0f, DType::BF16);
  expect_close(channel_rms_norm(rows, &g16, nullptr), naive_channel_rms_norm(rows, &g16, nullptr, false));
}

TEST(ChannelRmsNorm, HandComputedAndZeroPositions) {
  // Position 0: (3, 4) has norm 5 -> (3, 4) / 5 * sqrt(2); position 1 is all zero: stays 0
  // (the norm is clamped at 1e-12, not divided by).
  const Tensor x = Tensor::from_f32({1, 2, 2}, {3.0f, 0.0f, 4.0f, 0.0f});
  const Tensor gamma = Tensor::from_f32({2}, {1.0f, 2.0f});
  const std::vector<float> y = channel_rms_norm(x, &gamma, nullptr).to_f32_vector();
  const float r2 = std::sqrt(2.0f);
  EXPECT_NEAR(y[0], 0.6f * r2, 1e-6);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_NEAR(y[2], 0.8f * r2 * 2.0f, 1e-6);
  EXPECT_EQ(y[3], 0.0f);
}

TEST(ChannelRmsNorm, RejectsBadArguments) {
  const Tensor x = random_tensor({1, 4, 3, 3}, 6);
  const Tensor wrong = random_tensor({3}, 7);
  EXPECT_THROW(channel_rms_norm(x, &wrong, nullptr), Error);
  EXPECT_THROW(channel_rms_norm(x, nullptr, &wrong), Error);
  EXPECT_THROW(channel_rms_norm(random_tensor({4}, 8), nullptr, nullptr), Error);
  EXPECT_THROW(channel_rms_norm(x.permute({0, 1, 3, 2}), nullptr, nullptr), Error);  // not contiguous
  EXPECT_THROW(channel_rms_norm(x.to(DType::BF16), nullptr, nullptr), Error);
}

}  // namespace
}  // namespace diffuse::ops
