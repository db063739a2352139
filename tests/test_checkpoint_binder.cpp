// WeightBinder: matched / missing / wrong-shape / unexpected bookkeeping, scopes, optional
// and ignored tensors, the report text, and expected-only mode.
#include <gtest/gtest.h>

#include "io/weight_binder.h"
#include "test_safetensors_helpers.h"

namespace diffuse {
namespace {

using io::WeightBinder;

// A checkpoint with a small module tree, as a diffusers model would store it.
io::WeightSource tiny_checkpoint(const testing::ScratchDir& dir) {
  io::write_safetensors(dir / "w.safetensors",
                        {{"blocks.0.attn.to_q.weight", Tensor::from_f32({2, 3}, {1, 2, 3, 4, 5, 6})},
                         {"blocks.0.attn.to_q.bias", Tensor::zeros({2}, DType::F32)},
                         {"blocks.1.attn.to_q.weight", Tensor::zeros({2, 3}, DType::F32)},
                         {"blocks.1.attn.to_q.bias", Tensor::zeros({2}, DType::F32)},
                         {"norm.weight", Tensor::zeros({3}, DType::F32)},
                         {"bn.num_batches_tracked", Tensor::zeros({}, DType::I64)}});
  return io::WeightSource::open(dir / "w.safetensors");
}

TEST(WeightBinder, AllMatched) {
  testing::ScratchDir dir;
  WeightBinder binder(tiny_checkpoint(dir));
  binder.ignore("*.num_batches_tracked");
  for (int i = 0; i < 2; ++i) {
    WeightBinder attn = binder.scope("blocks").scope(std::to_string(i)).scope("attn.");
    EXPECT_EQ(attn.prefix(), "blocks." + std::to_string(i) + ".attn.");
    const Tensor w = attn.take("to_q.weight", {2, 3});
    ASSERT_TRUE(w.defined());
    if (i == 0) {
      EXPECT_EQ(w.to_f32_vector(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
    }
    EXPECT_TRUE(attn.take("to_q.bias", {2}).defined());
  }
  EXPECT_TRUE(binder.take("norm.weight", {3}).defined());
  EXPECT_FALSE(binder.take_optional("norm.bias", {3}).defined());  // absent optional: no problem
  binder.finish();
  EXPECT_TRUE(binder.ok());
  EXPECT_EQ(binder.matched_count(), 5u);
  EXPECT_EQ(binder.expected_count(), 5u);
  EXPECT_EQ(binder.report(), "5/5 tensors matched\n");
  EXPECT_NO_THROW(binder.check());
}

TEST(WeightBinder, ReportsEveryMismatch) {
  testing::ScratchDir dir;
  WeightBinder binder(tiny_checkpoint(dir));
  WeightBinder b0 = binder.scope("blocks.0.attn");
  EXPECT_TRUE(b0.take("to_q.weight", {2, 3}).defined());
  EXPECT_FALSE(b0.take("to_q.bias", {4}).defined());          // wrong shape
  EXPECT_FALSE(b0.take("to_k.weight", {2, 3}).defined());     // missing
  EXPECT_FALSE(binder.take("norm.weight", {3, 1}).defined());  // wrong shape
  EXPECT_TRUE(binder.has("norm.weight"));
  EXPECT_FALSE(binder.has("norm.bias"));
  // Untaken: blocks.1.* (2 tensors) and bn.num_batches_tracked (not ignored here).
  binder.finish();
  EXPECT_FALSE(binder.ok());
  EXPECT_EQ(binder.matched_count(), 1u);
  EXPECT_EQ(binder.expected_count(), 4u);
  ASSERT_EQ(binder.missing().size(), 1u);
  EXPECT_EQ(binder.missing()[0].name, "blocks.0.attn.to_k.weight");
  ASSERT_EQ(binder.wrong_shape().size(), 2u);
  EXPECT_EQ(binder.unexpected(),
            (std::vector<std::string>{"blocks.1.attn.to_q.bias", "blocks.1.attn.to_q.weight", "bn.num_batches_tracked"}));
  EXPECT_EQ(binder.report(),
            "1/4 tensors matched\n"
            "missing: blocks.0.attn.to_k.weight (expected 2x3)\n"
            "wrong shape: blocks.0.attn.to_q.bias is 2, expected 4\n"
            "wrong shape: norm.weight is 3, expected 3x1\n"
            "unexpected: blocks.1.attn.to_q.bias\n"
            "unexpected: blocks.1.attn.to_q.weight\n"
            "unexpected: bn.num_batches_tracked\n");
  testing::expect_error([&] { binder.check(); },
                        {dir / "w.safetensors", "1/4 tensors matched", "missing: blocks.0.attn.to_k.weight", "and 3 more"});
}

TEST(WeightBinder, TakingTwiceCountsOnce) {
  testing::ScratchDir dir;
  WeightBinder binder(tiny_checkpoint(dir));
  binder.ignore("blocks.*");
  binder.ignore("bn.*");
  EXPECT_TRUE(binder.take("norm.weight", {3}).defined());
  EXPECT_TRUE(binder.take("norm.weight", {3}).defined());  // tied weights
  EXPECT_TRUE(binder.ok());
  EXPECT_EQ(binder.report(), "1/1 tensors matched\n");
  EXPECT_EQ(binder.expected().size(), 1u);
}

TEST(WeightBinder, ExpectedOnlyModeRecordsWithoutWeights) {
  WeightBinder binder = WeightBinder::expected_only();
  EXPECT_FALSE(binder.binding());
  WeightBinder blk = binder.scope("transformer_blocks.3.");
  EXPECT_FALSE(blk.take("attn.to_q.weight", {3072, 3072}).defined());
  EXPECT_FALSE(blk.take_optional("attn.to_q.bias", {3072}).defined());
  EXPECT_FALSE(blk.has("attn.to_q.weight"));
  ASSERT_EQ(binder.expected().size(), 2u);
  EXPECT_EQ(binder.expected()[0].name, "transformer_blocks.3.attn.to_q.weight");
  EXPECT_EQ(binder.expected()[0].shape, (Shape{3072, 3072}));
  EXPECT_FALSE(binder.expected()[0].optional);
  EXPECT_TRUE(binder.expected()[1].optional);
  EXPECT_FALSE(binder.ok());
  EXPECT_EQ(binder.report(), "2 tensors expected (no weights bound)\n");
  testing::expect_error([&] { binder.check(); }, {"not bound"});
}

TEST(WeightBinder, GlobMatch) {
  EXPECT_TRUE(io::glob_match("*.num_batches_tracked", "encoder.bn.num_batches_tracked"));
  EXPECT_FALSE(io::glob_match("*.num_batches_tracked", "num_batches_tracked"));
  EXPECT_TRUE(io::glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(io::glob_match("a*b*c", "aXXbYYcd"));
  EXPECT_TRUE(io::glob_match("*", ""));
  EXPECT_TRUE(io::glob_match("exact", "exact"));
  EXPECT_FALSE(io::glob_match("exact", "exactly"));
  EXPECT_TRUE(io::glob_match("**x", "abx"));
}

}  // namespace
}  // namespace diffuse
