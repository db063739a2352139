// ChromaTransformer2DModel: the tensor list of the real Chroma1-HD config, the approximator's input
// rows, the two text-mask semantics, and the once-per-distinct-timestep approximator, on the
// fixture weights (numerical parity with diffusers is the parity.chroma_transformer cases).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "golden_tensors.h"
#include "io/checkpoint.h"
#include "models/dit/chroma_transformer.h"
#include "random_tensor.h"

namespace diffuse::models {
namespace {

using testing::compare;
using testing::golden_path;
using testing::golden_tensor;

constexpr const char* kCase = "chroma_transformer";

// Chroma1-HD transformer/config.json (chroma.md §2).
io::Json real_config() {
  return io::Json{{"_class_name", "ChromaTransformer2DModel"},
                  {"patch_size", 1},
                  {"in_channels", 64},
                  {"out_channels", nullptr},
                  {"num_layers", 19},
                  {"num_single_layers", 38},
                  {"attention_head_dim", 128},
                  {"num_attention_heads", 24},
                  {"joint_attention_dim", 4096},
                  {"axes_dims_rope", {16, 56, 56}},
                  {"approximator_num_channels", 64},
                  {"approximator_hidden_dim", 5120},
                  {"approximator_layers", 5},
                  {"guidance_embeds", false},
                  {"pooled_projection_dim", 768}};
}

TEST(ChromaTransformer, RealConfigExpects1023Tensors) {
  const auto config = ChromaTransformerConfig::from_json(real_config(), "config.json");
  EXPECT_EQ(config.modulation_rows(), 344);
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const ChromaTransformer2DModel model(config, binder);
  std::map<std::string, Shape> shapes;
  for (const auto& e : binder.expected()) shapes[e.name] = e.shape;
  EXPECT_EQ(binder.expected().size(), 1023u);
  EXPECT_EQ(shapes.size(), 1023u);
  const std::map<std::string, Shape> some = {
      {"x_embedder.weight", {3072, 64}},
      {"context_embedder.bias", {3072}},
      {"distilled_guidance_layer.in_proj.weight", {5120, 64}},
      {"distilled_guidance_layer.layers.4.linear_2.weight", {5120, 5120}},
      {"distilled_guidance_layer.norms.0.weight", {5120}},
      {"distilled_guidance_layer.out_proj.weight", {3072, 5120}},
      {"transformer_blocks.18.attn.norm_added_k.weight", {128}},
      {"transformer_blocks.0.attn.to_out.0.weight", {3072, 3072}},
      {"single_transformer_blocks.37.proj_out.weight", {3072, 15360}},
      {"proj_out.weight", {64, 3072}},
  };
  for (const auto& [name, shape] : some) {
    ASSERT_TRUE(shapes.count(name)) << name;
    EXPECT_EQ(shapes.at(name), shape) << name;
  }
  for (const auto& [name, shape] : shapes) {
    EXPECT_EQ(name.find("norm1.linear"), std::string::npos) << name;  // pruned adaLN linears
    EXPECT_EQ(name.find("norm_out"), std::string::npos) << name;
    EXPECT_EQ(name.find("time_text_embed"), std::string::npos) << name;  // no weights
  }
}

TEST(ChromaTransformer, ConfigValidation) {
  io::Json bad = real_config();
  bad["approximator_num_channels"] = 66;  // not divisible into time / guidance / row parts
  EXPECT_THROW(ChromaTransformerConfig::from_json(bad, "cfg"), Error);
  bad = real_config();
  bad["attention_head_dim"] = 64;  // axes 16 + 56 + 56 no longer tile a head
  EXPECT_THROW(ChromaTransformerConfig::from_json(bad, "cfg"), Error);
}

// Row r of batch b is [sinusoid_C(t_b) | sinusoid_C(0) | sinusoid_2C(1000 r)], each [cos | sin]
// with frequencies exp(-ln(1e4) k / half): checked against double-precision math for all 344 rows
// of the real model (row arguments reach 3.4e5 rad, where the reference's f32 argument rounding
// dominates: the tolerance allows it).
TEST(ChromaTransformer, ApproximatorInputRows) {
  const int64_t c = 16, rows = 344;
  const ChromaTimestepRows embed(c, rows);
  const Tensor t = Tensor::from_f32({2}, {1000.0f, 437.5f});
  const Tensor got = embed.forward(t);
  ASSERT_EQ(got.shape(), (Shape{2, rows, 4 * c}));
  const auto sinusoid = [](double value, int64_t dim, int64_t k) {
    const int64_t half = dim / 2;
    const double f = std::exp(-std::log(10000.0) * static_cast<double>(k % half) / static_cast<double>(half));
    return k < half ? std::cos(value * f) : std::sin(value * f);
  };
  double worst_time = 0, worst_row = 0;
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < c; ++k) {
        worst_time = std::max(worst_time, std::fabs(got.item({b, r, k}) - sinusoid(t.item({b}), c, k)));
        EXPECT_EQ(got.item({b, r, c + k}), k < c / 2 ? 1.0 : 0.0);  // guidance 0: cos 1, sin 0
      }
      for (int64_t k = 0; k < 2 * c; ++k) {
        const double want = sinusoid(1000.0 * static_cast<double>(r), 2 * c, k);
        worst_row = std::max(worst_row, std::fabs(got.item({b, r, 2 * c + k}) - want));
      }
    }
  }
  EXPECT_LT(worst_time, 1e-4);
  EXPECT_LT(worst_row, 5e-2);  // f32 argument and frequency rounding at |arg| up to 3.4e5
  EXPECT_GT(worst_row, 0.0);   // (the comparison is not vacuous)
}

struct Fixture {
  std::unique_ptr<ChromaTransformer2DModel> model;
  ChromaTransformerInputs inputs;
};

Fixture load(ChromaMaskMode mode, Precision precision = Precision::F32) {
  const std::string config_path = golden_path(kCase, "config.json");
  io::WeightBinder binder(io::WeightSource::open_file(golden_path(kCase, "diffusion_pytorch_model.safetensors")));
  ModelOptions o;
  o.precision = precision;
  Fixture f;
  f.model = std::make_unique<ChromaTransformer2DModel>(
      ChromaTransformerConfig::from_json(io::load_json(config_path), config_path), binder, o, mode);
  binder.check();
  const auto in = [&](const std::string& t) { return golden_tensor(kCase, "io.safetensors", "in." + t); };
  f.inputs.hidden_states = in("hidden_states");
  f.inputs.encoder_hidden_states = in("encoder_hidden_states");
  f.inputs.timestep = in("timestep");
  f.inputs.img_ids = in("img_ids");
  f.inputs.txt_ids = in("txt_ids");
  f.inputs.attention_mask = in("attention_mask");
  return f;
}

// Number of leading valid text tokens of batch item b (the pipeline keeps exactly one pad valid).
int64_t valid_text(const ChromaTransformerInputs& in, int64_t b) {
  const int64_t txt_len = in.encoder_hidden_states.dim(1);
  int64_t n = 0;
  while (n < txt_len && in.attention_mask.item({b, n}) != 0.0) ++n;
  for (int64_t j = n; j < txt_len; ++j) EXPECT_EQ(in.attention_mask.item({b, j}), 0.0);
  return n;
}

// Replaces the text tokens beyond the valid ones by unrelated values.
ChromaTransformerInputs scramble_padding(const ChromaTransformerInputs& in) {
  ChromaTransformerInputs out = in;
  out.encoder_hidden_states = in.encoder_hidden_states.clone();
  const Tensor noise = testing::random_tensor(in.encoder_hidden_states.shape(), 99, 3.0f);
  for (int64_t b = 0; b < in.encoder_hidden_states.dim(0); ++b) {
    const int64_t n = valid_text(in, b);
    const int64_t txt_len = in.encoder_hidden_states.dim(1);
    if (n < txt_len) {
      Tensor dst = out.encoder_hidden_states.select(0, b).slice(0, n, txt_len);
      dst.copy_from(noise.select(0, b).slice(0, n, txt_len));
    }
  }
  return out;
}

TEST(ChromaTransformer, FixtureHasPaddedText) {
  const Fixture f = load(ChromaMaskMode::KeyMask);
  EXPECT_LT(valid_text(f.inputs, 0), f.inputs.encoder_hidden_states.dim(1));
  EXPECT_LT(valid_text(f.inputs, 1), f.inputs.encoder_hidden_states.dim(1));
}

// The two mask semantics give different images on a padded input.
TEST(ChromaTransformer, KeyMaskAndDiffusersAdditiveMaskDiffer) {
  const Fixture key = load(ChromaMaskMode::KeyMask);
  const Fixture additive = load(ChromaMaskMode::DiffusersAdditive);
  const auto d = compare(key.model->forward(key.inputs), additive.model->forward(additive.inputs));
  EXPECT_GT(d.max_abs, 1e-2);
  EXPECT_LT(d.cosine, 0.9999);
}

// Key mask: padded text keys are excluded for every query, so what the padding tokens hold cannot
// reach the image. The additive mode still attends them (the same change moves its output).
TEST(ChromaTransformer, KeyMaskIgnoresPaddedTokens) {
  const Fixture key = load(ChromaMaskMode::KeyMask);
  const ChromaTransformerInputs scrambled = scramble_padding(key.inputs);
  const auto d = compare(key.model->forward(scrambled), key.model->forward(key.inputs));
  EXPECT_LE(d.rel(), 1e-6) << "max abs " << d.max_abs;

  const Fixture additive = load(ChromaMaskMode::DiffusersAdditive);
  const auto moved = compare(additive.model->forward(scrambled), additive.model->forward(additive.inputs));
  EXPECT_GT(moved.max_abs, 1e-2);
}

// Key mask == the padded keys do not exist: each item equals an unmasked run on its valid text
// tokens only (txt_ids are zeros, so dropping tokens moves no position).
TEST(ChromaTransformer, KeyMaskEqualsDroppingPaddedTokens) {
  for (Precision p : {Precision::F32, Precision::BF16}) {
    const Fixture f = load(ChromaMaskMode::KeyMask, p);
    const Tensor masked = f.model->forward(f.inputs);
    for (int64_t b = 0; b < 2; ++b) {
      const int64_t n = valid_text(f.inputs, b);
      ChromaTransformerInputs one;
      one.hidden_states = f.inputs.hidden_states.slice(0, b, b + 1).contiguous();
      one.encoder_hidden_states = f.inputs.encoder_hidden_states.slice(0, b, b + 1).slice(1, 0, n).contiguous();
      one.timestep = f.inputs.timestep.slice(0, b, b + 1).contiguous();
      one.img_ids = f.inputs.img_ids;
      one.txt_ids = f.inputs.txt_ids.slice(0, 0, n).contiguous();
      const auto d = compare(f.model->forward(one), masked.slice(0, b, b + 1));
      // bf16: the same products in a different summation grouping of the masked keys.
      EXPECT_LE(d.rel(), p == Precision::F32 ? 1e-5 : 2e-2) << "item " << b;
      EXPECT_GE(d.cosine, p == Precision::F32 ? 0.999999 : 0.9999) << "item " << b;
    }
  }
}

// The approximator runs once per distinct timestep: a batch sharing one (CFG) gives each item the
// result of running it alone.
TEST(ChromaTransformer, SharedTimestepMatchesSeparateRuns) {
  const Fixture f = load(ChromaMaskMode::KeyMask);
  ChromaTransformerInputs in = f.inputs;
  in.timestep = Tensor::from_f32({2}, {0.625f, 0.625f});
  const Tensor both = f.model->forward(in);
  for (int64_t b = 0; b < 2; ++b) {
    ChromaTransformerInputs one;
    one.hidden_states = in.hidden_states.slice(0, b, b + 1).contiguous();
    one.encoder_hidden_states = in.encoder_hidden_states.slice(0, b, b + 1).contiguous();
    one.timestep = in.timestep.slice(0, b, b + 1).contiguous();
    one.img_ids = in.img_ids;
    one.txt_ids = in.txt_ids;
    one.attention_mask = in.attention_mask.slice(0, b, b + 1).contiguous();
    const auto d = compare(f.model->forward(one), both.slice(0, b, b + 1));
    EXPECT_LE(d.rel(), 1e-5) << "item " << b;
  }
}

TEST(ChromaTransformer, RejectsBadMask) {
  const Fixture f = load(ChromaMaskMode::KeyMask);
  ChromaTransformerInputs in = f.inputs;
  in.attention_mask = in.attention_mask.slice(1, 0, 20).contiguous();
  EXPECT_THROW(f.model->forward(in), Error);
}

}  // namespace
}  // namespace diffuse::models
