// AutoencoderKL (FLUX.1 VAE layout and other configs): config parsing with the reference
// defaults, the tensor list of the real FLUX.1 VAE under expected-only binding, encode /
// decode against a naive reference on configs unlike the fixtures (3 levels, 2 layers per
// block, quant convs, batch 2, odd sizes), bf16-stored weights, and the latent helpers.
// The golden fixtures themselves run as parity.autoencoder_kl_flux1_* ctest cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "autoencoder_kl_reference.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/vae/autoencoder_kl.h"
#include "parity/fixture_case.h"
#include "random_tensor.h"
#include "test_safetensors_helpers.h"

namespace diffuse::models {
namespace {

using testing::compare;
using testing::random_tensor;

// vae/config.json of black-forest-labs/FLUX.1-dev (shared/models/flux1.md section 4).
const char* kFlux1Config = R"({
  "_class_name": "AutoencoderKL", "_diffusers_version": "0.30.0.dev0", "act_fn": "silu",
  "block_out_channels": [128, 256, 512, 512],
  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
  "force_upcast": true, "in_channels": 3, "latent_channels": 16, "latents_mean": null, "latents_std": null,
  "layers_per_block": 2, "mid_block_add_attention": true, "norm_num_groups": 32, "out_channels": 3,
  "sample_size": 1024, "scaling_factor": 0.3611, "shift_factor": 0.1159,
  "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
  "use_post_quant_conv": false, "use_quant_conv": false})";

AutoencoderKLConfig parse(const io::Json& j) { return AutoencoderKLConfig::from_json(j, "vae/config.json"); }

// A small config that differs from the fixtures in every structural choice.
io::Json small_config_json() {
  const std::vector<std::string> down(3, "DownEncoderBlock2D"), up(3, "UpDecoderBlock2D");
  return io::Json{{"block_out_channels", {8, 16, 24}}, {"layers_per_block", 2}, {"latent_channels", 4},
                  {"norm_num_groups", 4}, {"in_channels", 3}, {"out_channels", 2},
                  {"down_block_types", down}, {"up_block_types", up}, {"use_quant_conv", true},
                  {"use_post_quant_conv", true}, {"scaling_factor", 0.5}, {"shift_factor", 0.25}};
}

void expect_error_mentions(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(AutoencoderKLConfig, ParsesFlux1Config) {
  const auto c = parse(io::parse_json(kFlux1Config, "flux1"));
  EXPECT_EQ(c.block_out_channels, (std::vector<int64_t>{128, 256, 512, 512}));
  EXPECT_EQ(c.layers_per_block, 2);
  EXPECT_EQ(c.latent_channels, 16);
  EXPECT_EQ(c.norm_num_groups, 32);
  EXPECT_FALSE(c.use_quant_conv);
  EXPECT_FALSE(c.use_post_quant_conv);
  EXPECT_TRUE(c.mid_block_add_attention);
  EXPECT_DOUBLE_EQ(c.scaling_factor, 0.3611);
  ASSERT_TRUE(c.shift_factor.has_value());
  EXPECT_DOUBLE_EQ(*c.shift_factor, 0.1159);
  EXPECT_EQ(c.downscale_factor(), 8);
}

TEST(AutoencoderKLConfig, AbsentFieldsTakeReferenceDefaults) {
  const auto c = parse(io::Json::object());
  EXPECT_EQ(c.in_channels, 3);
  EXPECT_EQ(c.out_channels, 3);
  EXPECT_EQ(c.block_out_channels, (std::vector<int64_t>{64}));
  EXPECT_EQ(c.layers_per_block, 1);
  EXPECT_EQ(c.latent_channels, 4);
  EXPECT_EQ(c.norm_num_groups, 32);
  EXPECT_TRUE(c.use_quant_conv);
  EXPECT_TRUE(c.use_post_quant_conv);
  EXPECT_TRUE(c.mid_block_add_attention);
  EXPECT_DOUBLE_EQ(c.scaling_factor, 0.18215);
  EXPECT_FALSE(c.shift_factor.has_value());
  EXPECT_EQ(c.downscale_factor(), 1);
}

TEST(AutoencoderKLConfig, RejectsWhatItCannotRun) {
  const auto with = [](const std::string& key, const io::Json& value) {
    io::Json j = io::parse_json(kFlux1Config, "flux1");
    j[key] = value;
    return j;
  };
  expect_error_mentions([&] { parse(with("act_fn", "gelu")); }, "act_fn");
  expect_error_mentions([&] { parse(with("up_block_types", {"UpDecoderBlock2D", "UpDecoderBlock2D"})); },
                        "up_block_types");
  expect_error_mentions(
      [&] { parse(with("down_block_types", std::vector<std::string>(4, "CrossAttnDownBlock2D"))); },
      "CrossAttnDownBlock2D");
  expect_error_mentions([&] { parse(with("block_out_channels", {128, 250, 512, 512})); }, "block_out_channels[1]");
  expect_error_mentions([&] { parse(with("layers_per_block", 0)); }, "layers_per_block");
  expect_error_mentions([&] { parse(with("norm_num_groups", "32")); }, "norm_num_groups");
  expect_error_mentions([&] { parse(with("latents_mean", {0.0, 1.0})); }, "latents_mean");
}

TEST(AutoencoderKL, ExpectedOnlyBindingListsTheFlux1Tensors) {
  const auto cfg = parse(io::parse_json(kFlux1Config, "flux1"));
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const AutoencoderKL vae(cfg, binder, ModelOptions{});
  const auto& expected = binder.expected();
  EXPECT_EQ(expected.size(), 244u);
  const auto count_prefix = [&](const std::string& p) {
    return std::count_if(expected.begin(), expected.end(), [&](const auto& e) { return e.name.rfind(p, 0) == 0; });
  };
  EXPECT_EQ(count_prefix("encoder."), 106);
  EXPECT_EQ(count_prefix("decoder."), 138);
  std::map<std::string, Shape> shapes;
  for (const auto& e : expected) shapes[e.name] = e.shape;
  const std::map<std::string, Shape> some = {
      {"encoder.conv_in.weight", {128, 3, 3, 3}},
      {"encoder.down_blocks.0.downsamplers.0.conv.weight", {128, 128, 3, 3}},
      {"encoder.down_blocks.1.resnets.0.conv_shortcut.weight", {256, 128, 1, 1}},
      {"encoder.mid_block.attentions.0.to_q.weight", {512, 512}},
      {"encoder.mid_block.attentions.0.group_norm.bias", {512}},
      {"encoder.conv_out.weight", {32, 512, 3, 3}},
      {"decoder.conv_in.weight", {512, 16, 3, 3}},
      {"decoder.mid_block.attentions.0.to_out.0.bias", {512}},
      {"decoder.up_blocks.0.resnets.2.conv2.weight", {512, 512, 3, 3}},
      {"decoder.up_blocks.2.resnets.0.conv_shortcut.weight", {256, 512, 1, 1}},
      {"decoder.up_blocks.2.upsamplers.0.conv.weight", {256, 256, 3, 3}},
      {"decoder.up_blocks.3.resnets.0.conv_shortcut.bias", {128}},
      {"decoder.conv_norm_out.weight", {128}},
      {"decoder.conv_out.weight", {3, 128, 3, 3}},
  };
  for (const auto& [name, shape] : some) {
    ASSERT_TRUE(shapes.count(name)) << name;
    EXPECT_EQ(shapes[name], shape) << name;
  }
  // The last level neither downsamples nor upsamples; no quant convs in this config.
  EXPECT_FALSE(shapes.count("encoder.down_blocks.3.downsamplers.0.conv.weight"));
  EXPECT_FALSE(shapes.count("decoder.up_blocks.3.upsamplers.0.conv.weight"));
  EXPECT_FALSE(shapes.count("quant_conv.weight"));
  EXPECT_FALSE(shapes.count("post_quant_conv.weight"));
  // Without weights the model refuses to run instead of computing garbage.
  EXPECT_THROW(vae.decode(Tensor::zeros({1, 16, 2, 2}, DType::F32)), Error);
}

TEST(AutoencoderKL, ExpectedOnlyBindingAddsQuantConvsAndDropsAttention) {
  io::Json j = io::parse_json(kFlux1Config, "flux1");
  j["use_quant_conv"] = true;
  j["use_post_quant_conv"] = true;
  j["mid_block_add_attention"] = false;
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const AutoencoderKL vae(parse(j), binder, ModelOptions{});
  std::map<std::string, Shape> shapes;
  for (const auto& e : binder.expected()) shapes[e.name] = e.shape;
  EXPECT_EQ(shapes.size(), 244u + 4u - 2u * 10u);  // + quant convs, - two attentions (10 tensors each)
  EXPECT_EQ(shapes["quant_conv.weight"], (Shape{32, 32, 1, 1}));
  EXPECT_EQ(shapes["post_quant_conv.weight"], (Shape{16, 16, 1, 1}));
  EXPECT_FALSE(shapes.count("decoder.mid_block.attentions.0.to_q.weight"));
}

// Random weights for every tensor the model expects (scaled like the fixtures: weights
// N(0, 1/sqrt(fan_in)), biases N(0, 0.05), norm scales 1 + N(0, 0.1)).
std::map<std::string, Tensor> random_weights(const AutoencoderKLConfig& cfg, uint32_t seed) {
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const AutoencoderKL listing(cfg, binder, ModelOptions{});
  std::map<std::string, Tensor> w;
  for (const auto& e : binder.expected()) {
    ++seed;
    const bool bias = e.name.size() > 5 && e.name.compare(e.name.size() - 5, 5, ".bias") == 0;
    if (bias) {
      w[e.name] = random_tensor(e.shape, seed, 0.05f);
    } else if (e.shape.size() == 1) {
      Tensor t = random_tensor(e.shape, seed, 0.1f);
      float* p = t.data_mut<float>();
      for (int64_t i = 0; i < t.numel(); ++i) p[i] += 1.0f;
      w[e.name] = t;
    } else {
      const int64_t fan_in = shape_numel(e.shape) / e.shape[0];
      w[e.name] = random_tensor(e.shape, seed, 1.0f / std::sqrt(static_cast<float>(fan_in)));
    }
  }
  return w;
}

// Writes the weights as a safetensors file (optionally stored as bf16) and builds the model.
struct BuiltVae {
  testing::ScratchDir dir;
  std::unique_ptr<AutoencoderKL> vae;
};

std::unique_ptr<BuiltVae> build(const AutoencoderKLConfig& cfg, const std::map<std::string, Tensor>& weights,
                                Precision precision, DType stored = DType::F32) {
  auto out = std::make_unique<BuiltVae>();
  io::NamedTensors named;
  for (const auto& [name, t] : weights) named.emplace_back(name, stored == DType::F32 ? t : t.to(stored));
  const std::string path = out->dir / "vae.safetensors";
  io::write_safetensors(path, named);
  io::WeightBinder binder(io::WeightSource::open_file(path));
  ModelOptions options;
  options.precision = precision;
  out->vae = std::make_unique<AutoencoderKL>(cfg, binder, options);
  binder.check();
  EXPECT_TRUE(binder.ok()) << binder.report();
  EXPECT_EQ(binder.matched_count(), weights.size());
  return out;
}

void expect_f32_close(const Tensor& got, const Tensor& want, double rel_tol = 2e-5) {
  const auto d = compare(got, want);
  EXPECT_LE(d.rel(), rel_tol) << "max abs " << d.max_abs << " of max " << d.max_ref;
  EXPECT_GE(d.cosine, 0.999999);
}

TEST(AutoencoderKL, DecodeMatchesNaiveReferenceOnAnotherLayout) {
  const auto cfg = parse(small_config_json());
  const auto weights = random_weights(cfg, 100);
  const testing::AutoencoderKLReference ref(cfg, weights);
  const Tensor z = random_tensor({2, 4, 3, 5}, 7);
  const Tensor want = ref.decode(z);
  ASSERT_EQ(want.shape(), (Shape{2, 2, 12, 20}));

  const auto f32 = build(cfg, weights, Precision::F32);
  const Tensor got = f32->vae->decode(z);
  ASSERT_EQ(got.shape(), want.shape());
  expect_f32_close(got, want);

  const auto bf16 = build(cfg, weights, Precision::BF16);
  const auto d = compare(bf16->vae->decode(z), want);
  EXPECT_GE(d.cosine, 0.999);
  EXPECT_LE(d.rel(), 0.03);
}

TEST(AutoencoderKL, EncodeMatchesNaiveReferenceOnAnotherLayout) {
  const auto cfg = parse(small_config_json());
  auto weights = random_weights(cfg, 200);
  // Push one logvar channel far above the reference's clamp so that the clamp is exercised.
  Tensor& out_bias = weights["quant_conv.bias"];  // the last op before the posterior
  out_bias.data_mut<float>()[cfg.latent_channels + 1] = 40.0f;
  const testing::AutoencoderKLReference ref(cfg, weights);
  // Odd sizes: 13 -> 6 -> 3 rows and 10 -> 5 -> 2 columns (pad right/bottom, 3x3 stride 2).
  const Tensor x = random_tensor({2, 3, 13, 10}, 8);
  const Tensor moments = ref.encode_moments(x);
  ASSERT_EQ(moments.shape(), (Shape{2, 8, 3, 2}));
  const Tensor want_mean = moments.slice(1, 0, 4).contiguous();
  const Tensor want_logvar = moments.slice(1, 4, 8).contiguous();

  const auto f32 = build(cfg, weights, Precision::F32);
  const auto p = f32->vae->encode(x);
  expect_f32_close(p.mean, want_mean);
  // Channels other than the pushed one are unclamped; the pushed one sits at exactly 20.
  const Tensor lv = p.logvar;
  ASSERT_EQ(lv.shape(), (Shape{2, 4, 3, 2}));
  for (int64_t c = 0; c < 4; ++c) {
    const Tensor got_c = lv.slice(1, c, c + 1).contiguous(), want_c = want_logvar.slice(1, c, c + 1).contiguous();
    if (c == 1) {
      for (float v : got_c.to_f32_vector()) EXPECT_EQ(v, 20.0f);
      EXPECT_GT(compare(want_c, got_c).max_abs, 1.0);  // the reference moments were above 20
    } else {
      expect_f32_close(got_c, want_c);
    }
  }

  const auto bf16 = build(cfg, weights, Precision::BF16);
  const auto d = compare(bf16->vae->encode(x).mean, want_mean);
  EXPECT_GE(d.cosine, 0.999);
  EXPECT_LE(d.rel(), 0.03);
}

TEST(AutoencoderKL, WithoutMidAttentionMatchesReference) {
  io::Json j = small_config_json();
  j["mid_block_add_attention"] = false;
  j["use_quant_conv"] = false;
  j["use_post_quant_conv"] = false;
  j["layers_per_block"] = 1;
  const auto cfg = parse(j);
  const auto weights = random_weights(cfg, 300);
  const testing::AutoencoderKLReference ref(cfg, weights);
  const auto vae = build(cfg, weights, Precision::F32);
  const Tensor z = random_tensor({1, 4, 4, 3}, 9);
  expect_f32_close(vae->vae->decode(z), ref.decode(z));
  const Tensor x = random_tensor({1, 3, 8, 6}, 10);
  expect_f32_close(vae->vae->encode(x).mean, ref.encode_moments(x).slice(1, 0, 4).contiguous());
}

TEST(AutoencoderKL, Bf16StoredWeightsGiveTheSameF32Result) {
  // Real checkpoints store bf16. In f32 mode they must compute exactly what f32 weights holding
  // the same (bf16-representable) values compute.
  const auto cfg = parse(small_config_json());
  auto weights = random_weights(cfg, 400);
  for (auto& [name, t] : weights) t = t.to(DType::BF16).to(DType::F32);
  const auto from_f32 = build(cfg, weights, Precision::F32, DType::F32);
  const auto from_bf16 = build(cfg, weights, Precision::F32, DType::BF16);
  const Tensor z = random_tensor({1, 4, 2, 3}, 11);
  const auto d = compare(from_bf16->vae->decode(z), from_f32->vae->decode(z));
  EXPECT_EQ(d.max_abs, 0.0);
}

TEST(AutoencoderKL, LatentHelpersApplyShiftAndScale) {
  const auto cfg = parse(small_config_json());  // scaling 0.5, shift 0.25
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const AutoencoderKL vae(cfg, binder, ModelOptions{});
  const Tensor z = random_tensor({1, 4, 2, 3}, 12);
  const Tensor m = vae.to_model_latent(z);
  const Tensor back = vae.from_model_latent(m);
  const auto zv = z.to_f32_vector(), mv = m.to_f32_vector(), bv = back.to_f32_vector();
  for (size_t i = 0; i < zv.size(); ++i) {
    EXPECT_EQ(mv[i], (zv[i] - 0.25f) * 0.5f);
    EXPECT_EQ(bv[i], mv[i] / 0.5f + 0.25f);
  }
  // No shift_factor in the config: scale only.
  io::Json j = small_config_json();
  j.erase("shift_factor");
  io::WeightBinder b2 = io::WeightBinder::expected_only();
  const AutoencoderKL unshifted(parse(j), b2, ModelOptions{});
  const auto uv = unshifted.to_model_latent(z).to_f32_vector();
  for (size_t i = 0; i < zv.size(); ++i) EXPECT_EQ(uv[i], zv[i] * 0.5f);
  // Wrong channel count.
  EXPECT_THROW(vae.to_model_latent(random_tensor({1, 3, 2, 2}, 13)), Error);
}

TEST(AutoencoderKL, RejectsMalformedInputs) {
  const auto cfg = parse(small_config_json());
  const auto vae = build(cfg, random_weights(cfg, 500), Precision::F32);
  expect_error_mentions([&] { vae->vae->decode(random_tensor({1, 3, 2, 2}, 1)); }, "[B, 4, H, W]");
  expect_error_mentions([&] { vae->vae->decode(random_tensor({4, 2, 2}, 1)); }, "decode input");
  expect_error_mentions([&] { vae->vae->encode(random_tensor({1, 4, 8, 8}, 1)); }, "encode input");
  expect_error_mentions([&] { vae->vae->encode(random_tensor({1, 3, 8, 8}, 1, 1.0f, DType::BF16)); }, "f32");
}

TEST(AutoencoderKL, MissingOrMisshapenWeightsAreReported) {
  const auto cfg = parse(small_config_json());
  auto weights = random_weights(cfg, 600);
  weights.erase("decoder.mid_block.attentions.0.to_k.bias");
  weights["decoder.conv_in.weight"] = random_tensor({24, 4, 1, 1}, 1);
  testing::ScratchDir dir;
  io::NamedTensors named(weights.begin(), weights.end());
  io::write_safetensors(dir / "vae.safetensors", named);
  io::WeightBinder binder(io::WeightSource::open_file(dir / "vae.safetensors"));
  const AutoencoderKL vae(cfg, binder, ModelOptions{});
  EXPECT_FALSE(binder.ok());
  const std::string report = binder.report();
  EXPECT_NE(report.find("decoder.mid_block.attentions.0.to_k.bias"), std::string::npos) << report;
  EXPECT_NE(report.find("decoder.conv_in.weight"), std::string::npos) << report;
  EXPECT_THROW(binder.check(), Error);
}

TEST(AutoencoderKL, TraceRecordsFixtureDumpsInForwardOrder) {
  const std::string dir = std::string(DIFFUSE_GOLDEN_DIR) + "/autoencoder_kl_flux1_decode";
  const auto c = parity::FixtureCase::open(dir);
  const auto cfg = AutoencoderKLConfig::from_json(io::load_json(dir + "/config.json"), dir);
  io::WeightBinder binder(io::WeightSource::open_file(dir + "/diffusion_pytorch_model.safetensors"));
  ModelOptions options;
  options.precision = Precision::F32;
  const AutoencoderKL vae(cfg, binder, options);
  binder.check();
  std::vector<std::string> names;
  const Trace trace([&](const std::string& path, const Tensor&) { names.push_back(path); });
  const Tensor out = vae.decode(c.tensor("in.z"), &trace);
  const std::vector<std::string> want = {"decoder.conv_in",   "decoder.mid_block",     "decoder.up_blocks.0",
                                         "decoder.up_blocks.1", "decoder.conv_norm_out", "decoder.conv_out"};
  EXPECT_EQ(names, want);
  for (const auto& d : c.names_with_prefix("dump.")) {
    EXPECT_NE(std::find(names.begin(), names.end(), d.substr(5)), names.end()) << d;
  }
  // The traced run (norm and SiLU in separate passes) computes what the untraced one does.
  expect_f32_close(out, vae.decode(c.tensor("in.z")), 1e-6);
  expect_f32_close(out, c.tensor("out.sample"), 1e-4);
}

}  // namespace
}  // namespace diffuse::models
