#include <gtest/gtest.h>

#include <cmath>

#include "golden_tensors.h"
#include "ops/reference/rope_ref.h"
#include "ops/rope.h"
#include "ops/shape.h"
#include "random_tensor.h"

namespace diffuse {
namespace {

using testing::compare;
using testing::random_tensor;

TEST(RopeTables, MatchFluxFixture) {
  // FluxPosEmbed(theta=10000, axes_dim=config.axes_dims_rope) on ids = cat(txt_ids, img_ids).
  const std::string c = "flux_transformer_guidance";
  const Tensor txt = testing::golden_tensor(c, "io.safetensors", "in.txt_ids");
  const Tensor img = testing::golden_tensor(c, "io.safetensors", "in.img_ids");
  const Tensor want_cos = testing::golden_tensor(c, "io.safetensors", "dump.pos_embed.0");
  const Tensor want_sin = testing::golden_tensor(c, "io.safetensors", "dump.pos_embed.1");
  const ops::RopeTables t = ops::rope_tables_multi_axis(ops::concat({txt, img}, 0), {4, 6, 6}, 10000.0);
  EXPECT_LE(compare(t.cos, want_cos).max_abs, 1.2e-7);
  EXPECT_LE(compare(t.sin, want_sin).max_abs, 1.2e-7);
}

TEST(RopeTables, MultiAxisMatchesDefinitionForFractionalIds) {
  // Centred / fractional / negative ids (Qwen-style grids) and the FLUX.1 axis widths.
  const int64_t s = 37;
  std::vector<float> ids(s * 3);
  for (int64_t i = 0; i < s; ++i) {
    ids[i * 3 + 0] = static_cast<float>(i % 3);
    ids[i * 3 + 1] = static_cast<float>(i) * 0.5f - 9.0f;
    ids[i * 3 + 2] = static_cast<float>(i * 7 % 64) - 31.5f;
  }
  const Tensor id = Tensor::from_f32({s, 3}, ids);
  const std::vector<int64_t> axes = {16, 56, 56};
  const ops::RopeTables got = ops::rope_tables_multi_axis(id, axes, 10000.0);
  const ops::RopeTables want = ops::ref::rope_tables_multi_axis(id, axes, 10000.0);
  EXPECT_LE(compare(got.cos, want.cos).max_abs, 1.2e-7);
  EXPECT_LE(compare(got.sin, want.sin).max_abs, 1.2e-7);
  // Integer ids give the same tables as their f32 values.
  std::vector<float> int_ids(s * 3);
  for (int64_t i = 0; i < s * 3; ++i) int_ids[i] = static_cast<float>(i % 11);
  const Tensor f = Tensor::from_f32({s, 3}, int_ids);
  EXPECT_EQ(compare(ops::rope_tables_multi_axis(f.to(DType::I64), axes, 10000.0).cos,
                    ops::rope_tables_multi_axis(f, axes, 10000.0).cos).max_abs, 0.0);
  EXPECT_THROW(ops::rope_tables_multi_axis(id, {16, 56}, 10000.0), Error);
  EXPECT_THROW(ops::rope_tables_multi_axis(id, {16, 55, 57}, 10000.0), Error);
}

TEST(RopeTables, InvFreqTablesFollowTheLlmDefinition) {
  const int64_t rot = 64, s = 29;
  const Tensor inv = ops::rope_inv_freq(rot, 1000000.0f);
  ASSERT_EQ(inv.shape(), (Shape{rot / 2}));
  const std::vector<float> f = inv.to_f32_vector();
  for (int64_t j = 0; j < rot / 2; ++j) {
    EXPECT_NEAR(f[j], 1.0 / std::pow(1.0e6, 2.0 * j / rot), 2e-7 * (1.0 / std::pow(1.0e6, 2.0 * j / rot)));
  }
  std::vector<float> pos(s);
  for (int64_t i = 0; i < s; ++i) pos[i] = static_cast<float>(i * 37);
  const Tensor positions = Tensor::from_f32({s}, pos).to(DType::I64);
  const float mscale = 1.2f;
  const ops::RopeTables t = ops::rope_tables_inv_freq(positions, inv, mscale);
  ASSERT_EQ(t.cos.shape(), (Shape{s, rot}));
  for (int64_t i = 0; i < s; ++i) {
    for (int64_t j = 0; j < rot; ++j) {
      // cat(freqs, freqs): channel j uses frequency j mod rot/2; the angle is an f32 product.
      const float angle = pos[i] * f[j % (rot / 2)];
      EXPECT_NEAR(t.cos.item({i, j}), std::cos(double(angle)) * mscale, 2.5e-7);
      EXPECT_NEAR(t.sin.item({i, j}), std::sin(double(angle)) * mscale, 2.5e-7);
    }
  }
}

TEST(Rope, HandComputedConventions) {
  // cos = 0, sin = 1 (a quarter turn) on x = [1, 2, 3, 4].
  const Tensor cos = Tensor::from_f32({1, 4}, {0, 0, 0, 0});
  const Tensor sin = Tensor::from_f32({1, 4}, {1, 1, 1, 1});
  Tensor a = Tensor::from_f32({1, 1, 1, 4}, {1, 2, 3, 4});
  ops::rope_interleaved_inplace(a, cos, sin);  // pairs (1,2), (3,4) -> (-2,1), (-4,3)
  EXPECT_EQ(a.to_f32_vector(), (std::vector<float>{-2, 1, -4, 3}));
  Tensor b = Tensor::from_f32({1, 1, 1, 4}, {1, 2, 3, 4});
  ops::rope_rotate_half_inplace(b, cos, sin);  // halves (1,2), (3,4) -> (-3,-4), (1,2)
  EXPECT_EQ(b.to_f32_vector(), (std::vector<float>{-3, -4, 1, 2}));
}

TEST(Rope, InterleavedMatchesReferenceSharedAndPerBatchTables) {
  const int64_t b = 2, s = 7, h = 3, d = 16;
  const Tensor x = random_tensor({b, s, h, d}, 1);
  const Tensor ang = random_tensor({b, s, d}, 2, 3.0f);
  std::vector<float> cv = ang.to_f32_vector(), sv = cv;
  for (size_t i = 0; i < cv.size(); ++i) {
    cv[i] = std::cos(cv[i]);
    sv[i] = std::sin(sv[i]);
  }
  const Tensor cos_b = Tensor::from_f32({b, s, d}, cv), sin_b = Tensor::from_f32({b, s, d}, sv);
  const Tensor cos_s = cos_b.select(0, 1).contiguous(), sin_s = sin_b.select(0, 1).contiguous();
  Tensor y = x.clone();
  ops::rope_interleaved_inplace(y, cos_s, sin_s);
  EXPECT_LE(compare(y, ops::ref::rope_interleaved(x, cos_s, sin_s)).max_abs, 1e-6);
  Tensor z = x.clone();
  ops::rope_interleaved_inplace(z, cos_b, sin_b);
  EXPECT_LE(compare(z, ops::ref::rope_interleaved(x, cos_b, sin_b)).max_abs, 1e-6);
}

TEST(Rope, RotatesStridedHeadViewOfFusedQkvOnly) {
  const int64_t b = 2, s = 5, h = 4, d = 8;
  Tensor qkv = random_tensor({b, s, 3, h, d}, 3);
  const Tensor before = qkv.clone();
  const ops::RopeTables t = ops::rope_tables_multi_axis(
      Tensor::from_f32({s, 1}, {0, 1, 2, 3, 4}), {d}, 10000.0);
  Tensor k = qkv.select(2, 1);
  ops::rope_interleaved_inplace(k, t.cos, t.sin);
  EXPECT_LE(compare(k, ops::ref::rope_interleaved(before.select(2, 1), t.cos, t.sin)).max_abs, 1e-6);
  EXPECT_EQ(compare(qkv.select(2, 0), before.select(2, 0)).max_abs, 0.0);
  EXPECT_EQ(compare(qkv.select(2, 2), before.select(2, 2)).max_abs, 0.0);
}

TEST(Rope, RotateHalfPartialLeavesTailUntouched) {
  const int64_t b = 2, s = 6, h = 2, d = 32, rot = 16;  // LLaDA-style partial rotary
  const Tensor x = random_tensor({b, s, h, d}, 4);
  std::vector<float> pos(s);
  for (int64_t i = 0; i < s; ++i) pos[i] = static_cast<float>(i + 3);
  const ops::RopeTables t = ops::rope_tables_inv_freq(Tensor::from_f32({s}, pos), ops::rope_inv_freq(rot, 10000.0f));
  Tensor y = x.clone();
  ops::rope_rotate_half_inplace(y, t.cos, t.sin);
  EXPECT_LE(compare(y, ops::ref::rope_rotate_half(x, t.cos, t.sin)).max_abs, 1e-6);
  EXPECT_EQ(compare(y.slice(3, rot, d), x.slice(3, rot, d)).max_abs, 0.0);
  EXPECT_GT(compare(y.slice(3, 0, rot), x.slice(3, 0, rot)).max_abs, 0.1);
}

// Attention logits after RoPE depend only on the position difference: <R(m) q, R(n) k> equals
// <R(m + 5) q, R(n + 5) k>. Checks that tables and rotation agree on one convention.
template <typename Apply, typename Tables>
void expect_relative(Apply apply, Tables tables, int64_t d) {
  const Tensor q = random_tensor({1, 1, 1, d}, 5), k = random_tensor({1, 1, 1, d}, 6);
  auto logit = [&](float m, float n) {
    const ops::RopeTables tq = tables(m), tk = tables(n);
    Tensor a = q.clone(), b = k.clone();
    apply(a, tq.cos, tq.sin);
    apply(b, tk.cos, tk.sin);
    double dot = 0;
    const std::vector<float> av = a.to_f32_vector(), bv = b.to_f32_vector();
    for (int64_t i = 0; i < d; ++i) dot += double(av[i]) * bv[i];
    return dot;
  };
  const double base = logit(3, 10), shifted = logit(8, 15), other = logit(3, 11);
  EXPECT_NEAR(base, shifted, 1e-4);
  EXPECT_GT(std::fabs(base - other), 1e-3);  // and it does depend on the difference
}

TEST(Rope, LogitsDependOnlyOnRelativePosition) {
  const int64_t d = 32;
  expect_relative(ops::rope_interleaved_inplace,
                  [&](float p) { return ops::rope_tables_multi_axis(Tensor::from_f32({1, 1}, {p}), {d}, 10000.0); }, d);
  expect_relative(ops::rope_rotate_half_inplace,
                  [&](float p) { return ops::rope_tables_inv_freq(Tensor::from_f32({1}, {p}), ops::rope_inv_freq(d, 10000.0f)); }, d);
}

TEST(Rope, RejectsBadArguments) {
  Tensor x = random_tensor({1, 3, 2, 8}, 7);
  const Tensor c = random_tensor({3, 8}, 8), c_wrong = random_tensor({4, 8}, 9), c_wide = random_tensor({3, 10}, 10);
  EXPECT_THROW(ops::rope_interleaved_inplace(x, c_wrong, c_wrong), Error);
  EXPECT_THROW(ops::rope_rotate_half_inplace(x, c_wide, c_wide), Error);
  EXPECT_THROW(ops::rope_interleaved_inplace(x, c, c_wrong), Error);
  Tensor x3 = random_tensor({3, 2, 8}, 11);
  EXPECT_THROW(ops::rope_interleaved_inplace(x3, c, c), Error);
  const std::vector<float> data(48, 1.0f);
  Tensor ro = Tensor::view_of(data.data(), {1, 3, 2, 8}, DType::F32, nullptr);
  EXPECT_THROW(ops::rope_interleaved_inplace(ro, c, c), Error);
}

}  // namespace
}  // namespace diffuse
