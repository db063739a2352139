#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "golden_tensors.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "ops/reference/norm_ref.h"
#include "random_tensor.h"
#include "tensor/half.h"

namespace diffuse {
namespace {

using ops::RmsNormFlavor;
using ops::RmsNormOptions;
using testing::compare;
using testing::random_tensor;

// Largest difference in units of the last place of `dtype` at the reference value.
double max_ulps(const Tensor& got, const Tensor& want, DType dtype) {
  const std::vector<float> a = got.to_f32_vector(), b = want.to_f32_vector();
  const int mantissa = dtype == DType::BF16 ? 8 : dtype == DType::F16 ? 11 : 24;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    int e = 0;
    std::frexp(b[i] == 0 ? 1.0f : b[i], &e);
    const double ulp = std::ldexp(1.0, e - mantissa);
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]) / ulp);
  }
  return worst;
}

double fraction_equal(const Tensor& got, const Tensor& want) {
  const std::vector<float> a = got.to_f32_vector(), b = want.to_f32_vector();
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return a.empty() ? 1.0 : double(same) / double(a.size());
}

TEST(LayerNorm, HandComputed) {
  const Tensor x = Tensor::from_f32({1, 4}, {1, 2, 3, 4});
  const Tensor w = Tensor::from_f32({4}, {1, 0.5f, 2, -1});
  const Tensor b = Tensor::from_f32({4}, {0, 1, 0, 0.5f});
  // mean 2.5, biased variance 1.25: (x - 2.5) / sqrt(1.25)
  const std::vector<float> plain = ops::layer_norm(x, nullptr, nullptr, 0.0f).to_f32_vector();
  const std::vector<float> want_plain = {-1.3416407865f, -0.4472135955f, 0.4472135955f, 1.3416407865f};
  const std::vector<float> affine = ops::layer_norm(x, &w, &b, 0.0f).to_f32_vector();
  const std::vector<float> want_affine = {-1.3416407865f, 0.7763932023f, 0.8944271910f, -0.8416407865f};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(plain[i], want_plain[i], 1e-6);
    EXPECT_NEAR(affine[i], want_affine[i], 1e-6);
  }
}

TEST(LayerNorm, MatchesReferenceWithAndWithoutAffine) {
  const Tensor x = random_tensor({3, 5, 37}, 1, 2.0f);
  const Tensor w = random_tensor({37}, 2, 0.3f);
  const Tensor b = random_tensor({37}, 3, 0.3f);
  const Tensor w16 = w.to(DType::BF16);
  for (const auto& [wp, bp] : {std::pair<const Tensor*, const Tensor*>{nullptr, nullptr}, {&w, &b},
                               {&w16, nullptr}, {nullptr, &b}}) {
    const auto d = compare(ops::layer_norm(x, wp, bp, 1e-5f), ops::ref::layer_norm(x, wp, bp, 1e-5f));
    EXPECT_LT(d.max_abs, 2e-6) << (wp != nullptr) << (bp != nullptr);
  }
}

TEST(LayerNorm, LargeMeanKeepsPrecision) {
  // DiT hidden states reach 1e6..1e7; a one-pass E[x^2]-E[x]^2 in f32 would lose everything.
  std::vector<float> v = random_tensor({4, 300}, 4).to_f32_vector();
  for (float& e : v) e += 3.0e6f;
  const Tensor x = Tensor::from_f32({4, 300}, v);
  const auto d = compare(ops::layer_norm(x, nullptr, nullptr, 1e-6f), ops::ref::layer_norm(x, nullptr, nullptr, 1e-6f));
  EXPECT_LT(d.max_abs, 2e-6);
  // A row whose first element is a huge outlier, and a constant row (zero variance).
  std::vector<float> w = random_tensor({2, 300}, 5).to_f32_vector();
  w[0] = 2.0e7f;
  for (int i = 300; i < 600; ++i) w[i] = -7.25e5f;
  const Tensor y = Tensor::from_f32({2, 300}, w);
  const auto e = compare(ops::layer_norm(y, nullptr, nullptr, 1e-6f), ops::ref::layer_norm(y, nullptr, nullptr, 1e-6f));
  EXPECT_LT(e.max_abs, 2e-6);
}

TEST(LayerNorm, RejectsBadArguments) {
  const Tensor x = random_tensor({2, 8}, 5);
  const Tensor w = random_tensor({7}, 6);
  EXPECT_THROW(ops::layer_norm(x, &w, nullptr, 1e-6f), Error);
  EXPECT_THROW(ops::layer_norm(x.to(DType::BF16), nullptr, nullptr, 1e-6f), Error);
  EXPECT_THROW(ops::layer_norm(x.transpose(0, 1), nullptr, nullptr, 1e-6f), Error);
  EXPECT_THROW(ops::layer_norm(x, nullptr, nullptr, -1.0f), Error);
}

TEST(LayerNormModulate, MatchesReferenceForEveryModulationShape) {
  const int64_t b = 2, s = 7, c = 33;
  const Tensor x = random_tensor({b, s, c}, 10, 3.0f);
  // shift/scale as chunks of one [B, 6C] modulation output: strided views.
  const Tensor mod = random_tensor({b, 6 * c}, 11, 0.5f);
  const Tensor shift_view = mod.slice(1, 0, c), scale_view = mod.slice(1, c, 2 * c);
  const Tensor shift_b1c = random_tensor({b, 1, c}, 12), scale_b1c = random_tensor({b, 1, c}, 13);
  const Tensor shift_tok = random_tensor({b, s, c}, 14), scale_tok = random_tensor({b, s, c}, 15);
  struct Case { const Tensor* shift; const Tensor* scale; };
  for (const Case& k : {Case{&shift_view, &scale_view}, Case{&shift_b1c, &scale_b1c}, Case{&shift_tok, &scale_tok},
                        Case{nullptr, &scale_view}, Case{&shift_view, nullptr}}) {
    const auto d = compare(ops::layer_norm_modulate(x, k.shift, k.scale, 1e-6f),
                           ops::ref::layer_norm_modulate(x, k.shift, k.scale, 1e-6f));
    EXPECT_LT(d.max_abs, 4e-6);
  }
}

TEST(LayerNormModulate, RoundsLikeTheUnfusedReferenceExpression) {
  // norm(x) * (1 + scale) + shift evaluated op by op in f32 must give identical bits.
  const Tensor x = random_tensor({2, 5, 19}, 20, 4.0f);
  const Tensor shift = random_tensor({2, 19}, 21), scale = random_tensor({2, 19}, 22);
  const Tensor fused = ops::layer_norm_modulate(x, &shift, &scale, 1e-6f);
  const Tensor n = ops::layer_norm(x, nullptr, nullptr, 1e-6f);
  const Tensor unfused = ops::add(ops::mul(n, ops::add(scale.unsqueeze(1), 1.0f)), shift.unsqueeze(1));
  EXPECT_EQ(compare(fused, unfused).max_abs, 0.0);
  // A BF16 output is the same f32 result rounded once to nearest even.
  const Tensor fused16 = ops::layer_norm_modulate(x, &shift, &scale, 1e-6f, DType::BF16);
  EXPECT_EQ(fused16.dtype(), DType::BF16);
  EXPECT_EQ(compare(fused16.to(DType::F32), unfused.to(DType::BF16).to(DType::F32)).max_abs, 0.0);
  EXPECT_THROW(ops::layer_norm_modulate(x, &shift, &scale, 1e-6f, DType::I8), Error);
}

TEST(LayerNormModulate, RejectsMismatchedModulation) {
  const Tensor x = random_tensor({2, 3, 8}, 30);
  const Tensor bad = random_tensor({3, 8}, 31);
  const Tensor ok = random_tensor({2, 8}, 32);
  EXPECT_THROW(ops::layer_norm_modulate(x, &bad, &ok, 1e-6f), Error);
  EXPECT_THROW(ops::layer_norm_modulate(x, &ok, &bad, 1e-6f), Error);
  const Tensor strided_last = random_tensor({2, 16}, 33).reshape({2, 8, 2}).select(2, 0);
  EXPECT_THROW(ops::layer_norm_modulate(x, &strided_last, &ok, 1e-6f), Error);
}

TEST(GroupNorm, MatchesReference) {
  const Tensor x = random_tensor({2, 12, 5, 7}, 40, 2.0f);
  const Tensor w = random_tensor({12}, 41, 0.5f), b = random_tensor({12}, 42, 0.5f);
  const Tensor w16 = w.to(DType::BF16);
  for (bool silu : {false, true}) {
    for (const auto& [wp, bp] : {std::pair<const Tensor*, const Tensor*>{nullptr, nullptr}, {&w, &b}, {&w16, &b}}) {
      const auto d = compare(ops::group_norm(x, 4, wp, bp, 1e-6f, silu),
                             ops::ref::group_norm(x, 4, wp, bp, 1e-6f, silu));
      EXPECT_LT(d.max_abs, 3e-6) << silu;
    }
  }
  EXPECT_THROW(ops::group_norm(x, 5, &w, &b, 1e-6f), Error);
}

TEST(GroupNorm, MatchesFluxVaeDecoderFixture) {
  // decoder.conv_norm_out = GroupNorm(8 groups, eps 1e-6) applied to the last up block's output.
  const std::string c = "autoencoder_kl_flux1_decode";
  const Tensor in = testing::golden_tensor(c, "io.safetensors", "dump.decoder.up_blocks.1");
  const Tensor want = testing::golden_tensor(c, "io.safetensors", "dump.decoder.conv_norm_out");
  const Tensor w = testing::golden_tensor(c, "diffusion_pytorch_model.safetensors", "decoder.conv_norm_out.weight");
  const Tensor b = testing::golden_tensor(c, "diffusion_pytorch_model.safetensors", "decoder.conv_norm_out.bias");
  const auto d = compare(ops::group_norm(in, 8, &w, &b, 1e-6f), want);
  EXPECT_LT(d.max_abs, 2e-6);
  EXPECT_GT(d.cosine, 0.9999999);
}

// ---- RMSNorm ----

TEST(RmsNorm, HandComputedFlavourRounding) {
  // x = [1, 2]: mean(x^2) = 2.5, y = x / sqrt(2.5) = [0.63245553, 1.26491106] in f32.
  const Tensor x = Tensor::from_f32({1, 2}, {1, 2});
  const Tensor w = Tensor::from_f32({2}, {1.5f, 0.75f}).to(DType::BF16);
  RmsNormOptions o;
  o.eps = 0.0f;
  // diffusers with a bf16 weight: y -> bf16 [0.6328125, 1.265625], times w, rounded to bf16.
  o.flavor = RmsNormFlavor::Diffusers;
  EXPECT_EQ(ops::rms_norm(x, &w, o).to_f32_vector(), (std::vector<float>{0.94921875f, 0.94921875f}));
  // torch.nn.RMSNorm on f32 input: y * w in f32, no rounding to bf16.
  o.flavor = RmsNormFlavor::Torch;
  EXPECT_EQ(ops::rms_norm(x, &w, o).to_f32_vector(), (std::vector<float>{0.9486832618713379f, 0.9486832618713379f}));
  // HF LLM norm on f32 input: same as torch.
  o.flavor = RmsNormFlavor::HfLlm;
  EXPECT_EQ(ops::rms_norm(x, &w, o).to_f32_vector(), (std::vector<float>{0.9486832618713379f, 0.9486832618713379f}));
  // diffusers with the weight upcast by the reference (f32 fixtures): plain f32 product.
  o.flavor = RmsNormFlavor::Diffusers;
  o.reference_weight_dtype = DType::F32;
  EXPECT_EQ(ops::rms_norm(x, &w, o).to_f32_vector(), (std::vector<float>{0.9486832618713379f, 0.9486832618713379f}));
}

TEST(RmsNorm, EpsNoneIsFloatEpsilon) {
  // x = [1e-4, 0]: mean(x^2) = 5e-9, so eps dominates. eps = FLT_EPSILON gives y0 = 0.28374153,
  // eps = 1e-6 gives 0.09975094.
  const Tensor x = Tensor::from_f32({1, 2}, {1e-4f, 0});
  RmsNormOptions o;
  o.flavor = RmsNormFlavor::Torch;
  o.eps = std::nullopt;
  EXPECT_FLOAT_EQ(ops::rms_norm(x, nullptr, o).to_f32_vector()[0], 0.2837415337562561f);
  o.eps = 1e-6f;
  EXPECT_FLOAT_EQ(ops::rms_norm(x, nullptr, o).to_f32_vector()[0], 0.09975093603134155f);
}

TEST(RmsNorm, EveryFlavourAndDtypeMatchesReference) {
  const Tensor x = random_tensor({4, 9, 64}, 50, 3.0f);
  const Tensor w32 = random_tensor({64}, 51, 0.3f);
  std::vector<float> wv = w32.to_f32_vector();
  for (float& v : wv) v += 1.0f;
  const Tensor w = Tensor::from_f32({64}, wv);
  const Tensor w16 = w.to(DType::BF16), wh = w.to(DType::F16);
  for (RmsNormFlavor flavor : {RmsNormFlavor::Diffusers, RmsNormFlavor::Torch, RmsNormFlavor::HfLlm}) {
    for (DType input : {DType::F32, DType::BF16, DType::F16}) {
      for (const Tensor* weight : {static_cast<const Tensor*>(nullptr), &w, &w16, &wh}) {
        for (bool upcast_weight : {false, true}) {
          RmsNormOptions o;
          o.flavor = flavor;
          o.reference_input_dtype = input;
          if (upcast_weight) o.reference_weight_dtype = DType::F32;
          const Tensor got = ops::rms_norm(x, weight, o), want = ops::ref::rms_norm(x, weight, o);
          // The same f32 operations: bit-exact except where a last-bit difference in the
          // variance flips a rounding to a half dtype (at most one bf16 ulp, rarely).
          const std::string what = std::to_string(int(flavor)) + " " + std::string(dtype_name(input)) + " " +
                                   (weight ? std::string(dtype_name(weight->dtype())) : "none") +
                                   (upcast_weight ? " upcast" : "");
          EXPECT_LE(max_ulps(got, want, DType::BF16), 1.0) << what;
          EXPECT_GE(fraction_equal(got, want), 0.99) << what;
        }
      }
    }
  }
}

TEST(RmsNorm, InPlaceOnStridedHeadViewOfFusedQkv) {
  // A fused [B, S, 3, H, D] projection: q is the strided [B, S, H, D] view select(2, 0).
  const int64_t b = 2, s = 5, h = 3, d = 16;
  Tensor qkv = random_tensor({b, s, 3, h, d}, 60, 2.0f);
  const Tensor before = qkv.clone();
  const Tensor w = random_tensor({d}, 61, 0.2f);
  Tensor q = qkv.select(2, 0);
  ASSERT_FALSE(q.is_contiguous());
  RmsNormOptions o;
  o.flavor = RmsNormFlavor::Torch;
  const Tensor want = ops::ref::rms_norm(q, &w, o);
  ops::rms_norm_inplace(q, &w, o);
  EXPECT_LE(compare(q, want).max_abs, 1e-6);
  // k and v are untouched.
  EXPECT_EQ(compare(qkv.select(2, 1), before.select(2, 1)).max_abs, 0.0);
  EXPECT_EQ(compare(qkv.select(2, 2), before.select(2, 2)).max_abs, 0.0);
  // Out of place on the same strided view agrees.
  EXPECT_EQ(compare(ops::rms_norm(before.select(2, 0), &w, o), q).max_abs, 0.0);
}

TEST(RmsNorm, MatchesQwenImageTextNormFixture) {
  // QwenImageTransformer2DModel.txt_norm = diffusers RMSNorm(joint_attention_dim, eps=1e-6).
  const std::string c = "qwenimage_transformer";
  const Tensor x = testing::golden_tensor(c, "io.safetensors", "in.encoder_hidden_states");
  const Tensor want = testing::golden_tensor(c, "io.safetensors", "dump.txt_norm");
  const Tensor w = testing::golden_tensor(c, "diffusion_pytorch_model.safetensors", "txt_norm.weight");
  RmsNormOptions o;
  o.flavor = RmsNormFlavor::Diffusers;
  o.eps = 1e-6f;
  const auto d = compare(ops::rms_norm(x, &w, o), want);
  EXPECT_LT(d.max_abs, 1e-6);
}

TEST(RmsNorm, RejectsBadArguments) {
  const Tensor x = random_tensor({2, 8}, 70);
  const Tensor w = random_tensor({4}, 71);
  RmsNormOptions o;
  EXPECT_THROW(ops::rms_norm(x, &w, o), Error);
  Tensor strided_last = random_tensor({2, 8, 2}, 72).select(2, 0);
  EXPECT_THROW(ops::rms_norm_inplace(strided_last, nullptr, o), Error);
  // A read-only view (like a mapped checkpoint tensor) cannot be normalized in place.
  const std::vector<float> data(16, 1.0f);
  Tensor ro = Tensor::view_of(data.data(), {2, 8}, DType::F32, nullptr);
  EXPECT_THROW(ops::rms_norm_inplace(ro, nullptr, o), Error);
  o.reference_input_dtype = DType::I32;
  EXPECT_THROW(ops::rms_norm(x, nullptr, o), Error);
}

}  // namespace
}  // namespace diffuse
