// ops::Linear over quantized weights against naive references: the weight is dequantized
// element by element (ops/reference), then run through the naive double GEMM with the same
// epilogue, on odd shapes, strided outputs and in-place residuals.
#include <gtest/gtest.h>

#include "ops/linear.h"
#include "ops/reference/linear_ref.h"
#include "ops/reference/quantized_ref.h"
#include "random_tensor.h"

namespace diffuse::ops {
namespace {

using testing::compare;
using testing::random_tensor;

void expect_close(const Tensor& got, const Tensor& want, double tol) {
  const auto d = compare(got, want);
  EXPECT_LE(d.rel(), tol) << "max abs " << d.max_abs << " of max " << d.max_ref;
}

// The dequantized weight in the GEMM's dtype: what the reference multiplies by.
Tensor reference_weight(const QuantizedWeight& q, DType compute) {
  const Tensor w = ref::dequantize_ref(q);
  return compute == DType::BF16 ? w.to(DType::BF16) : w;
}

std::vector<QuantizedWeight> formats(const Tensor& w) {
  return {quantize_int8_per_channel(w), quantize_affine(w, 4, 64), quantize_affine(w, 8, 32),
          quantize_affine(w, 4, 128)};
}

TEST(QuantizedLinear, MatchesDequantizedReference) {
  const Tensor w = random_tensor({300, 128}, 1, 0.05f, DType::BF16);
  const Tensor b = random_tensor({300}, 2);
  for (const QuantizedWeight& q : formats(w)) {
    for (DType compute : {DType::BF16, DType::F32}) {
      // bf16: dequantized into AMX tiles where the CPU has them, and into rows for oneDNN.
      for (bool amx : {true, false}) {
        SCOPED_TRACE(::testing::Message() << "bits " << q.bits << " group " << q.group_size << " "
                                          << dtype_name(compute) << (amx ? " amx" : " onednn"));
        Linear lin(q, &b, compute, {.amx = amx});
        ASSERT_NE(lin.quantized_weight(), nullptr);
        EXPECT_EQ(lin.gemm_dtype(), compute);
        const Tensor wr = reference_weight(q, compute);
        for (int64_t m : {1, 7, 130}) {
          const Tensor x = random_tensor({m, 128}, static_cast<uint32_t>(10 + m));
          expect_close(lin.forward(x), ref::linear_ref(x, wr, &b), 2e-5);
        }
      }
    }
  }
}

TEST(QuantizedLinear, NarrowLayersInOneSlice) {
  for (int64_t n : {24, 64, 256}) {
    const Tensor w = random_tensor({n, 32}, 20, 0.05f, DType::BF16);
    const Tensor b = random_tensor({n}, 21);
    const QuantizedWeight q = quantize_int8_per_channel(w);
    Tensor h = random_tensor({77, n}, 22);
    const Tensor x = random_tensor({77, 32}, 23);
    const Tensor want = ref::linear_ref(x, reference_weight(q, DType::BF16), &b, {.residual = h.clone()});
    Linear(q, &b, DType::BF16).forward_into(x, h, {.residual = h});
    expect_close(h, want, 2e-5);
  }
}

TEST(QuantizedLinear, EpiloguesAcrossSlices) {
  const Tensor w = random_tensor({520, 192}, 3, 0.05f, DType::BF16);
  const Tensor b = random_tensor({520}, 4);
  const Tensor x = random_tensor({2, 9, 192}, 5);
  const Tensor gate = random_tensor({2, 520}, 6);
  const QuantizedWeight q = quantize_affine(w, 4, 64);
  const Tensor wr = reference_weight(q, DType::BF16);
  Linear lin(q, &b, DType::BF16);
  // Activation + per-batch gate + separate residual.
  const Tensor res = random_tensor({2, 9, 520}, 7);
  const Epilogue e{.activation = Activation::GeluTanh, .gate = gate, .residual = res};
  expect_close(lin.forward(x, e), ref::linear_ref(x, wr, &b, e), 1e-4);
  // In-place residual: h += gate * (x W^T + b).
  Tensor h = random_tensor({2, 9, 520}, 8);
  const Tensor want = ref::linear_ref(x, wr, &b, {.gate = gate, .residual = h.clone()});
  lin.forward_into(x, h, {.gate = gate, .residual = h});
  expect_close(h, want, 1e-4);
  // Strided output: a column slice of a wider buffer; the other columns stay untouched.
  Tensor buf = random_tensor({2, 9, 600}, 9);
  const Tensor before = buf.clone();
  Tensor mid = buf.slice(2, 40, 560);
  lin.forward_into(x, mid, {.activation = Activation::Silu});
  expect_close(mid, ref::linear_ref(x, wr, &b, {.activation = Activation::Silu}), 1e-4);
  EXPECT_EQ(compare(buf.slice(2, 0, 40), before.slice(2, 0, 40)).max_abs, 0.0);
  EXPECT_EQ(compare(buf.slice(2, 560, 600), before.slice(2, 560, 600)).max_abs, 0.0);
}

TEST(QuantizedLinear, SameAsFloatLinearOnDequantizedWeight) {
  // The quantized path must only differ from the dense one by the GEMM's accumulation order.
  const Tensor w = random_tensor({384, 256}, 10, 0.05f, DType::BF16);
  const QuantizedWeight q = quantize_int8_per_channel(w);
  const Tensor x = random_tensor({64, 256}, 11);
  const Tensor dense = Linear(dequantize(q, DType::BF16)).forward(x);
  expect_close(Linear(q, nullptr, DType::BF16).forward(x), dense, 1e-5);
}

TEST(QuantizedLinear, RejectsBadArguments) {
  const QuantizedWeight q = quantize_int8_per_channel(random_tensor({8, 12}, 12));
  EXPECT_THROW(Linear(q, nullptr, DType::F16), Error);
  Linear lin(q, nullptr, DType::BF16);
  EXPECT_THROW(lin.forward(random_tensor({3, 11}, 13)), Error);
  const Tensor bad_bias = random_tensor({7}, 14);
  EXPECT_THROW(Linear(q, &bad_bias, DType::BF16), Error);
}

}  // namespace
}  // namespace diffuse::ops
