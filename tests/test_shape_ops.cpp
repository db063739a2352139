#include <gtest/gtest.h>

#include "golden_tensors.h"
#include "ops/elementwise.h"
#include "ops/reference/eltwise_ref.h"
#include "ops/shape.h"
#include "ops/upsample.h"
#include "random_tensor.h"

namespace diffuse {
namespace {

using ops::PatchOrder;
using testing::compare;
using testing::random_tensor;

// Exact equality of two tensors of any dtype (compared through f32, which is exact for
// f32 / bf16 / f16 / small integers).
void expect_same(const Tensor& got, const Tensor& want, const std::string& what = "") {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  EXPECT_EQ(got.to_f32_vector(), want.to_f32_vector()) << what;
}

TEST(Concat, MatchesReferenceAlongEveryDim) {
  const Tensor a = random_tensor({2, 3, 5}, 1), b = random_tensor({2, 4, 5}, 2), c = random_tensor({2, 1, 5}, 3);
  expect_same(ops::concat({a, b, c}, 1), ops::ref::concat({a, b, c}, 1));
  expect_same(ops::concat({a, a}, 0), ops::ref::concat({a, a}, 0));
  expect_same(ops::concat({a, random_tensor({2, 3, 2}, 4)}, -1), ops::ref::concat({a, random_tensor({2, 3, 2}, 4)}, -1));
  // Strided parts and bf16 data.
  const Tensor t = random_tensor({5, 3, 2}, 5).permute({1, 0, 2});  // 3x5x2 view
  const Tensor u = random_tensor({3, 5, 2}, 6);
  expect_same(ops::concat({t, u}, 2), ops::ref::concat({t, u}, 2));
  const Tensor t16 = t.to(DType::BF16), u16 = u.to(DType::BF16);
  expect_same(ops::concat({t16, u16}, 0), ops::ref::concat({t16, u16}, 0));
  // Hand check: [[1, 2]] ++ [[3]] along dim 1.
  EXPECT_EQ(ops::concat({Tensor::from_f32({1, 2}, {1, 2}), Tensor::from_f32({1, 1}, {3})}, 1).to_f32_vector(),
            (std::vector<float>{1, 2, 3}));
  EXPECT_THROW(ops::concat({a, b}, 0), Error);
  EXPECT_THROW(ops::concat({a, a.to(DType::BF16)}, 0), Error);
  EXPECT_THROW(ops::concat({}, 0), Error);
}

TEST(Split, ViewsShareStorage) {
  Tensor t = random_tensor({4, 10}, 10);
  std::vector<Tensor> parts = ops::split(t, {3, 0, 7}, 1);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].shape(), (Shape{4, 3}));
  EXPECT_EQ(parts[1].shape(), (Shape{4, 0}));
  EXPECT_EQ(parts[2].shape(), (Shape{4, 7}));
  EXPECT_EQ(parts[2].item({1, 0}), t.item({1, 3}));
  parts[2].data_mut<float>()[0] = 42.0f;  // a view: writes land in t
  EXPECT_EQ(t.item({0, 3}), 42.0);
  expect_same(ops::concat(parts, 1), t);
  const std::vector<Tensor> ch = ops::chunk(t, 3, 1);  // torch.chunk: 4, 4, 2
  ASSERT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch[2].shape(), (Shape{4, 2}));
  EXPECT_THROW(ops::split(t, {3, 3}, 1), Error);
}

TEST(PermuteCopy, MatchesReferenceForAllPermutations) {
  const Tensor t = random_tensor({2, 3, 4, 5}, 20);
  std::vector<int> order = {0, 1, 2, 3};
  do {
    expect_same(ops::permute_copy(t, order), ops::ref::permute_copy(t, order));
    const Tensor h = t.to(DType::BF16);
    expect_same(ops::permute_copy(h, order), ops::ref::permute_copy(h, order));
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(PermuteCopy, FastPathsOnModelLayouts) {
  // [B, S, H, D] -> [B, H, S, D]: contiguous rows of D.
  const Tensor qkv = random_tensor({2, 33, 3, 16}, 21);
  expect_same(ops::permute_copy(qkv, {0, 2, 1, 3}), ops::ref::permute_copy(qkv, {0, 2, 1, 3}));
  // [N, C, HW] -> [N, HW, C] with sizes beyond one tile: the blocked transpose.
  const Tensor img = random_tensor({2, 37, 45}, 22);
  expect_same(ops::permute_copy(img, {0, 2, 1}), ops::ref::permute_copy(img, {0, 2, 1}));
  const Tensor img16 = img.to(DType::F16);
  expect_same(ops::permute_copy(img16, {0, 2, 1}), ops::ref::permute_copy(img16, {0, 2, 1}));
  // A view that is strided in its last two dims (no unit stride at all): generic path.
  const Tensor odd = random_tensor({6, 8}, 23).slice(0, 0, 6).reshape({3, 2, 8}).select(1, 1).slice(1, 0, 8);
  const Tensor every_other = random_tensor({4, 10}, 24).reshape({4, 5, 2}).select(2, 0).transpose(0, 1);
  expect_same(ops::materialize(every_other), ops::ref::permute_copy(every_other, {0, 1}));
  expect_same(ops::materialize(odd), ops::ref::permute_copy(odd, {0, 1}));
  // Contiguous input: returned as is.
  EXPECT_EQ(ops::materialize(img).raw(), img.raw());
}

TEST(Pad, MatchesTorchConvention) {
  // F.pad([1, 2], (1, 2), value=9) -> [9, 1, 2, 9, 9]
  EXPECT_EQ(ops::pad(Tensor::from_f32({2}, {1, 2}), {1, 2}, 9.0f).to_f32_vector(),
            (std::vector<float>{9, 1, 2, 9, 9}));
  const Tensor x = random_tensor({2, 3, 5, 4}, 30);
  for (const std::vector<int64_t>& p : std::vector<std::vector<int64_t>>{{0, 1, 0, 1}, {2, 0}, {1, 1, 2, 0, 0, 3}, {}}) {
    expect_same(ops::pad(x, p, -0.5f), ops::ref::pad(x, p, -0.5f));
  }
  expect_same(ops::pad(x.permute({0, 2, 3, 1}), {1, 0, 0, 2}), ops::ref::pad(x.permute({0, 2, 3, 1}), {1, 0, 0, 2}, 0.0f));
  EXPECT_THROW(ops::pad(x, {1}, 0.0f), Error);
  EXPECT_THROW(ops::pad(x, {-1, 0}, 0.0f), Error);
}

TEST(PackPatches, HandComputedFeatureOrders) {
  // One 2x2 patch with channels c0 = [a b; c d] = [1 2; 3 4], c1 = [5 6; 7 8].
  const Tensor z = Tensor::from_f32({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(ops::pack_latents_2x2(z).to_f32_vector(), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(ops::pack_patches(z, 2, PatchOrder::ChannelMinor).to_f32_vector(),
            (std::vector<float>{1, 5, 2, 6, 3, 7, 4, 8}));
  // Tokens are row-major over the patch grid: a 1x4 latent has two tokens, left then right.
  const Tensor row = Tensor::from_f32({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(ops::pack_latents_2x2(row).to_f32_vector(), (std::vector<float>{1, 2, 5, 6, 3, 4, 7, 8}));
}

TEST(PackPatches, MatchesReferenceAndRoundTrips) {
  const Tensor z = random_tensor({2, 4, 8, 12}, 40);
  for (PatchOrder order : {PatchOrder::ChannelMajor, PatchOrder::ChannelMinor}) {
    for (int64_t p : {1, 2, 4}) {
      const Tensor tokens = ops::pack_patches(z, p, order);
      expect_same(tokens, ops::ref::pack_patches(z, p, order));
      expect_same(ops::unpack_patches(tokens, 8, 12, p, order), z);
    }
  }
  EXPECT_THROW(ops::pack_latents_2x2(random_tensor({1, 4, 5, 4}, 41)), Error);
  EXPECT_THROW(ops::unpack_latents_2x2(random_tensor({1, 6, 16}, 42), 4, 4), Error);
}

TEST(PackPatches, UnpackMatchesFluxPipelineFixture) {
  // FluxPipeline decode path: z = unpack(latents) / scaling_factor + shift_factor.
  const Tensor latents = testing::golden_tensor("pipeline_flux", "io.safetensors", "out.latents.step1");
  const Tensor want = testing::golden_tensor("pipeline_flux", "io.safetensors", "dump.vae_decode.call0.z");
  const Tensor z = ops::add(ops::div(ops::unpack_latents_2x2(latents, 16, 16), 0.3611f), 0.1159f);
  EXPECT_LE(compare(z, want).max_abs, 1e-6);
}

TEST(Upsample, NearestMatchesReference) {
  const Tensor x = random_tensor({2, 3, 5, 7}, 50);
  for (int64_t f : {1, 2, 3}) {
    expect_same(ops::upsample_nearest2d(x, f), ops::ref::upsample_nearest2d(x, f));
  }
  EXPECT_EQ(ops::upsample_nearest2d(Tensor::from_f32({1, 1, 1, 2}, {1, 2}), 2).to_f32_vector(),
            (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2}));
  EXPECT_THROW(ops::upsample_nearest2d(x, 0), Error);
}

}  // namespace
}  // namespace diffuse
