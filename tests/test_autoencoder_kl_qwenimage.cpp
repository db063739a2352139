// AutoencoderKLQwenImage (Qwen-Image causal VAE, single frames): config parsing with the
// reference defaults, the real checkpoint's tensor list under expected-only binding (full and
// decoder-only), encode / decode against a naive reference that runs the causal convolutions
// as real 3-D convolutions, on a layout unlike the fixtures (3 levels with the temporal flags
// the other way round, 2 residual blocks, 2 image channels, batch 2, odd latent sizes), bf16
// mode and bf16-stored weights, 5-D inputs, the latent helpers and input validation.
// The golden fixtures run as parity.autoencoder_kl_qwenimage_* ctest cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "autoencoder_kl_qwenimage_reference.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/vae/autoencoder_kl_qwenimage.h"
#include "ops/elementwise.h"
#include "parity/fixture_case.h"
#include "random_tensor.h"
#include "test_safetensors_helpers.h"

namespace diffuse::models {
namespace {

using testing::compare;
using testing::random_tensor;

// vae/config.json of Qwen/Qwen-Image (shared/models/qwen-image.md section 2).
const char* kQwenImageConfig = R"({
  "_class_name": "AutoencoderKLQwenImage", "attn_scales": [], "base_dim": 96, "dim_mult": [1, 2, 4, 4],
  "dropout": 0.0, "num_res_blocks": 2, "temperal_downsample": [false, true, true], "z_dim": 16,
  "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715,
                   0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
  "latents_std": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652,
                  1.5579, 1.6382, 1.1253, 2.8251, 1.9160]})";

AutoencoderKLQwenImageConfig parse(const io::Json& j) { return AutoencoderKLQwenImageConfig::from_json(j, "vae/config.json"); }

// Differs from the fixtures in every structural choice: 3 levels with multipliers [1, 3, 2]
// (a shortcut in both directions), 2 residual blocks, time flags [true, false] (so the decoder
// has upsample2d first, then upsample3d), 2 image channels, z_dim 3.
io::Json small_config_json() {
  return io::Json{{"base_dim", 4},         {"dim_mult", {1, 3, 2}},
                  {"num_res_blocks", 2},   {"temperal_downsample", {true, false}},
                  {"z_dim", 3},            {"input_channels", 2},
                  {"attn_scales", io::Json::array()},
                  {"latents_mean", {0.5, -1.0, 0.25}}, {"latents_std", {2.0, 0.5, 1.5}}};
}

void expect_error_mentions(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(AutoencoderKLQwenImageConfig, ParsesTheRealConfig) {
  const auto c = parse(io::parse_json(kQwenImageConfig, "qwen"));
  EXPECT_EQ(c.base_dim, 96);
  EXPECT_EQ(c.z_dim, 16);
  EXPECT_EQ(c.dim_mult, (std::vector<int64_t>{1, 2, 4, 4}));
  EXPECT_EQ(c.num_res_blocks, 2);
  EXPECT_EQ(c.temperal_downsample, (std::vector<bool>{false, true, true}));
  EXPECT_EQ(c.input_channels, 3);
  ASSERT_EQ(c.latents_mean.size(), 16u);
  EXPECT_DOUBLE_EQ(c.latents_mean[7], 1.5508);
  EXPECT_DOUBLE_EQ(c.latents_std[15], 1.9160);
  EXPECT_EQ(c.downscale_factor(), 8);
  EXPECT_EQ(c.level_channels(3), 384);
}

TEST(AutoencoderKLQwenImageConfig, AbsentFieldsTakeReferenceDefaults) {
  const auto c = parse(io::Json::object());
  const auto real = parse(io::parse_json(kQwenImageConfig, "qwen"));
  EXPECT_EQ(c.base_dim, real.base_dim);
  EXPECT_EQ(c.z_dim, real.z_dim);
  EXPECT_EQ(c.dim_mult, real.dim_mult);
  EXPECT_EQ(c.num_res_blocks, real.num_res_blocks);
  EXPECT_EQ(c.temperal_downsample, real.temperal_downsample);
  EXPECT_EQ(c.latents_mean, real.latents_mean);
  EXPECT_EQ(c.latents_std, real.latents_std);
  EXPECT_EQ(c.input_channels, 3);
}

TEST(AutoencoderKLQwenImageConfig, RejectsWhatItCannotRun) {
  const auto with = [](const std::string& key, const io::Json& value) {
    io::Json j = io::parse_json(kQwenImageConfig, "qwen");
    j[key] = value;
    return j;
  };
  expect_error_mentions([&] { parse(with("attn_scales", {0.5})); }, "attn_scales");
  expect_error_mentions([&] { parse(with("temperal_downsample", {false, true})); }, "temperal_downsample");
  expect_error_mentions([&] { parse(with("temperal_downsample", {false, 1, true})); }, "temperal_downsample[1]");
  expect_error_mentions([&] { parse(with("latents_mean", {0.0, 1.0})); }, "latents_mean");
  expect_error_mentions([&] { parse(with("z_dim", 8)); }, "z_dim = 8");  // default statistics hold 16
  expect_error_mentions([&] { parse(with("num_res_blocks", 0)); }, "num_res_blocks");
  expect_error_mentions([&] { parse(with("dim_mult", {1, 0, 4, 4})); }, "dim_mult[1]");
  expect_error_mentions([&] { parse(with("base_dim", "96")); }, "base_dim");
}

std::map<std::string, Shape> expected_shapes(const io::WeightBinder& binder) {
  std::map<std::string, Shape> shapes;
  for (const auto& e : binder.expected()) shapes[e.name] = e.shape;
  return shapes;
}

size_t count_prefix(const std::map<std::string, Shape>& shapes, const std::string& p) {
  return static_cast<size_t>(
      std::count_if(shapes.begin(), shapes.end(), [&](const auto& e) { return e.first.rfind(p, 0) == 0; }));
}

TEST(AutoencoderKLQwenImage, ExpectedOnlyBindingListsTheRealTensors) {
  const auto cfg = parse(io::parse_json(kQwenImageConfig, "qwen"));
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const AutoencoderKLQwenImage vae(cfg, binder, ModelOptions{});
  const auto shapes = expected_shapes(binder);
  EXPECT_EQ(binder.expected().size(), 194u);
  EXPECT_EQ(shapes.size(), 194u);
  EXPECT_EQ(count_prefix(shapes, "encoder."), 84u);
  EXPECT_EQ(count_prefix(shapes, "quant_conv."), 2u);
  EXPECT_EQ(count_prefix(shapes, "post_quant_conv."), 2u);
  EXPECT_EQ(count_prefix(shapes, "decoder."), 106u);
  const std::map<std::string, Shape> some = {
      {"encoder.conv_in.weight", {96, 3, 3, 3, 3}},
      {"encoder.down_blocks.0.norm1.gamma", {96, 1, 1, 1}},
      {"encoder.down_blocks.2.resample.1.weight", {96, 96, 3, 3}},
      {"encoder.down_blocks.3.conv_shortcut.weight", {192, 96, 1, 1, 1}},
      {"encoder.down_blocks.5.time_conv.weight", {192, 192, 3, 1, 1}},
      {"encoder.down_blocks.8.time_conv.bias", {384}},
      {"encoder.down_blocks.10.conv2.weight", {384, 384, 3, 3, 3}},
      {"encoder.mid_block.attentions.0.norm.gamma", {384, 1, 1}},
      {"encoder.mid_block.attentions.0.to_qkv.weight", {1152, 384, 1, 1}},
      {"encoder.conv_out.weight", {32, 384, 3, 3, 3}},
      {"quant_conv.weight", {32, 32, 1, 1, 1}},
      {"post_quant_conv.weight", {16, 16, 1, 1, 1}},
      {"decoder.conv_in.weight", {384, 16, 3, 3, 3}},
      {"decoder.mid_block.attentions.0.proj.weight", {384, 384, 1, 1}},
      {"decoder.up_blocks.0.upsamplers.0.time_conv.weight", {768, 384, 3, 1, 1}},
      {"decoder.up_blocks.0.upsamplers.0.resample.1.weight", {192, 384, 3, 3}},
      {"decoder.up_blocks.1.resnets.0.conv_shortcut.weight", {384, 192, 1, 1, 1}},
      {"decoder.up_blocks.2.upsamplers.0.resample.1.bias", {96}},
      {"decoder.up_blocks.3.resnets.2.conv1.weight", {96, 96, 3, 3, 3}},
      {"decoder.norm_out.gamma", {96, 1, 1, 1}},
      {"decoder.conv_out.weight", {3, 96, 3, 3, 3}},
  };
  for (const auto& [name, shape] : some) {
    ASSERT_TRUE(shapes.count(name)) << name;
    EXPECT_EQ(shapes.at(name), shape) << name;
  }
  // Only the 3d resamplers hold a time_conv; the last levels do not resample.
  EXPECT_FALSE(shapes.count("encoder.down_blocks.2.time_conv.weight"));
  EXPECT_FALSE(shapes.count("decoder.up_blocks.2.upsamplers.0.time_conv.weight"));
  EXPECT_FALSE(shapes.count("decoder.up_blocks.3.upsamplers.0.resample.1.weight"));
  EXPECT_FALSE(shapes.count("encoder.down_blocks.11.conv1.weight"));
  // Without weights the model refuses to run instead of computing garbage.
  EXPECT_THROW(vae.decode(Tensor::zeros({1, 16, 2, 2}, DType::F32)), Error);
}

TEST(AutoencoderKLQwenImage, DecoderOnlyBindingListsDecoderAndPostQuantConv) {
  const auto cfg = parse(io::parse_json(kQwenImageConfig, "qwen"));
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const AutoencoderKLQwenImage vae(cfg, binder, ModelOptions{}, /*decoder_only=*/true);
  const auto shapes = expected_shapes(binder);
  EXPECT_EQ(shapes.size(), 108u);
  EXPECT_EQ(count_prefix(shapes, "decoder."), 106u);
  EXPECT_EQ(count_prefix(shapes, "post_quant_conv."), 2u);
  EXPECT_TRUE(vae.decoder_only());
  expect_error_mentions([&] { vae.encode(Tensor::zeros({1, 3, 8, 8}, DType::F32)); }, "decoder-only");
}

// Random weights for every tensor the model expects, scaled like the fixtures (weights
// N(0, clip(1/sqrt(fan_in), 0.02, 0.2)), biases N(0, 0.05), norm scales 1 + N(0, 0.1)).
std::map<std::string, Tensor> random_weights(const AutoencoderKLQwenImageConfig& cfg, uint32_t seed) {
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const AutoencoderKLQwenImage listing(cfg, binder, ModelOptions{});
  std::map<std::string, Tensor> w;
  for (const auto& e : binder.expected()) {
    ++seed;
    const auto ends_with = [&](const std::string& s) {
      return e.name.size() >= s.size() && e.name.compare(e.name.size() - s.size(), s.size(), s) == 0;
    };
    if (ends_with(".bias")) {
      w[e.name] = random_tensor(e.shape, seed, 0.05f);
    } else if (ends_with(".gamma")) {
      w[e.name] = ops::add(random_tensor(e.shape, seed, 0.1f), 1.0f);
    } else {
      const int64_t fan_in = shape_numel(e.shape) / e.shape[0];
      const float scale = std::clamp(1.0f / std::sqrt(static_cast<float>(fan_in)), 0.02f, 0.2f);
      w[e.name] = random_tensor(e.shape, seed, scale);
    }
  }
  return w;
}

struct BuiltVae {
  testing::ScratchDir dir;
  std::unique_ptr<io::WeightBinder> binder;
  std::unique_ptr<AutoencoderKLQwenImage> vae;
};

// Writes the weights as a safetensors file (optionally stored as bf16) and builds the model.
std::unique_ptr<BuiltVae> build(const AutoencoderKLQwenImageConfig& cfg, const std::map<std::string, Tensor>& weights,
                                Precision precision, DType stored = DType::F32, bool decoder_only = false) {
  auto out = std::make_unique<BuiltVae>();
  io::NamedTensors named;
  for (const auto& [name, t] : weights) named.emplace_back(name, stored == DType::F32 ? t : t.to(stored));
  const std::string path = out->dir / "vae.safetensors";
  io::write_safetensors(path, named);
  out->binder = std::make_unique<io::WeightBinder>(io::WeightSource::open_file(path));
  ModelOptions options;
  options.precision = precision;
  out->vae = std::make_unique<AutoencoderKLQwenImage>(cfg, *out->binder, options, decoder_only);
  out->binder->check();
  EXPECT_TRUE(out->binder->ok()) << out->binder->report();
  return out;
}

void expect_f32_close(const Tensor& got, const Tensor& want, double rel_tol = 2e-5) {
  ASSERT_EQ(got.shape(), want.shape());
  const auto d = compare(got, want);
  EXPECT_LE(d.rel(), rel_tol) << "max abs " << d.max_abs << " of max " << d.max_ref;
  EXPECT_GE(d.cosine, 0.999999);
}

void expect_bf16_close(const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape());
  const auto d = compare(got, want);
  EXPECT_GE(d.cosine, 0.999);
  EXPECT_LE(d.rel(), 0.03);
}

TEST(AutoencoderKLQwenImage, DecodeMatchesNaiveReferenceOnAnotherLayout) {
  const auto cfg = parse(small_config_json());
  auto weights = random_weights(cfg, 100);
  // Push one output channel past 1 so that the final clamp is exercised.
  weights["decoder.conv_out.bias"].data_mut<float>()[1] = 1.5f;
  const testing::AutoencoderKLQwenImageReference ref(cfg, weights);
  const Tensor z = random_tensor({2, 3, 3, 5}, 7);  // odd latent sizes
  const Tensor unclamped = ref.decode_unclamped(z);
  ASSERT_EQ(unclamped.shape(), (Shape{2, 2, 12, 20}));
  const Tensor want = ops::clamp(unclamped, -1.0f, 1.0f);
  ASSERT_GT(compare(unclamped, want).max_abs, 0.1) << "the clamp is not exercised";

  const auto f32 = build(cfg, weights, Precision::F32);
  EXPECT_EQ(f32->binder->matched_count(), weights.size());
  Tensor traced_unclamped;
  const Trace trace([&](const std::string& path, const Tensor& t) {
    if (path == "decoder") traced_unclamped = t;
  });
  expect_f32_close(f32->vae->decode(z, &trace), want);
  expect_f32_close(traced_unclamped, unclamped);

  const auto bf16 = build(cfg, weights, Precision::BF16);
  expect_bf16_close(bf16->vae->decode(z), want);

  // The decoder-only load of the full checkpoint decodes the same and ignores the encoder.
  const auto dec = build(cfg, weights, Precision::F32, DType::F32, /*decoder_only=*/true);
  EXPECT_TRUE(dec->binder->unexpected().empty());
  EXPECT_EQ(dec->binder->matched_count() + count_prefix(expected_shapes(*f32->binder), "encoder.") + 2,
            weights.size());
  EXPECT_EQ(compare(dec->vae->decode(z), f32->vae->decode(z)).max_abs, 0.0);
}

TEST(AutoencoderKLQwenImage, EncodeMatchesNaiveReferenceOnAnotherLayout) {
  const auto cfg = parse(small_config_json());
  auto weights = random_weights(cfg, 200);
  // Push one logvar channel far above the reference's clamp so that the clamp is exercised.
  weights["quant_conv.bias"].data_mut<float>()[cfg.z_dim + 1] = 40.0f;
  const testing::AutoencoderKLQwenImageReference ref(cfg, weights);
  const Tensor x = random_tensor({2, 2, 16, 12}, 8, 0.5f);
  const Tensor moments = ref.encode_moments(x);
  ASSERT_EQ(moments.shape(), (Shape{2, 6, 4, 3}));
  const Tensor want_mean = moments.slice(1, 0, 3).contiguous();
  const Tensor want_logvar = moments.slice(1, 3, 6).contiguous();

  const auto f32 = build(cfg, weights, Precision::F32);
  const auto p = f32->vae->encode(x);
  expect_f32_close(p.mean, want_mean);
  ASSERT_EQ(p.logvar.shape(), (Shape{2, 3, 4, 3}));
  for (int64_t c = 0; c < 3; ++c) {
    const Tensor got_c = p.logvar.slice(1, c, c + 1).contiguous(), want_c = want_logvar.slice(1, c, c + 1).contiguous();
    if (c == 1) {
      for (float v : got_c.to_f32_vector()) EXPECT_EQ(v, 20.0f);
      EXPECT_GT(compare(want_c, got_c).max_abs, 1.0);  // the reference moments were above 20
    } else {
      expect_f32_close(got_c, want_c);
    }
  }

  const auto bf16 = build(cfg, weights, Precision::BF16);
  expect_bf16_close(bf16->vae->encode(x).mean, want_mean);
}

TEST(AutoencoderKLQwenImage, AcceptsSingleFrameFiveDimensionalInputs) {
  const auto cfg = parse(small_config_json());
  const auto vae = build(cfg, random_weights(cfg, 300), Precision::F32);
  const Tensor z = random_tensor({1, 3, 2, 3}, 9);
  EXPECT_EQ(compare(vae->vae->decode(z.unsqueeze(2)), vae->vae->decode(z)).max_abs, 0.0);
  const Tensor x = random_tensor({1, 2, 8, 4}, 10);
  EXPECT_EQ(compare(vae->vae->encode(x.unsqueeze(2)).mean, vae->vae->encode(x).mean).max_abs, 0.0);
  // Latents of a single row / column decode too.
  EXPECT_EQ(vae->vae->decode(random_tensor({1, 3, 1, 1}, 11)).shape(), (Shape{1, 2, 4, 4}));
}

TEST(AutoencoderKLQwenImage, Bf16StoredWeightsGiveTheSameF32Result) {
  // Real checkpoints store bf16. In f32 mode they must compute exactly what f32 weights holding
  // the same (bf16-representable) values compute.
  const auto cfg = parse(small_config_json());
  auto weights = random_weights(cfg, 400);
  for (auto& [name, t] : weights) t = t.to(DType::BF16).to(DType::F32);
  const auto from_f32 = build(cfg, weights, Precision::F32, DType::F32);
  const auto from_bf16 = build(cfg, weights, Precision::F32, DType::BF16);
  const Tensor z = random_tensor({1, 3, 2, 3}, 11);
  EXPECT_EQ(compare(from_bf16->vae->decode(z), from_f32->vae->decode(z)).max_abs, 0.0);
}

TEST(AutoencoderKLQwenImage, LatentHelpersApplyPerChannelStatistics) {
  const auto cfg = parse(small_config_json());  // mean {0.5, -1, 0.25}, std {2, 0.5, 1.5}
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const AutoencoderKLQwenImage vae(cfg, binder, ModelOptions{});
  const Tensor z = random_tensor({2, 3, 2, 4}, 12);
  const Tensor m = vae.to_model_latent(z);
  const Tensor back = vae.from_model_latent(m);
  ASSERT_EQ(m.shape(), z.shape());
  const auto zv = z.to_f32_vector(), mv = m.to_f32_vector(), bv = back.to_f32_vector();
  const float mean[] = {0.5f, -1.0f, 0.25f}, stdev[] = {2.0f, 0.5f, 1.5f};
  for (size_t i = 0; i < zv.size(); ++i) {
    const size_t c = (i / 8) % 3;
    EXPECT_EQ(mv[i], (zv[i] - mean[c]) / stdev[c]) << i;
    EXPECT_EQ(bv[i], mv[i] * stdev[c] + mean[c]) << i;
  }
  // 5-D keeps its shape; wrong channel counts are refused.
  EXPECT_EQ(vae.to_model_latent(z.unsqueeze(2)).shape(), (Shape{2, 3, 1, 2, 4}));
  EXPECT_THROW(vae.to_model_latent(random_tensor({1, 4, 2, 2}, 13)), Error);
}

TEST(AutoencoderKLQwenImage, RejectsMalformedInputs) {
  const auto cfg = parse(small_config_json());
  const auto vae = build(cfg, random_weights(cfg, 500), Precision::F32);
  expect_error_mentions([&] { vae->vae->decode(random_tensor({1, 4, 2, 2}, 1)); }, "decode input");
  expect_error_mentions([&] { vae->vae->decode(random_tensor({1, 3, 2, 2, 2}, 1)); }, "single frame");
  expect_error_mentions([&] { vae->vae->decode(random_tensor({3, 2, 2}, 1)); }, "decode input");
  expect_error_mentions([&] { vae->vae->encode(random_tensor({1, 3, 8, 8}, 1)); }, "encode input");
  expect_error_mentions([&] { vae->vae->encode(random_tensor({1, 2, 8, 6}, 1)); }, "downscale factor 4");
  expect_error_mentions([&] { vae->vae->encode(random_tensor({1, 2, 8, 8}, 1, 1.0f, DType::BF16)); }, "f32");
}

TEST(AutoencoderKLQwenImage, MissingOrMisshapenWeightsAreReported) {
  const auto cfg = parse(small_config_json());
  auto weights = random_weights(cfg, 600);
  weights.erase("decoder.mid_block.attentions.0.to_qkv.bias");
  weights["decoder.conv_in.weight"] = random_tensor({8, 3, 3, 3}, 1);  // a 2-D kernel where 3-D is stored
  testing::ScratchDir dir;
  io::NamedTensors named(weights.begin(), weights.end());
  io::write_safetensors(dir / "vae.safetensors", named);
  io::WeightBinder binder(io::WeightSource::open_file(dir / "vae.safetensors"));
  const AutoencoderKLQwenImage vae(cfg, binder, ModelOptions{});
  EXPECT_FALSE(binder.ok());
  const std::string report = binder.report();
  EXPECT_NE(report.find("decoder.mid_block.attentions.0.to_qkv.bias"), std::string::npos) << report;
  EXPECT_NE(report.find("decoder.conv_in.weight"), std::string::npos) << report;
  EXPECT_THROW(binder.check(), Error);
}

TEST(AutoencoderKLQwenImage, TraceRecordsFixtureDumpsInForwardOrder) {
  const std::string dir = std::string(DIFFUSE_GOLDEN_DIR) + "/autoencoder_kl_qwenimage_decode";
  const auto c = parity::FixtureCase::open(dir);
  const auto cfg = AutoencoderKLQwenImageConfig::from_json(io::load_json(dir + "/config.json"), dir);
  io::WeightBinder binder(io::WeightSource::open_file(dir + "/diffusion_pytorch_model.safetensors"));
  ModelOptions options;
  options.precision = Precision::F32;
  const AutoencoderKLQwenImage vae(cfg, binder, options, /*decoder_only=*/true);
  binder.check();
  std::vector<std::string> names;
  const Trace trace([&](const std::string& path, const Tensor&) { names.push_back(path); });
  const Tensor out = vae.decode(c.tensor("in.z"), &trace);
  const std::vector<std::string> want = {"post_quant_conv",     "decoder.conv_in",     "decoder.mid_block",
                                         "decoder.up_blocks.0", "decoder.up_blocks.1", "decoder.up_blocks.2",
                                         "decoder.norm_out",    "decoder.conv_out",    "decoder"};
  EXPECT_EQ(names, want);
  for (const auto& d : c.names_with_prefix("dump.")) {
    EXPECT_NE(std::find(names.begin(), names.end(), d.substr(5)), names.end()) << d;
  }
  // The traced run (norm and SiLU in separate passes) computes what the untraced one does.
  expect_f32_close(out, vae.decode(c.tensor("in.z")), 1e-6);
  expect_f32_close(out.unsqueeze(2), c.tensor("out.sample"), 1e-3);
}

}  // namespace
}  // namespace diffuse::models
