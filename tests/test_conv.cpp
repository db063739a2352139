// Conv2d (oneDNN) against a naive seven-loop convolution in double.
#include <gtest/gtest.h>

#include "ops/conv.h"
#include "ops/reference/conv_ref.h"
#include "random_tensor.h"

namespace diffuse::ops {
namespace {

using testing::compare;
using testing::random_tensor;

void check_conv(const Shape& x_shape, const Shape& w_shape, bool with_bias, Conv2dOptions o,
                DType w_dtype = DType::F32) {
  const Tensor x = random_tensor(x_shape, 1);
  const Tensor w = random_tensor(w_shape, 2, 0.2f, w_dtype);
  const Tensor b = random_tensor({w_shape[0]}, 3);
  const Tensor* bias = with_bias ? &b : nullptr;
  const Tensor want = ref::conv2d_ref(x, w, bias, o);
  const Tensor got = conv2d(x, w, bias, o);
  ASSERT_EQ(got.shape(), want.shape());
  const auto d = compare(got, want);
  EXPECT_LE(d.rel(), 1e-5) << "max abs " << d.max_abs << " of " << d.max_ref;
}

TEST(Conv2d, ThreeByThreeSamePadding) {
  check_conv({1, 8, 12, 10}, {16, 8, 3, 3}, true, Conv2dOptions::symmetric(1, 1));
  check_conv({1, 8, 12, 10}, {16, 8, 3, 3}, false, Conv2dOptions::symmetric(1, 1));
}

TEST(Conv2d, StrideTwoAsymmetricPadding) {
  // VAE downsample: pad right and bottom by one, stride 2, no padding on the other sides.
  Conv2dOptions o;
  o.stride_h = o.stride_w = 2;
  o.pad_bottom = o.pad_right = 1;
  check_conv({2, 16, 16, 14}, {16, 16, 3, 3}, true, o);
  check_conv({1, 4, 9, 7}, {5, 4, 3, 3}, false, o);  // odd sizes
}

TEST(Conv2d, OneByOne) {
  check_conv({2, 32, 5, 7}, {24, 32, 1, 1}, true, {});
  check_conv({1, 3, 4, 4}, {7, 3, 1, 1}, false, {});
}

TEST(Conv2d, OddSizesAndBatch) {
  check_conv({2, 3, 11, 13}, {5, 3, 3, 3}, true, Conv2dOptions::symmetric(1, 1));
  check_conv({2, 5, 7, 9}, {3, 5, 5, 3}, true, {1, 2, 2, 1, 0, 1});
  check_conv({1, 6, 17, 5}, {4, 6, 3, 3}, true, Conv2dOptions::symmetric(2, 0));
}

TEST(Conv2d, Bf16WeightsComputedInF32) {
  check_conv({1, 8, 6, 6}, {8, 8, 3, 3}, true, Conv2dOptions::symmetric(1, 1), DType::BF16);
}

TEST(Conv2d, CachesPerInputShapeAndAcceptsViews) {
  const Tensor w = random_tensor({6, 4, 3, 3}, 4, 0.2f);
  const Tensor b = random_tensor({6}, 5);
  const auto o = Conv2dOptions::symmetric(1, 1);
  Conv2d conv(w, &b, o);
  for (const Shape& s : {Shape{1, 4, 8, 8}, Shape{2, 4, 5, 9}, Shape{1, 4, 8, 8}}) {
    const Tensor x = random_tensor(s, 6);
    EXPECT_LE(compare(conv.forward(x), ref::conv2d_ref(x, w, &b, o)).rel(), 1e-5);
  }
  // NHWC storage viewed as NCHW.
  const Tensor x = random_tensor({1, 7, 6, 4}, 7).permute({0, 3, 1, 2});
  EXPECT_LE(compare(conv.forward(x), ref::conv2d_ref(x.contiguous(), w, &b, o)).rel(), 1e-5);
}

TEST(Conv2d, RejectsBadShapes) {
  const Tensor w = random_tensor({6, 4, 3, 3}, 8);
  Conv2d conv(w, nullptr, {});
  EXPECT_THROW(conv.forward(random_tensor({1, 5, 8, 8}, 9)), Error);  // channels
  EXPECT_THROW(conv.forward(random_tensor({4, 8, 8}, 10)), Error);    // rank
  EXPECT_THROW(conv.forward(random_tensor({1, 4, 2, 8}, 11)), Error); // smaller than kernel
  EXPECT_THROW(Conv2d(random_tensor({6, 4, 3}, 12), nullptr, {}), Error);
  EXPECT_THROW(Conv2d(w, nullptr, Conv2dOptions::symmetric(0, 1)), Error);
}

}  // namespace
}  // namespace diffuse::ops
