// Quantized weight formats: int8 per output channel and MLX's affine layout. Quantization is
// checked against a hand-worked example and an independent per-group reference of MLX's
// arithmetic; dequantization against the element-by-element reference in ops/reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "ops/quantized_weight.h"
#include "ops/reference/quantized_ref.h"
#include "random_tensor.h"
#include "tensor/half.h"

namespace diffuse::ops {
namespace {

using testing::compare;
using testing::random_tensor;

uint32_t word_at(const QuantizedWeight& q, int64_t r, int64_t w) {
  return q.values.data<uint32_t>()[r * q.values.dim(1) + w];
}

TEST(QuantizedWeight, Int8MatchesPerRowAbsmaxReference) {
  const Tensor w = random_tensor({37, 70}, 1, 0.05f, DType::BF16);
  const QuantizedWeight q = quantize_int8_per_channel(w);
  ASSERT_EQ(q.values.dtype(), DType::I8);
  ASSERT_EQ(q.scales.shape(), Shape({37}));
  for (int64_t r = 0; r < 37; ++r) {
    double amax = 0;
    for (int64_t c = 0; c < 70; ++c) amax = std::max(amax, std::fabs(w.item({r, c})));
    const float scale = static_cast<float>(amax) / 127.f;
    EXPECT_EQ(q.scales.data<float>()[r], scale) << "row " << r;
    for (int64_t c = 0; c < 70; ++c) {
      const int want = static_cast<int>(std::nearbyint(static_cast<float>(w.item({r, c})) / scale));
      const int got = q.values.data<int8_t>()[r * 70 + c];
      EXPECT_EQ(got, want) << r << "," << c;
      EXPECT_GE(got, -127);
      // Round to nearest: the error is at most half a step.
      EXPECT_LE(std::fabs(got * scale - w.item({r, c})), 0.5 * scale * (1 + 1e-6));
    }
  }
}

TEST(QuantizedWeight, Int8ZeroRowHasZeroScale) {
  Tensor w = random_tensor({3, 16}, 2);
  w.select(0, 1).copy_from(Tensor::zeros({16}, DType::F32));
  const QuantizedWeight q = quantize_int8_per_channel(w);
  EXPECT_EQ(q.scales.data<float>()[1], 0.f);
  for (int c = 0; c < 16; ++c) EXPECT_EQ(q.values.data<int8_t>()[16 + c], 0);
  EXPECT_EQ(compare(ref::dequantize_ref(q).select(0, 1), w.select(0, 1)).max_abs, 0.0);
}

// Worked by hand: a group of 0.25 * (i % 16). |min| = 0 < |max| = 3.75, so the maximum is the
// exact edge: scale = -(3.75 - 0) / 15 = -0.25, q0 = round(3.75 / -0.25) = -15, scale stays
// 3.75 / -15 = -0.25, bias = 3.75, and q = (w - 3.75) / -0.25 = 15 - i % 16.
TEST(QuantizedWeight, AffineHandWorkedGroup) {
  std::vector<float> v(32);
  for (int i = 0; i < 32; ++i) v[static_cast<size_t>(i)] = 0.25f * static_cast<float>(i % 16);
  const QuantizedWeight q = quantize_affine(Tensor::from_f32({1, 32}, v), 4, 32);
  ASSERT_EQ(q.values.shape(), Shape({1, 4}));
  ASSERT_EQ(q.scales.dtype(), DType::F32);
  EXPECT_EQ(q.scales.data<float>()[0], -0.25f);
  EXPECT_EQ(q.biases.data<float>()[0], 3.75f);
  // Word 0 holds elements 0..7 low nibble first: q = 15, 14, ..., 8.
  EXPECT_EQ(word_at(q, 0, 0), 0x89ABCDEFu);
  EXPECT_EQ(word_at(q, 0, 1), 0x01234567u);
  EXPECT_EQ(word_at(q, 0, 2), 0x89ABCDEFu);
  EXPECT_EQ(compare(ref::dequantize_ref(q), Tensor::from_f32({1, 32}, v)).max_abs, 0.0);
}

// MLX's per-group arithmetic, every step rounded to the weight dtype `t`, written out plainly.
struct GroupRef {
  float scale, bias;
  std::vector<uint32_t> q;
};
GroupRef mlx_group_ref(const std::vector<float>& x, int bits, DType t) {
  auto rnd = [t](double v) {
    const float f = static_cast<float>(v);
    return t == DType::BF16 ? bf16_to_f32(f32_to_bf16(f)) : t == DType::F16 ? f16_to_f32(f32_to_f16(f)) : f;
  };
  const double bins = (1 << bits) - 1;
  float lo = x[0], hi = x[0];
  for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
  float scale = std::max(rnd(rnd(hi - lo) / bins), rnd(1e-7));
  const bool neg_edge = std::fabs(lo) > std::fabs(hi);
  if (!neg_edge) scale = -scale;
  const float edge = neg_edge ? lo : hi;
  const float q0 = std::nearbyint(rnd(edge / scale));
  if (q0 != 0) scale = rnd(edge / q0);
  GroupRef g{scale, q0 == 0 ? 0.f : edge, {}};
  for (float v : x) {
    const float qv = std::nearbyint(rnd(rnd(v - g.bias) / scale));
    g.q.push_back(static_cast<uint32_t>(std::clamp<double>(qv, 0, bins)));
  }
  return g;
}

TEST(QuantizedWeight, AffineMatchesMlxArithmetic) {
  for (DType t : {DType::BF16, DType::F16, DType::F32}) {
    for (int bits : {4, 8}) {
      for (int64_t group : {32, 64, 128}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(t) << " bits " << bits << " group " << group);
        const int64_t n = 5, k = 256;
        Tensor w = random_tensor({n, k}, 3 + bits, 0.02f, t);
        const QuantizedWeight q = quantize_affine(w, bits, group);
        ASSERT_EQ(q.scales.dtype(), t);
        ASSERT_EQ(q.values.shape(), Shape({n, k * bits / 32}));
        ASSERT_EQ(q.scales.shape(), Shape({n, k / group}));
        const int per_word = 32 / bits;
        for (int64_t r = 0; r < n; ++r) {
          for (int64_t g = 0; g < k / group; ++g) {
            std::vector<float> x;
            for (int64_t c = g * group; c < (g + 1) * group; ++c) x.push_back(static_cast<float>(w.item({r, c})));
            const GroupRef want = mlx_group_ref(x, bits, t);
            EXPECT_EQ(static_cast<float>(q.scales.item({r, g})), want.scale);
            EXPECT_EQ(static_cast<float>(q.biases.item({r, g})), want.bias);
            for (int64_t i = 0; i < group; ++i) {
              const int64_t c = g * group + i;
              const uint32_t got = (word_at(q, r, c / per_word) >> ((c % per_word) * bits)) & ((1u << bits) - 1);
              ASSERT_EQ(got, want.q[static_cast<size_t>(i)]) << "row " << r << " col " << c;
            }
          }
        }
        // Error bound: one step of the group's range (at most 2 max|w| / bins; snapping the
        // scale so the edge is exact can cost more than half a step), plus what rounding
        // w - bias and the scale to the weight dtype costs.
        const double unit = t == DType::BF16 ? 1.0 / 256 : t == DType::F16 ? 1.0 / 2048 : 0.0;
        const auto d = compare(ref::dequantize_ref(q), w);
        EXPECT_LE(d.max_abs, d.max_ref * (2.0 / ((1 << bits) - 1) + 4 * unit) * (1 + 1e-6));
      }
    }
  }
}

TEST(QuantizedWeight, FastDequantizeMatchesReference) {
  for (int bits : {4, 8}) {
    for (int64_t group : {32, 64, 128}) {
      for (DType t : {DType::BF16, DType::F16, DType::F32}) {
        const QuantizedWeight q = quantize_affine(random_tensor({9, 384}, 11, 1.0f, t), bits, group);
        const Tensor want = ref::dequantize_ref(q);
        // f32: only the fused / unfused multiply-add may differ (one rounding).
        EXPECT_LE(compare(dequantize(q, DType::F32), want).rel(), 1e-6);
        // bf16: the f32 value rounded once.
        EXPECT_LE(compare(dequantize(q, DType::BF16), want.to(DType::BF16)).rel(), 1e-2);
        EXPECT_GE(compare(dequantize(q, DType::BF16), want).cosine, 0.99999);
      }
    }
  }
  const QuantizedWeight q8 = quantize_int8_per_channel(random_tensor({13, 77}, 12));
  EXPECT_EQ(compare(dequantize(q8, DType::F32), ref::dequantize_ref(q8)).max_abs, 0.0);
  EXPECT_EQ(compare(dequantize(q8, DType::BF16), ref::dequantize_ref(q8).to(DType::BF16)).max_abs, 0.0);
  // Row ranges.
  std::vector<float> rows(3 * 77);
  dequantize_rows(q8, 5, 3, DType::F32, rows.data());
  EXPECT_EQ(compare(Tensor::from_f32({3, 77}, rows), ref::dequantize_ref(q8).slice(0, 5, 8)).max_abs, 0.0);
}

TEST(QuantizedWeight, Q4NeedsGroupMultiple) {
  const Tensor w = random_tensor({4, 96}, 13);
  EXPECT_FALSE(quantizable(w.shape(), QuantMode::Q4));
  EXPECT_TRUE(quantizable(w.shape(), QuantMode::Int8));
  EXPECT_THROW(quantize(w, QuantMode::Q4), Error);
  EXPECT_THROW(quantize_affine(w, 3, 32), Error);
  EXPECT_THROW(quantize_affine(random_tensor({4, 128}, 1), 4, 48), Error);
  EXPECT_NO_THROW(quantize(w, QuantMode::Int8));
}

TEST(QuantizedWeight, StoredTensorsAreValidated) {
  const QuantizedWeight q = quantize_affine(random_tensor({8, 128}, 14, 1.0f, DType::BF16), 4, 64);
  const QuantizedWeight ok = affine_from_tensors(q.values, q.scales, q.biases, 8, 128, "t");
  EXPECT_EQ(ok.bits, 4);
  EXPECT_EQ(ok.group_size, 64);
  EXPECT_EQ(compare(ref::dequantize_ref(ok), ref::dequantize_ref(q)).max_abs, 0.0);
  // 8-bit group 32 inferred from shapes.
  const QuantizedWeight q8 = quantize_affine(random_tensor({8, 128}, 15), 8, 32);
  const QuantizedWeight ok8 = affine_from_tensors(q8.values, q8.scales, q8.biases, 8, 128, "t");
  EXPECT_EQ(ok8.bits, 8);
  EXPECT_EQ(ok8.group_size, 32);
  // Wrong in-features, scale/bias mismatch, wrong dtype, unsupported group.
  EXPECT_THROW(affine_from_tensors(q.values, q.scales, q.biases, 8, 96, "t"), Error);
  EXPECT_THROW(affine_from_tensors(q.values, q.scales, q.biases.to(DType::F32), 8, 128, "t"), Error);
  EXPECT_THROW(affine_from_tensors(q.scales, q.scales, q.biases, 8, 128, "t"), Error);
  const Tensor three_groups = Tensor::zeros({8, 3}, DType::BF16);  // 128 / 3 is no group size
  EXPECT_THROW(affine_from_tensors(q.values, three_groups, three_groups, 8, 128, "t"), Error);
  const Tensor four_groups = Tensor::zeros({8, 4}, DType::BF16);  // group 32 is fine
  EXPECT_EQ(affine_from_tensors(q.values, four_groups, four_groups, 8, 128, "t").group_size, 32);
  EXPECT_THROW(affine_from_tensors(q.values.slice(0, 0, 4), q.scales, q.biases, 8, 128, "t"), Error);
  try {
    affine_from_tensors(q.values, q.scales, q.biases, 8, 96, "layer.weight");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer.weight"), std::string::npos) << e.what();
  }
  const QuantizedWeight i8 = quantize_int8_per_channel(random_tensor({8, 10}, 16));
  EXPECT_NO_THROW(int8_from_tensors(i8.values, i8.scales, 8, 10, "t"));
  EXPECT_THROW(int8_from_tensors(i8.values, i8.scales, 8, 11, "t"), Error);
  EXPECT_THROW(int8_from_tensors(i8.values, i8.scales.to(DType::BF16), 8, 10, "t"), Error);
}

TEST(QuantizedWeight, MemoryAccounting) {
  EXPECT_EQ(quantized_weight_bytes({3072, 3072}, QuantMode::None), 3072ull * 3072 * 2);
  EXPECT_EQ(quantized_weight_bytes({3072, 3072}, QuantMode::Int8), 3072ull * 3072 + 3072 * 4);
  EXPECT_EQ(quantized_weight_bytes({3072, 3072}, QuantMode::Q4), 3072ull * 3072 / 2 + 2ull * 3072 * 48 * 2);
  EXPECT_EQ(quantized_weight_bytes({10, 96}, QuantMode::Q4), 10ull * 96 * 2);  // stays bf16
  // Matches what quantization actually stores.
  const Tensor w = random_tensor({64, 192}, 17, 1.0f, DType::BF16);
  EXPECT_EQ(quantize(w, QuantMode::Q4).bytes(), quantized_weight_bytes(w.shape(), QuantMode::Q4));
  EXPECT_EQ(quantize(w, QuantMode::Int8).bytes(), quantized_weight_bytes(w.shape(), QuantMode::Int8));
}

}  // namespace
}  // namespace diffuse::ops
