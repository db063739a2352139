// Fused attention kernels against the naive double-precision reference, for every kernel this
// CPU can run. f32 mode must match tightly; bf16 mode matches the reference fed the same
// bf16-rounded inputs (the f32 kernels tightly, AMX within its bf16 probabilities).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "ops/attention.h"
#include "ops/cpu_isa.h"
#include "ops/reference/attention_ref.h"
#include "random_tensor.h"

namespace diffuse::ops {
namespace {

using testing::compare;
using testing::random_tensor;

std::vector<AttentionKernel> kernels_for(AttentionPrecision precision) {
  std::vector<AttentionKernel> ks{AttentionKernel::Portable};
  if (cpu_has_avx512()) ks.push_back(AttentionKernel::Avx512);
  if (precision == AttentionPrecision::BF16 && cpu_has_amx_bf16()) ks.push_back(AttentionKernel::Amx);
  return ks;
}

// Runs every kernel in both precisions and checks each against the reference.
void check_all(const Tensor& q, const Tensor& k, const Tensor& v, AttentionOptions o = {}) {
  for (AttentionPrecision precision : {AttentionPrecision::F32, AttentionPrecision::BF16}) {
    o.precision = precision;
    const Tensor want = ref::attention_ref(q, k, v, o);
    for (AttentionKernel kernel : kernels_for(precision)) {
      SCOPED_TRACE(std::string(attention_kernel_name(kernel)) +
                   (precision == AttentionPrecision::F32 ? " f32" : " bf16"));
      o.kernel = kernel;
      const Tensor got = attention(q, k, v, o);
      ASSERT_EQ(got.shape(), want.shape());
      const auto d = compare(got, want);
      if (kernel == AttentionKernel::Amx) {
        // Probabilities are rounded to bf16 before the PV product.
        EXPECT_GE(d.cosine, 0.999);
        EXPECT_LE(d.rel(), 2e-2) << "max abs " << d.max_abs << " of " << d.max_ref;
      } else {
        EXPECT_LE(d.rel(), 1e-5) << "max abs " << d.max_abs << " of " << d.max_ref;
      }
    }
  }
}

// [B, H, S, D] views the way models make them: a [B, S, H*D] projection reshaped and permuted.
Tensor heads_view(const Tensor& bsx, int64_t heads) {
  const int64_t b = bsx.dim(0), s = bsx.dim(1), d = bsx.dim(2) / heads;
  return bsx.reshape({b, s, heads, d}).permute({0, 2, 1, 3});
}

TEST(Attention, SquareContiguous) {
  check_all(random_tensor({1, 2, 64, 64}, 1), random_tensor({1, 2, 64, 64}, 2), random_tensor({1, 2, 64, 64}, 3));
}

TEST(Attention, OddLengthsHeadDim128) {
  check_all(random_tensor({1, 2, 7, 128}, 4), random_tensor({1, 2, 31, 128}, 5), random_tensor({1, 2, 31, 128}, 6));
}

TEST(Attention, ManyKeyBlocksAndBatch) {
  // Sk spans several key blocks with a ragged tail; Sq spans several query tiles.
  check_all(random_tensor({2, 2, 45, 64}, 7), random_tensor({2, 2, 700, 64}, 8), random_tensor({2, 2, 700, 64}, 9));
}

TEST(Attention, ManyQueryBlocksWithPerRowBiases) {
  // More query rows than one work item holds (the AMX kernel takes 96), ending in a partial one,
  // with a per-row additive term so each row must meet its own bias.
  const int64_t Sq = 230, Sk = 300;
  const Tensor q = random_tensor({1, 2, Sq, 128}, 50), k = random_tensor({1, 2, Sk, 128}, 51),
               v = random_tensor({1, 2, Sk, 128}, 52);
  check_all(q, k, v);
  AttentionOptions o;
  o.additive = random_tensor({1, 2, Sq, Sk}, 53, 3.0f);
  check_all(q, k, v, o);
}

TEST(Attention, PeakedScoresRescaleAcrossBlocks) {
  // Large logits whose max keeps growing along the keys exercise the running-max rescale.
  Tensor k = random_tensor({1, 1, 600, 64}, 10);
  float* kp = k.data_mut<float>();
  for (int64_t j = 0; j < 600; ++j)
    for (int64_t d = 0; d < 64; ++d) kp[j * 64 + d] *= 0.5f + 0.01f * static_cast<float>(j);
  check_all(random_tensor({1, 1, 20, 64}, 11, 2.0f), k, random_tensor({1, 1, 600, 64}, 12));
}

TEST(Attention, GroupedQueryHeads) {
  check_all(random_tensor({1, 4, 19, 64}, 13), random_tensor({1, 2, 40, 64}, 14), random_tensor({1, 2, 40, 64}, 15));
  check_all(random_tensor({2, 8, 9, 32}, 16), random_tensor({2, 1, 70, 32}, 17), random_tensor({2, 1, 70, 32}, 18));
}

TEST(Attention, StridedPermutedViews) {
  // q from its own [B, S, H*D] projection; k and v as the two halves of one fused
  // [B, S, 2*H*D] buffer, viewed in place (no copies), in f32 and in bf16.
  const int64_t B = 2, S = 37, H = 3, D = 64;
  for (DType dt : {DType::F32, DType::BF16}) {
    const Tensor q = heads_view(random_tensor({B, S, H * D}, 19, 1.0f, dt), H);
    const Tensor kv = random_tensor({B, S, 2 * H * D}, 20, 1.0f, dt).reshape({B, S, 2, H, D});
    const Tensor k = kv.select(2, 0).permute({0, 2, 1, 3});
    const Tensor v = kv.select(2, 1).permute({0, 2, 1, 3});
    ASSERT_FALSE(k.is_contiguous());
    ASSERT_EQ(k.strides()[2], 2 * H * D);
    check_all(q, k, v);
  }
}

TEST(Attention, KeyMaskPartlyAndFullyMasked) {
  const int64_t B = 3, H = 2, Sq = 13, Sk = 150, D = 64;
  std::vector<float> m(B * Sk, 1.0f);
  for (int64_t j = 100; j < Sk; ++j) m[0 * Sk + j] = 0.0f;           // padded tail
  for (int64_t j = 0; j < Sk; j += 3) m[1 * Sk + j] = 0.0f;          // scattered holes
  for (int64_t j = 0; j < Sk; ++j) m[2 * Sk + j] = 0.0f;             // nothing to attend
  AttentionOptions o;
  o.key_mask = Tensor::from_f32({B, Sk}, m).to(DType::Bool);
  const Tensor q = random_tensor({B, H, Sq, D}, 21), k = random_tensor({B, H, Sk, D}, 22),
               v = random_tensor({B, H, Sk, D}, 23);
  check_all(q, k, v, o);
  o.key_mask = Tensor::from_f32({B, Sk}, m).to(DType::I64);
  check_all(q, k, v, o);
  const Tensor out = attention(q, k, v, o);
  for (float x : out.slice(0, 2, 3).to_f32_vector()) ASSERT_EQ(x, 0.0f);  // documented: fully masked -> 0
}

TEST(Attention, AdditiveMasksBroadcast) {
  const int64_t B = 2, H = 2, Sq = 21, Sk = 77, D = 64;
  const Tensor q = random_tensor({B, H, Sq, D}, 24), k = random_tensor({B, H, Sk, D}, 25),
               v = random_tensor({B, H, Sk, D}, 26);
  AttentionOptions o;
  o.additive = random_tensor({1, 1, Sq, Sk}, 27);
  check_all(q, k, v, o);
  o.additive = random_tensor({B, 1, 1, Sk}, 28);
  check_all(q, k, v, o);
  o.additive = random_tensor({Sk}, 29);  // right-aligned broadcast
  check_all(q, k, v, o);
  // Block-causal with -inf, combined with a key mask; row 0 of block 0 sees only its block.
  std::vector<float> causal(Sq * Sk);
  for (int64_t i = 0; i < Sq; ++i)
    for (int64_t j = 0; j < Sk; ++j)
      causal[i * Sk + j] = j / 8 <= i / 8 ? 0.0f : -std::numeric_limits<float>::infinity();
  o.additive = Tensor::from_f32({1, 1, Sq, Sk}, causal);
  std::vector<float> m(B * Sk, 1.0f);
  m[Sk + 3] = 0.0f;
  o.key_mask = Tensor::from_f32({B, Sk}, m).to(DType::U8);
  check_all(q, k, v, o);
}

TEST(Attention, Bf16InputsAndCustomScale) {
  AttentionOptions o;
  o.scale = 0.3f;
  check_all(random_tensor({1, 2, 50, 128}, 30, 1.0f, DType::BF16), random_tensor({1, 2, 66, 128}, 31, 1.0f, DType::BF16),
            random_tensor({1, 2, 66, 128}, 32, 1.0f, DType::BF16), o);
}

TEST(Attention, OddHeadDim) {
  check_all(random_tensor({1, 1, 10, 40}, 33), random_tensor({1, 1, 12, 40}, 34), random_tensor({1, 1, 12, 40}, 35));
}

// attention_into: the output as the leading channels of a wider bf16 buffer, viewed as heads,
// equals the f32 output rounded once to bf16, on every kernel; the other channels are untouched.
TEST(Attention, IntoBf16LeadingChannelsOfAWiderBuffer) {
  const int64_t B = 2, H = 3, Sq = 37, Sk = 45, D = 64, C = (H + 2) * D;
  const Tensor q = heads_view(random_tensor({B, Sq, H * D}, 60), H), k = heads_view(random_tensor({B, Sk, H * D}, 61), H),
               v = heads_view(random_tensor({B, Sk, H * D}, 62), H);
  for (AttentionPrecision precision : {AttentionPrecision::F32, AttentionPrecision::BF16}) {
    for (AttentionKernel kernel : kernels_for(precision)) {
      SCOPED_TRACE(attention_kernel_name(kernel));
      AttentionOptions o;
      o.precision = precision;
      o.kernel = kernel;
      const Tensor want = attention(q, k, v, o).to(DType::BF16).to(DType::F32);
      const Tensor before = random_tensor({B, Sq, C}, 63).to(DType::BF16);
      Tensor buffer = before.clone();
      Tensor out = buffer.reshape({B, Sq, H + 2, D}).slice(2, 0, H);
      attention_into(q, k, v, out, o);
      // (one bf16 ulp: the two runs round f32 results that may differ in the last bits)
      const auto d = compare(out.to(DType::F32), want.reshape({B, Sq, H, D}));
      EXPECT_LE(d.rel(), 1.0 / 128) << "max abs " << d.max_abs;
      EXPECT_GE(d.cosine, 0.99999);
      EXPECT_EQ(compare(buffer.slice(2, H * D, C).to(DType::F32), before.slice(2, H * D, C).to(DType::F32)).max_abs,
                0.0);
    }
  }
}

TEST(Attention, RejectsBadArguments) {
  const Tensor q = random_tensor({1, 3, 4, 16}, 36), k = random_tensor({1, 2, 5, 16}, 37);
  EXPECT_THROW(attention(q, k, k), Error);  // 3 query heads over 2 kv heads
  const Tensor q2 = random_tensor({1, 2, 4, 16}, 38);
  EXPECT_THROW(attention(q2, k, random_tensor({1, 2, 6, 16}, 39)), Error);
  AttentionOptions o;
  o.key_mask = Tensor::zeros({1, 4}, DType::Bool);
  EXPECT_THROW(attention(q2, k, k, o), Error);
  o = {};
  o.additive = random_tensor({1, 3, 4, 5}, 40);
  EXPECT_THROW(attention(q2, k, k, o), Error);
  o = {};
  o.precision = AttentionPrecision::F32;
  o.kernel = AttentionKernel::Amx;
  EXPECT_THROW(attention(q2, k, k, o), Error);
  const Tensor strided_d = random_tensor({1, 2, 16, 4}, 41).transpose(2, 3);
  EXPECT_THROW(attention(strided_d, k, k), Error);
  // attention_into: wrong shape, wrong dtype, output over an input.
  Tensor wrong_shape = Tensor::empty({1, 2, 4, 16}, DType::F32);  // [B, H, S, D] instead of [B, S, H, D]
  EXPECT_THROW(attention_into(q2, k, k, wrong_shape), Error);
  Tensor wrong_dtype = Tensor::empty({1, 4, 2, 16}, DType::F16);
  EXPECT_THROW(attention_into(q2, k, k, wrong_dtype), Error);
  Tensor qkv = random_tensor({1, 4, 2, 16}, 42);
  Tensor q_view = qkv.permute({0, 2, 1, 3});
  EXPECT_THROW(attention_into(q_view, k, k, qkv), Error);
}

}  // namespace
}  // namespace diffuse::ops
