// Tensor::copy_from on strided views (the row-by-row path), checked element by element through
// item(), which computes its own offsets: strided sources, strided destinations, dtype conversion
// on both, rank 0 and empty shapes.
#include <gtest/gtest.h>

#include <vector>

#include "tensor/half.h"
#include "tensor/tensor.h"

namespace diffuse {
namespace {

Tensor iota(const Shape& shape) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f - 7.0f;
  return Tensor::from_f32(shape, v);
}

// Every element of `a` equals the same-index element of `b` (any strides, any dtypes).
void expect_same_elements(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  const Shape& shape = a.shape();
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t n = 0; n < a.numel(); ++n) {
    ASSERT_EQ(a.item(idx), b.item(idx)) << "element " << n;
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

TEST(TensorCopy, SlicedAndPermutedSourcesGatherRowByRow) {
  const Tensor t = iota({2, 5, 6});
  // Middle-dim slice: rows stay contiguous (one memcpy each), rows jump between batches.
  const Tensor middle = t.slice(1, 1, 4);
  const Tensor c = middle.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  expect_same_elements(c, middle);
  EXPECT_EQ(c.item({1, 2, 5}), t.item({1, 3, 5}));
  // Last-dim slice and a permute: element by element.
  expect_same_elements(t.slice(2, 2, 5).contiguous(), t.slice(2, 2, 5));
  const Tensor p = t.permute({2, 0, 1});
  expect_same_elements(p.contiguous(), p);
  EXPECT_EQ(p.contiguous().item({4, 1, 3}), t.item({1, 3, 4}));
}

TEST(TensorCopy, IntoAStridedDestination) {
  const Tensor src = iota({3, 4, 2});
  Tensor dst = Tensor::zeros({4, 3, 2}, DType::F32);
  Tensor view = dst.permute({1, 0, 2});  // [3, 4, 2] over dst's storage
  view.copy_from(src);
  for (int64_t a = 0; a < 3; ++a)
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t c = 0; c < 2; ++c) EXPECT_EQ(dst.item({b, a, c}), src.item({a, b, c}));

  // Into a slice of a larger tensor: the rows outside stay untouched.
  Tensor big = Tensor::zeros({2, 6, 2}, DType::F32);
  Tensor window = big.slice(1, 1, 5);
  window.copy_from(iota({2, 4, 2}));
  expect_same_elements(window, iota({2, 4, 2}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t c = 0; c < 2; ++c) {
      EXPECT_EQ(big.item({b, 0, c}), 0.0);
      EXPECT_EQ(big.item({b, 5, c}), 0.0);
    }
}

TEST(TensorCopy, ConvertsWhileGathering) {
  const Tensor t = iota({4, 3, 5});
  const Tensor p = t.permute({1, 2, 0});
  Tensor b = Tensor::empty(p.shape(), DType::BF16);
  b.copy_from(p);  // f32 strided -> bf16 contiguous
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 5; ++j)
      for (int64_t k = 0; k < 4; ++k)
        EXPECT_EQ(b.item({i, j, k}), bf16_to_f32(f32_to_bf16(static_cast<float>(t.item({k, i, j})))));
  // bf16 strided -> f32 strided (a transposed destination).
  Tensor back = Tensor::zeros({4, 5, 3}, DType::F32);
  Tensor back_view = back.permute({2, 1, 0});  // [3, 5, 4]
  back_view.copy_from(b);
  expect_same_elements(back_view, b);
}

TEST(TensorCopy, ScalarAndEmpty) {
  const Tensor five = Tensor::from_f32({1}, {5.0f}).reshape({});
  Tensor scalar = Tensor::zeros({}, DType::I32);
  scalar.copy_from(five);
  EXPECT_EQ(scalar.item({}), 5.0);
  const Tensor none = iota({3, 0, 2});
  Tensor dst = Tensor::empty({3, 0, 2}, DType::F32);
  dst.copy_from(none.permute({0, 1, 2}));
  EXPECT_EQ(dst.numel(), 0);
}

}  // namespace
}  // namespace diffuse
