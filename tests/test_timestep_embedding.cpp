#include <gtest/gtest.h>

#include <cmath>

#include "golden_tensors.h"
#include "ops/reference/timestep_embedding_ref.h"
#include "ops/timestep_embedding.h"
#include "random_tensor.h"

namespace diffuse {
namespace {

using ops::TimestepEmbeddingOptions;
using testing::compare;

TEST(TimestepEmbedding, HandComputedFloat32Order) {
  // Expected values: the reference's float32 operation order emulated independently (each
  // intermediate rounded to f32, exp / sin / cos evaluated exactly and rounded).
  const Tensor t = Tensor::from_f32({3}, {999.0f, 0.5f, 250.37f});
  TimestepEmbeddingOptions o;
  o.flip_sin_to_cos = true;
  o.downscale_freq_shift = 0.0f;
  const Tensor e = ops::timestep_embedding(t, 8, o);
  const std::vector<float> want = {
      9.996498823e-01f, 8.074550629e-01f, -8.444698453e-01f, 5.411435366e-01f,
      -2.646075189e-02f, -5.899291039e-01f, -5.356031656e-01f, 8.409302235e-01f,
      8.775825500e-01f, 9.987502694e-01f, 9.999874830e-01f, 9.999998808e-01f,
      4.794255495e-01f, 4.997916520e-02f, 4.999978933e-03f, 4.999999655e-04f,
      5.756338835e-01f, 9.954202175e-01f, -8.033523560e-01f, 9.688208103e-01f,
      -8.177075386e-01f, -9.559627622e-02f, 5.955039859e-01f, 2.477624118e-01f};
  const std::vector<float> got = e.to_f32_vector();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1.5e-7) << i;

  // [sin, cos] order, downscale_freq_shift 1, scale 1000, odd dim (zero column appended).
  TimestepEmbeddingOptions q;
  q.scale = 1000.0f;
  const std::vector<float> g2 = ops::timestep_embedding(Tensor::from_f32({1}, {0.7f}), 7, q).to_f32_vector();
  const std::vector<float> w2 = {5.439705253e-01f, 6.569862366e-01f, 6.994283944e-02f, -8.391043544e-01f,
                                 7.539025545e-01f, 9.975510240e-01f, 0.0f};
  ASSERT_EQ(g2.size(), w2.size());
  for (size_t i = 0; i < w2.size(); ++i) EXPECT_NEAR(g2[i], w2[i], 1.5e-7) << i;
}

TEST(TimestepEmbedding, WithinFloat32ArgumentErrorOfExactMath) {
  // The exact-math reference differs only by the f32 rounding of the argument (which the
  // reference implementation shares): |error| <= |arg| * 2^-22 * (|exponent| + 4) + 1e-6.
  const Tensor t = Tensor::from_f32({5}, {0.0f, 1.0f, 0.0314f, 999.9f, 500.25f});
  for (int64_t dim : {256, 33}) {
    for (bool flip : {false, true}) {
      TimestepEmbeddingOptions o;
      o.flip_sin_to_cos = flip;
      o.downscale_freq_shift = flip ? 0.0f : 1.0f;
      const Tensor got = ops::timestep_embedding(t, dim, o), want = ops::ref::timestep_embedding(t, dim, o);
      const int64_t half = dim / 2;
      for (int64_t b = 0; b < 5; ++b) {
        for (int64_t j = 0; j < half; ++j) {
          const double exponent = -std::log(10000.0) * j / (half - o.downscale_freq_shift);
          const double arg = std::fabs(t.item({b}) * std::exp(exponent));
          const double tol = arg * std::ldexp(1.0, -22) * (std::fabs(exponent) + 4) + 1e-6;
          EXPECT_NEAR(got.item({b, j}), want.item({b, j}), tol);
          EXPECT_NEAR(got.item({b, half + j}), want.item({b, half + j}), tol);
        }
        if (dim % 2) {
          EXPECT_EQ(got.item({b, dim - 1}), 0.0);
        }
      }
    }
  }
}

TEST(TimestepEmbedding, MatchesErnieImageFixture) {
  // ERNIE-Image: Timesteps(hidden, flip_sin_to_cos=False, downscale_freq_shift=0) on the raw
  // scheduler timestep in [0, 1000].
  const std::string c = "ernie_image_transformer";
  const Tensor t = testing::golden_tensor(c, "io.safetensors", "in.timestep");
  const Tensor want = testing::golden_tensor(c, "io.safetensors", "dump.time_proj");
  TimestepEmbeddingOptions o;
  o.downscale_freq_shift = 0.0f;
  const auto d = compare(ops::timestep_embedding(t, want.dim(1), o), want);
  // Every element agrees to 1 f32 ulp except where torch's vectorized exp (<= 1 ulp, not
  // correctly rounded) returns a frequency one ulp off: at t = 875, j = 7 that moves the
  // argument 15.56 by 2 ulp (1.9e-6).
  EXPECT_LE(d.max_abs, 2.5e-6);
}

TEST(TimestepEmbedding, RejectsBadArguments) {
  const Tensor t = Tensor::from_f32({2}, {1, 2});
  TimestepEmbeddingOptions o;
  EXPECT_THROW(ops::timestep_embedding(t, 1, o), Error);
  o.downscale_freq_shift = 4.0f;
  EXPECT_THROW(ops::timestep_embedding(t, 8, o), Error);  // half - shift == 0
  EXPECT_THROW(ops::timestep_embedding(Tensor::from_f32({1, 2}, {1, 2}), 8, {}), Error);
}

}  // namespace
}  // namespace diffuse
