#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tensor/half.h"
#include "tensor/tensor.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace diffuse {
namespace {

TEST(Half, Bf16RoundsToNearestEven) {
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties go to the even mantissa.
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(-2.5f)), -2.5f);
  EXPECT_EQ(f32_to_bf16(INFINITY), 0x7f80);
}

TEST(Half, Bf16MatchesWideRounding) {
  // Reference: round the exact value through double arithmetic.
  std::mt19937 rng(1);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    const float f = f32_from_bits(bits(rng));
    if (!std::isfinite(f)) continue;
    const float r = bf16_to_f32(f32_to_bf16(f));
    const uint32_t u = f32_bits(f) & 0xffff0000u;
    const double lo = f32_from_bits(u), hi = f32_from_bits(u + 0x10000u);
    const double dlo = std::fabs(double(f) - lo), dhi = std::fabs(hi - double(f));
    if (!std::isfinite(hi)) continue;
    const double want = dlo < dhi ? lo : dhi < dlo ? hi : (((u >> 16) & 1) ? hi : lo);
    ASSERT_EQ(r, static_cast<float>(want)) << std::hex << f32_bits(f);
  }
}

TEST(Half, F16RoundTripAllValues) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
  }
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t hw_f32_to_f16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float hw_f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }

TEST(Half, F16MatchesHardware) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C";
  std::mt19937 rng(2);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 500000; ++i) {
    // Concentrate on the f16 range (including subnormals and overflow).
    uint32_t u = bits(rng);
    u = (u & 0x807fffffu) | ((100u + (u >> 23) % 60u) << 23);
    const float f = f32_from_bits(u);
    ASSERT_EQ(f32_to_f16(f), hw_f32_to_f16(f)) << std::hex << u;
  }
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float a = f16_to_f32(static_cast<uint16_t>(h)), b = hw_f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(b)) continue;
    ASSERT_EQ(f32_bits(a), f32_bits(b)) << std::hex << h;
  }
}
#endif

TEST(Tensor, ViewsShareStorageAndCopyGathers) {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<float>(i);
  Tensor t = Tensor::from_f32({2, 3, 4}, v);
  Tensor p = t.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_FALSE(p.is_contiguous());
  Tensor c = p.contiguous();
  ASSERT_TRUE(c.is_contiguous());
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 2; ++b)
      for (int d = 0; d < 3; ++d) EXPECT_EQ(c.item({a, b, d}), t.item({b, d, a}));
  Tensor s = t.slice(2, 1, 3).select(0, 1);
  EXPECT_EQ(s.shape(), (Shape{3, 2}));
  EXPECT_EQ(s.item({2, 1}), 12 + 8 + 2);
  EXPECT_EQ(t.reshape({6, -1}).shape(), (Shape{6, 4}));
  EXPECT_THROW(p.reshape({24}), Error);
  EXPECT_THROW(t.slice(0, 1, 3), Error);
}

TEST(Tensor, UnflattenSplitsAStridedDim) {
  std::vector<float> v(2 * 3 * 10);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  const Tensor t = Tensor::from_f32({2, 3, 10}, v);
  // Channels [2, 8) of each row as 3 heads x 2: a view of a strided slice.
  const Tensor heads = t.slice(2, 2, 8).unflatten(2, {3, 2});
  EXPECT_EQ(heads.shape(), (Shape{2, 3, 3, 2}));
  EXPECT_EQ(heads.raw(), t.slice(2, 2, 8).raw());
  for (int b = 0; b < 2; ++b)
    for (int s = 0; s < 3; ++s)
      for (int h = 0; h < 3; ++h)
        for (int d = 0; d < 2; ++d) EXPECT_EQ(heads.item({b, s, h, d}), t.item({b, s, 2 + 2 * h + d}));
  // A permuted dim splits too; -1 counts as a wrong size.
  const Tensor p = t.permute({2, 0, 1}).unflatten(0, {5, 2});
  EXPECT_EQ(p.item({3, 1, 1, 2}), t.item({1, 2, 7}));
  EXPECT_THROW(t.unflatten(2, {3, 3}), Error);
  EXPECT_THROW(t.unflatten(2, {-1, 5}), Error);
}

TEST(Tensor, DtypeConversions) {
  Tensor t = Tensor::from_f32({3}, {1.5f, -2.0f, 1e-3f});
  Tensor b = t.to(DType::BF16);
  EXPECT_EQ(b.dtype(), DType::BF16);
  EXPECT_EQ(b.data<uint16_t>()[0], f32_to_bf16(1.5f));
  Tensor back = b.to(DType::F32);
  EXPECT_EQ(back.item({1}), -2.0);
  Tensor i = t.to(DType::I64);
  EXPECT_EQ(i.item({0}), 1.0);
  EXPECT_THROW(t.data<uint16_t>(), Error);
}

TEST(Tensor, ReadOnlyViewRejectsWrites) {
  static const float data[4] = {1, 2, 3, 4};
  Tensor v = Tensor::view_of(data, {2, 2}, DType::F32, nullptr);
  EXPECT_EQ(v.item({1, 0}), 3.0);
  EXPECT_THROW(v.raw_mut(), Error);
  Tensor c = v.clone();
  c.data_mut<float>()[0] = 7;
  EXPECT_EQ(v.item({0, 0}), 1.0);
}

}  // namespace
}  // namespace diffuse
