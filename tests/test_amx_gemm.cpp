// The AMX GEMM against a naive double-precision product of the same rounded operands, over
// shapes that exercise every padding path (rows, columns and K that are not whole blocks or
// steps), strided sources, both thread splits, and the int8 dequantization.
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>
#include <vector>

#include "ops/amx_gemm.h"
#include "tensor/half.h"
#include "tensor/tensor.h"

namespace diffuse::ops {
namespace {

float lcg_value(uint32_t& state) {
  state = state * 1664525u + 1013904223u;
  return static_cast<float>((state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

struct Shape3 {
  int64_t m, k, n;
};

const std::vector<Shape3> kShapes = {{1, 1, 1},    {5, 31, 17},   {32, 32, 32},   {33, 33, 33},  {70, 100, 300},
                                     {300, 64, 40}, {257, 600, 65}, {40, 2100, 70}, {512, 96, 520}};

// Runs the GEMM and collects every block the epilogue receives into a dense [M, N] result,
// checking that blocks tile the output exactly once.
std::vector<float> run_gemm(const amx::GemmSource& a, const amx::PackedWeight& w, const float* col_scales) {
  std::vector<float> out(static_cast<size_t>(a.rows * w.n()), 0.0f);
  std::vector<int> seen(out.size(), 0);
  std::mutex mutex;
  amx::gemm(a, w, col_scales, [&](int64_t row0, int64_t rows, int64_t col0, int64_t cols, float* acc, int64_t ld) {
    ASSERT_LE(row0 + rows, a.rows);
    ASSERT_LE(col0 + cols, w.n());
    std::lock_guard<std::mutex> lock(mutex);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        out[(row0 + r) * w.n() + col0 + c] = acc[r * ld + c];
        ++seen[(row0 + r) * w.n() + col0 + c];
      }
  });
  for (int s : seen) EXPECT_EQ(s, 1);
  return out;
}

TEST(AmxGemm, Bf16MatchesNaiveProductOfRoundedOperands) {
  if (!amx::gemm_available(DType::BF16)) GTEST_SKIP() << "no AMX bf16 on this CPU";
  uint32_t state = 7;
  for (const Shape3& s : kShapes) {
    // Source rows with a stride wider than K (a column slice of a wider matrix).
    const int64_t stride = s.k + 3;
    std::vector<float> a(static_cast<size_t>(s.m * stride)), w(static_cast<size_t>(s.n * s.k));
    for (float& v : a) v = lcg_value(state);
    for (float& v : w) v = bf16_to_f32(f32_to_bf16(lcg_value(state)));
    Tensor wt = Tensor::from_f32({s.n, s.k}, w).to(DType::BF16);
    const amx::PackedWeight packed = amx::PackedWeight::pack(wt);
    std::vector<uint16_t> a_bf16(a.size());
    for (size_t i = 0; i < a.size(); ++i) a_bf16[i] = f32_to_bf16(a[i]);
    for (DType src : {DType::F32, DType::BF16}) {
      const amx::GemmSource source{src == DType::F32 ? static_cast<const void*>(a.data()) : a_bf16.data(), src, s.m,
                                   stride, nullptr};
      const std::vector<float> got = run_gemm(source, packed, nullptr);
      double max_err = 0;
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          double ref = 0, mag = 0;
          for (int64_t q = 0; q < s.k; ++q) {
            const double p = static_cast<double>(bf16_to_f32(a_bf16[i * stride + q])) * w[j * s.k + q];
            ref += p;
            mag += std::fabs(p);
          }
          // f32 accumulation of exact bf16 products: error bounded by K ulps of the magnitude.
          max_err = std::max(max_err, std::fabs(got[i * s.n + j] - ref) / (mag * 1e-6 * s.k + 1e-30));
        }
      EXPECT_LE(max_err, 1.0) << s.m << "x" << s.k << "x" << s.n << " source " << dtype_name(src);
    }
  }
}

TEST(AmxGemm, Int8IsExactBeforeScalesAndAppliesRowAndColumnScales) {
  if (!amx::gemm_available(DType::I8)) GTEST_SKIP() << "no AMX int8 on this CPU";
  uint32_t state = 11;
  for (const Shape3& s : kShapes) {
    const int64_t stride = s.k + 5;
    std::vector<int8_t> a(static_cast<size_t>(s.m * stride));
    Tensor wt = Tensor::empty({s.n, s.k}, DType::I8);
    int8_t* w = wt.data_mut<int8_t>();
    for (int8_t& v : a) v = static_cast<int8_t>(std::lround(lcg_value(state) * 127));
    for (int64_t i = 0; i < wt.numel(); ++i) w[i] = static_cast<int8_t>(std::lround(lcg_value(state) * 127));
    std::vector<float> row_scales(static_cast<size_t>(s.m)), col_scales(static_cast<size_t>(s.n));
    for (float& v : row_scales) v = 0.01f + std::fabs(lcg_value(state));
    for (float& v : col_scales) v = 0.01f + std::fabs(lcg_value(state));
    const amx::PackedWeight packed = amx::PackedWeight::pack(wt);
    const std::vector<float> got = run_gemm({a.data(), DType::I8, s.m, stride, row_scales.data()}, packed, col_scales.data());
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        int64_t dot = 0;
        for (int64_t q = 0; q < s.k; ++q) dot += static_cast<int64_t>(a[i * stride + q]) * w[j * s.k + q];
        const float want = static_cast<float>(dot) * row_scales[i] * col_scales[j];
        ASSERT_NEAR(got[i * s.n + j], want, std::fabs(want) * 1e-6f + 1e-30f)
            << s.m << "x" << s.k << "x" << s.n << " at " << i << "," << j;
      }
  }
}

TEST(AmxGemm, RejectsMismatchedSourceAndMissingScales) {
  if (!amx::gemm_available(DType::I8)) GTEST_SKIP() << "no AMX int8 on this CPU";
  Tensor w = Tensor::zeros({4, 8}, DType::I8);
  const amx::PackedWeight packed = amx::PackedWeight::pack(w);
  std::vector<float> a(8, 1.0f);
  const auto ignore = [](int64_t, int64_t, int64_t, int64_t, float*, int64_t) {};
  EXPECT_THROW(amx::gemm({a.data(), DType::F32, 1, 8, nullptr}, packed, nullptr, ignore), Error);
  std::vector<int8_t> q(8, 1);
  EXPECT_THROW(amx::gemm({q.data(), DType::I8, 1, 8, nullptr}, packed, nullptr, ignore), Error);
  EXPECT_THROW(amx::PackedWeight::pack(Tensor::zeros({4, 8}, DType::F32)), Error);
}

}  // namespace
}  // namespace diffuse::ops
