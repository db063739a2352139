// Linear (oneDNN matmul with fused epilogues) and batched matmul against naive double
// references. The references round to bf16 exactly where the optimized ops do, so the
// tolerances only absorb f32 accumulation order.
#include <gtest/gtest.h>

#include "ops/linear.h"
#include "ops/matmul.h"
#include "ops/reference/linear_ref.h"
#include "random_tensor.h"

namespace diffuse::ops {
namespace {

using testing::compare;
using testing::random_tensor;

constexpr double kTol = 2e-5;  // relative to the largest reference value

void expect_close(const Tensor& got, const Tensor& want, double tol = kTol) {
  const auto d = compare(got, want);
  EXPECT_LE(d.rel(), tol) << "max abs " << d.max_abs << " of max " << d.max_ref;
}

TEST(Linear, F32WeightsMatchReference) {
  const Tensor x = random_tensor({2, 7, 37}, 1);
  const Tensor w = random_tensor({29, 37}, 2);
  const Tensor b = random_tensor({29}, 3);
  const Tensor want = ref::linear_ref(x, w, &b);
  for (bool prepack : {false, true}) {
    Linear lin(w, &b, {.prepack = prepack});
    EXPECT_EQ(lin.gemm_dtype(), DType::F32);
    const Tensor y = lin.forward(x);
    EXPECT_EQ(y.shape(), (Shape{2, 7, 29}));
    expect_close(y, want);
  }
  expect_close(linear(x, w, &b), want);
  expect_close(linear(x, w), ref::linear_ref(x, w));
}

TEST(Linear, Bf16WeightsRoundInputOnce) {
  const Tensor x = random_tensor({5, 96}, 4);
  const Tensor w = random_tensor({40, 96}, 5, 1.0f, DType::BF16);
  const Tensor b = random_tensor({40}, 6, 1.0f, DType::BF16);
  const Tensor want = ref::linear_ref(x, w, &b);  // rounds x to bf16
  for (bool prepack : {false, true}) {
    Linear lin(w, &b, {.prepack = prepack});
    EXPECT_EQ(lin.gemm_dtype(), DType::BF16);
    expect_close(lin.forward(x), want);
    expect_close(lin.forward(x.to(DType::BF16)), want);  // bf16 input: no further rounding
  }
  // Sanity check of the reference itself: without rounding x the result is measurably off.
  const Tensor unrounded = ref::linear_ref(x, w.to(DType::F32), &b);
  EXPECT_GT(compare(unrounded, want).rel(), 1e-4);
}

TEST(Linear, Bf16InputWithF32Weights) {
  const Tensor x = random_tensor({6, 50}, 7, 1.0f, DType::BF16);
  const Tensor w = random_tensor({20, 50}, 8);
  expect_close(Linear(w).forward(x), ref::linear_ref(x, w));
}

TEST(Linear, F16WeightsComputeInF32) {
  const Tensor x = random_tensor({3, 24}, 9);
  const Tensor w = random_tensor({10, 24}, 10, 1.0f, DType::F16);
  Linear lin(w);
  EXPECT_EQ(lin.gemm_dtype(), DType::F32);
  expect_close(lin.forward(x), ref::linear_ref(x, w));
}

TEST(Linear, ReusesOneLayerAcrossRowCounts) {
  const Tensor w = random_tensor({48, 64}, 11, 1.0f, DType::BF16);
  const Tensor b = random_tensor({48}, 12);
  Linear lin(w, &b);
  for (int64_t m : {1, 3, 64, 257, 1, 64}) {
    const Tensor x = random_tensor({m, 64}, static_cast<uint32_t>(100 + m));
    expect_close(lin.forward(x), ref::linear_ref(x, w, &b));
  }
}

TEST(Linear, StridedInputViews) {
  const Tensor w = random_tensor({16, 32}, 13);
  Linear lin(w);
  // Column slice: rows 48 apart.
  const Tensor wide = random_tensor({9, 48}, 14);
  const Tensor x1 = wide.slice(1, 8, 40);
  expect_close(lin.forward(x1), ref::linear_ref(x1.contiguous(), w));
  // Permuted leading dims that do not merge: [S, B, K] -> [B, S, K].
  const Tensor sb = random_tensor({5, 3, 32}, 15);
  const Tensor x2 = sb.permute({1, 0, 2});
  const Tensor y2 = lin.forward(x2);
  EXPECT_EQ(y2.shape(), (Shape{3, 5, 16}));
  expect_close(y2, ref::linear_ref(x2.contiguous(), w));
}

TEST(Linear, FusedActivations) {
  const Tensor x = random_tensor({11, 40}, 16);
  const Tensor b = random_tensor({24}, 17);
  for (DType wt : {DType::F32, DType::BF16}) {
    const Tensor w = random_tensor({24, 40}, 18, 0.3f, wt);
    Linear lin(w, &b);
    for (Activation act : {Activation::GeluTanh, Activation::GeluErf, Activation::Silu, Activation::QuickGelu}) {
      SCOPED_TRACE(activation_name(act));
      expect_close(lin.forward(x, {.activation = act}), ref::linear_ref(x, w, &b, {.activation = act}), 1e-4);
    }
  }
}

TEST(Linear, GatePerBatchAndSeparateResidual) {
  const Tensor x = random_tensor({2, 33, 64}, 19);
  const Tensor w = random_tensor({48, 64}, 20, 1.0f, DType::BF16);
  const Tensor b = random_tensor({48}, 21);
  const Tensor gate = random_tensor({2, 48}, 22);
  const Tensor res = random_tensor({2, 33, 48}, 23);
  Linear lin(w, &b);
  const Epilogue e{.activation = Activation::GeluTanh, .gate = gate, .residual = res};
  expect_close(lin.forward(x, e), ref::linear_ref(x, w, &b, e), 1e-4);
  // A gate of one row broadcasts over every batch; [1, N] and [N] mean the same.
  const Tensor g1 = random_tensor({48}, 24);
  expect_close(lin.forward(x, {.gate = g1}), ref::linear_ref(x, w, &b, {.gate = g1}));
  expect_close(lin.forward(x, {.gate = g1.reshape({1, 48})}), ref::linear_ref(x, w, &b, {.gate = g1}));
  // bf16 gate.
  const Tensor gb = gate.to(DType::BF16);
  expect_close(lin.forward(x, {.gate = gb}), ref::linear_ref(x, w, &b, {.gate = gb}));
}

TEST(Linear, InPlaceResidualWithLongReduction) {
  // h += gate * (x W^T): the output is also the residual. K = 3072 makes oneDNN split the
  // reduction and accumulate in the output, where a plain post-op add would read clobbered data.
  const Tensor x = random_tensor({2, 150, 3072}, 25);
  const Tensor w = random_tensor({256, 3072}, 26, 0.05f, DType::BF16);
  const Tensor gate = random_tensor({2, 256}, 27);
  Linear lin(w);
  for (bool gated : {false, true}) {
    SCOPED_TRACE(gated ? "gated" : "plain");
    Tensor h = random_tensor({2, 150, 256}, 28);
    const Epilogue e{.gate = gated ? gate : Tensor(), .residual = h};
    const Tensor want = ref::linear_ref(x, w, nullptr, {.gate = e.gate, .residual = h.clone()});
    lin.forward_into(x, h, e);
    expect_close(h, want, 1e-4);
  }
}

TEST(Linear, StridedOutputColumnSlice) {
  // q, k, v landing in one [M, 3N] buffer; the other columns must stay untouched.
  const Tensor x = random_tensor({7, 32}, 29);
  const Tensor w = random_tensor({16, 32}, 30, 1.0f, DType::BF16);
  const Tensor b = random_tensor({16}, 31);
  Linear lin(w, &b);
  Tensor buf = random_tensor({7, 48}, 32);
  const Tensor before = buf.clone();
  Tensor mid = buf.slice(1, 16, 32);
  lin.forward_into(x, mid);
  expect_close(mid, ref::linear_ref(x, w, &b));
  expect_close(buf.slice(1, 0, 16), before.slice(1, 0, 16), 0);
  expect_close(buf.slice(1, 32, 48), before.slice(1, 32, 48), 0);
  // In-place residual into the strided slice, and a separate strided residual.
  const Tensor mid_before = mid.clone();
  lin.forward_into(x, mid, {.activation = Activation::Silu, .residual = mid});
  expect_close(mid, ref::linear_ref(x, w, &b, {.activation = Activation::Silu, .residual = mid_before}));
  const Tensor res = buf.slice(1, 0, 16);
  Tensor out = Tensor::empty({7, 16}, DType::F32);
  lin.forward_into(x, out, {.residual = res});
  expect_close(out, ref::linear_ref(x, w, &b, {.residual = res.contiguous()}));
}

// bf16 weights run on our AMX kernels where the CPU has them and on oneDNN otherwise; both
// must give the reference on every input and output layout the models pass.
TEST(Linear, Bf16BackendsAgreeOnEveryLayout) {
  const Tensor w = random_tensor({70, 96}, 40, 0.3f, DType::BF16);
  const Tensor b = random_tensor({70}, 41);
  const Tensor joint = random_tensor({2, 45, 96}, 42);  // [B, text + image, D]
  const Tensor gate = random_tensor({2, 70}, 43);
  for (bool amx : {true, false}) {
    SCOPED_TRACE(amx ? "amx" : "onednn");
    const Linear lin(w, &b, {.amx = amx});
    // Image rows of a joint buffer: batch-strided rows that do not merge into one stride.
    const Tensor img = joint.slice(1, 12, 45);
    expect_close(lin.forward(img), ref::linear_ref(img.contiguous(), w, &b));
    // Rows strided at three levels (no uniform grouping): read through a dense copy.
    const Tensor three = random_tensor({2, 4, 6, 96}, 48).slice(1, 1, 4).slice(2, 1, 5);
    expect_close(lin.forward(three), ref::linear_ref(three.contiguous(), w, &b));
    // Permuted dims, F16 input, bf16 input with a row stride.
    const Tensor perm = random_tensor({33, 2, 96}, 44).permute({1, 0, 2});
    expect_close(lin.forward(perm), ref::linear_ref(perm.contiguous(), w, &b));
    const Tensor half = random_tensor({5, 96}, 45).to(DType::F16);
    expect_close(lin.forward(half), ref::linear_ref(half.to(DType::F32), w, &b));
    const Tensor wide16 = random_tensor({9, 128}, 46, 1.0f, DType::BF16).slice(1, 16, 112);
    expect_close(lin.forward(wide16), ref::linear_ref(wide16.contiguous(), w, &b));
    // Batch-strided output slice with a per-batch gate and the slice itself as residual.
    Tensor out_buf = random_tensor({2, 50, 70}, 47);
    Tensor out = out_buf.slice(1, 17, 50);
    const Tensor before = out.clone();
    const Epilogue e{.activation = Activation::GeluTanh, .gate = gate, .residual = out};
    lin.forward_into(img, out, e);
    expect_close(out, ref::linear_ref(img.contiguous(), w, &b, {.activation = Activation::GeluTanh, .gate = gate,
                                                                  .residual = before}), 1e-4);
    expect_close(out_buf.slice(1, 0, 17), random_tensor({2, 50, 70}, 47).slice(1, 0, 17), 0);
    // BF16 output into a column slice of a wider bf16 buffer: the f32 result rounded once.
    Tensor cat = Tensor::zeros({2, 33, 100}, DType::BF16);
    Tensor right = cat.slice(2, 30, 100);
    lin.forward_into(img, right, {.activation = Activation::GeluTanh, .gate = gate});
    const Tensor want = ref::linear_ref(img.contiguous(), w, &b, {.activation = Activation::GeluTanh, .gate = gate});
    // (one bf16 ulp: f32 results a rounding apart may round to neighbouring bf16 values)
    expect_close(right.to(DType::F32), want.to(DType::BF16).to(DType::F32), 1.0 / 128);
    EXPECT_EQ(compare(cat.slice(2, 0, 30).to(DType::F32), Tensor::zeros({2, 33, 30}, DType::F32)).max_abs, 0.0);
    EXPECT_THROW(lin.forward_into(img, right, {.residual = want}), Error);
  }
}

TEST(Linear, RejectsMismatchedArguments) {
  Linear lin(random_tensor({8, 12}, 33));
  EXPECT_THROW(lin.forward(random_tensor({3, 11}, 34)), Error);
  Tensor wrong_out = Tensor::empty({3, 9}, DType::F32);
  EXPECT_THROW(lin.forward_into(random_tensor({3, 12}, 35), wrong_out), Error);
  EXPECT_THROW(lin.forward(random_tensor({2, 3, 12}, 36), {.gate = random_tensor({3, 8}, 37)}), Error);
  EXPECT_THROW(lin.forward(random_tensor({3, 12}, 38), {.residual = random_tensor({3, 7}, 39)}), Error);
  EXPECT_THROW(Linear(random_tensor({8}, 40)), Error);
  EXPECT_THROW(Linear(Tensor::zeros({4, 4}, DType::I32)), Error);
  const Tensor bad_bias = random_tensor({7}, 41);
  EXPECT_THROW(Linear(random_tensor({8, 12}, 42), &bad_bias), Error);
}

TEST(Matmul, BatchedF32) {
  const Tensor a = random_tensor({2, 3, 5, 7}, 50);
  const Tensor b = random_tensor({2, 3, 7, 4}, 51);
  expect_close(matmul(a, b), ref::matmul_ref(a, b));
}

TEST(Matmul, BroadcastBatchDims) {
  const Tensor a = random_tensor({2, 3, 5, 7}, 52);
  const Tensor w = random_tensor({7, 4}, 53);
  expect_close(matmul(a, w), ref::matmul_ref(a, w));  // shared right operand
  const Tensor a2 = random_tensor({5, 7}, 54);
  const Tensor b2 = random_tensor({3, 7, 4}, 55);
  expect_close(matmul(a2, b2), ref::matmul_ref(a2, b2));  // shared left operand
  const Tensor a3 = random_tensor({2, 1, 5, 7}, 56);
  const Tensor b3 = random_tensor({1, 3, 7, 4}, 57);
  const Tensor c3 = matmul(a3, b3);
  EXPECT_EQ(c3.shape(), (Shape{2, 3, 5, 4}));
  expect_close(c3, ref::matmul_ref(a3, b3));  // mixed broadcast
  EXPECT_THROW(matmul(random_tensor({2, 5, 7}, 58), random_tensor({3, 7, 4}, 59)), Error);
  EXPECT_THROW(matmul(random_tensor({5, 7}, 60), random_tensor({6, 4}, 61)), Error);
}

TEST(Matmul, TransposedAndStridedViews) {
  const Tensor q = random_tensor({2, 9, 16}, 62);
  const Tensor k = random_tensor({2, 11, 16}, 63);
  const Tensor kt = k.transpose(-1, -2);  // column-major view, no copy needed
  expect_close(matmul(q, kt), ref::matmul_ref(q, kt));
  const Tensor qt = random_tensor({2, 16, 9}, 64).transpose(-1, -2);
  expect_close(matmul(qt, kt), ref::matmul_ref(qt, kt));
  // Unit last stride but leading dims interleaved, and a fully scattered view.
  const Tensor a = random_tensor({9, 2, 16}, 65).permute({1, 0, 2});
  expect_close(matmul(a, kt), ref::matmul_ref(a, kt));
  const Tensor s = random_tensor({16, 2, 9}, 66).permute({1, 2, 0});
  expect_close(matmul(s, kt), ref::matmul_ref(s, kt));
}

TEST(Matmul, Bf16AndMixedTypes) {
  const Tensor a = random_tensor({3, 6, 40}, 67, 1.0f, DType::BF16);
  const Tensor b = random_tensor({3, 40, 5}, 68, 1.0f, DType::BF16);
  expect_close(matmul(a, b), ref::matmul_ref(a, b));
  const Tensor bf = random_tensor({3, 40, 5}, 69);
  expect_close(matmul(a, bf), ref::matmul_ref(a, bf));
}

}  // namespace
}  // namespace diffuse::ops
