// Decoder-LLM text encoder (Qwen2.5-VL / Qwen3-VL / Ministral 3 text models): config parsing,
// YaRN frequencies against TEXT_ENCODERS.md §4's worked values, the real Qwen2.5-VL-7B
// expected tensor list, and the forward pass against a naive double-precision decoder written
// from the reference formulas (plain 1-D RoPE with positions counted over real tokens),
// with left and right padding, GQA, q/k/v bias, q/k norm, YaRN and Llama-4 scaling.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <numbers>
#include <random>
#include <span>
#include <sstream>

#include "io/safetensors.h"
#include "models/text/decoder_llm.h"
#include "models/text/decoder_llm_rope.h"
#include "random_tensor.h"
#include "test_safetensors_helpers.h"

namespace diffuse::models {
namespace {

using testing::expect_error;
using testing::ScratchDir;

DecoderLlmConfig parse(const std::string& json) {
  return DecoderLlmConfig::from_json(io::parse_json(json, "config.json"), "config.json");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Qwen2.5-VL-7B-Instruct's text model as shipped in Qwen-Image's text_encoder/config.json
// (legacy flat layout). Values from TEXT_ENCODERS.md §2 and qwen-image.md §2, which cite the
// public Qwen/Qwen2.5-VL-7B-Instruct config.json; the vision_config is left out.
std::string real_qwen2_5_vl_7b() {
  return read_file(std::string(DIFFUSE_GOLDEN_DIR) + "/../data/real_configs/qwen2_5_vl_7b_text_encoder.json");
}

// Ministral-3-3B text_config (TEXT_ENCODERS.md §4; intermediate_size marked unverified there).
const char* kMinistral3b = R"({"architectures": ["Mistral3Model"], "model_type": "mistral3",
  "text_config": {"model_type": "ministral3", "hidden_size": 3072, "intermediate_size": 9216,
  "num_hidden_layers": 26, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
  "rms_norm_eps": 1e-5, "vocab_size": 131072, "tie_word_embeddings": true, "sliding_window": null,
  "max_position_embeddings": 262144,
  "rope_parameters": {"type": "yarn", "rope_type": "yarn", "rope_theta": 1e6, "factor": 16.0,
    "original_max_position_embeddings": 16384, "max_position_embeddings": 262144, "beta_fast": 32.0,
    "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0, "llama_4_scaling_beta": 0.1}}})";

// Qwen3-VL-8B-Instruct text_config (TEXT_ENCODERS.md §3; intermediate_size unverified there).
const char* kQwen3Vl8b = R"({"architectures": ["Qwen3VLForConditionalGeneration"], "model_type": "qwen3_vl",
  "text_config": {"model_type": "qwen3_vl_text", "hidden_size": 4096, "intermediate_size": 12288,
  "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
  "attention_bias": false, "rms_norm_eps": 1e-6, "rope_theta": 5000000, "vocab_size": 151936,
  "rope_scaling": {"rope_type": "default", "mrope_section": [24, 20, 20], "mrope_interleaved": true}}})";

// ---- config ----

TEST(DecoderLlmConfig, RealQwen25Vl7bFlatLayout) {
  const DecoderLlmConfig c = parse(real_qwen2_5_vl_7b());
  EXPECT_EQ(c.family, DecoderLlmFamily::Qwen2);
  EXPECT_EQ(c.hidden_size, 3584);
  EXPECT_EQ(c.intermediate_size, 18944);
  EXPECT_EQ(c.num_hidden_layers, 28);
  EXPECT_EQ(c.num_attention_heads, 28);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 128);  // hidden / heads
  EXPECT_EQ(c.vocab_size, 152064);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_DOUBLE_EQ(c.rope.theta, 1e6);
  EXPECT_EQ(c.rope.kind, RopeKind::Default);  // "mrope" is default RoPE with sections
  EXPECT_EQ(c.rope.mrope_section, (std::vector<int64_t>{16, 24, 24}));
}

TEST(DecoderLlmConfig, NestedTextConfigs) {
  const DecoderLlmConfig q3 = parse(kQwen3Vl8b);
  EXPECT_EQ(q3.family, DecoderLlmFamily::Qwen3);
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_FALSE(q3.qkv_bias);
  EXPECT_EQ(q3.head_dim, 128);
  EXPECT_DOUBLE_EQ(q3.rope.theta, 5e6);
  EXPECT_TRUE(q3.rope.mrope_interleaved);

  const DecoderLlmConfig m = parse(kMinistral3b);
  EXPECT_EQ(m.family, DecoderLlmFamily::Mistral);
  EXPECT_EQ(m.head_dim, 128);  // explicit: 32 * 128 != 3072
  EXPECT_FALSE(m.qkv_bias || m.o_bias || m.qk_norm);
  EXPECT_EQ(m.rope.kind, RopeKind::Yarn);
  EXPECT_DOUBLE_EQ(m.rope.yarn.factor, 16.0);
  EXPECT_EQ(m.rope.yarn.original_max_position_embeddings, 16384);
  ASSERT_TRUE(m.rope.llama_4_scaling_beta.has_value());
  EXPECT_DOUBLE_EQ(*m.rope.llama_4_scaling_beta, 0.1);
  EXPECT_EQ(m.rope.llama_4_original_max_position_embeddings, 16384);
  EXPECT_DOUBLE_EQ(m.rms_norm_eps, 1e-5);
}

TEST(DecoderLlmConfig, NestedFieldsWinAndMissingOnesFallBackToTheTopLevel) {
  const DecoderLlmConfig c = parse(R"({"model_type": "qwen2_5_vl", "hidden_size": 64, "intermediate_size": 96,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
      "text_config": {"model_type": "qwen2_5_vl_text", "hidden_size": 32, "num_hidden_layers": 5}})");
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.num_hidden_layers, 5);
  EXPECT_EQ(c.intermediate_size, 96);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.model_type, "qwen2_5_vl_text");
}

TEST(DecoderLlmConfig, MinistralWithoutRopeParametersTakesTheConfigDefaults) {
  const DecoderLlmConfig m = parse(R"({"model_type": "mistral3", "text_config": {"model_type": "ministral3",
      "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
      "num_key_value_heads": 2, "head_dim": 32, "vocab_size": 100}})");
  EXPECT_EQ(m.rope.kind, RopeKind::Yarn);
  EXPECT_EQ(m.rope.yarn.original_max_position_embeddings, 16384);
  EXPECT_DOUBLE_EQ(m.rope.theta, 1e6);
  EXPECT_DOUBLE_EQ(m.rope.llama_4_scaling_beta.value_or(0), 0.1);
}

TEST(DecoderLlmConfig, Qwen3AttentionBiasAppliesToAllProjections) {
  const DecoderLlmConfig c = parse(R"({"model_type": "qwen3_vl_text", "hidden_size": 48, "intermediate_size": 64,
      "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 50,
      "attention_bias": true})");
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_TRUE(c.o_bias);
  EXPECT_EQ(c.head_dim, 12);
}

TEST(DecoderLlmConfig, RejectsWhatItCannotCompute) {
  const std::string base = R"("hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100)";
  expect_error([&] { parse(R"({"model_type": "qwen2_5_vl", "rope_scaling": {"type": "linear", "factor": 2},)" + base + "}"); },
               {"config.json", "rope_scaling", "linear"});
  expect_error([&] { parse(R"({"model_type": "qwen2_5_vl", "hidden_act": "gelu",)" + base + "}"); },
               {"hidden_act", "gelu"});
  expect_error([&] { parse(R"({"model_type": "llama",)" + base + "}"); }, {"model_type", "llama"});
  expect_error([&] { parse(R"({"model_type": "qwen2_5_vl", "use_sliding_window": true,)" + base + "}"); },
               {"use_sliding_window"});
  expect_error([&] { parse(R"({"model_type": "qwen2_5_vl", "partial_rotary_factor": 0.5,)" + base + "}"); },
               {"partial_rotary_factor"});
  expect_error([&] { parse(R"({"model_type": "qwen2_5_vl", "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 4]},)" +
                           base + "}"); },
               {"mrope_section"});
  expect_error([&] { parse(R"({"model_type": "ministral3", "rope_parameters": {"rope_type": "yarn", "rope_theta": 1e6},)" +
                           base + "}"); },
               {"rope_parameters", "factor"});
  expect_error([&] { parse(R"({"model_type": "qwen2_5_vl", "num_key_value_heads": 3, "hidden_size": 64,
      "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100})"); },
               {"num_key_value_heads"});
  expect_error([&] { parse(R"({"model_type": "qwen2_5_vl"})"); }, {"hidden_size"});
}

// ---- YaRN ----

// TEXT_ENCODERS.md §4 in double precision, independent of the engine's f32 emulation.
struct NaiveYarn {
  double low, high, attention_factor;
  std::vector<double> inv_freq;
};
NaiveYarn naive_yarn(int64_t dim, double theta, double factor, double orig_max, double beta_fast, double beta_slow,
                     double mscale, double mscale_all_dim) {
  const auto d = [&](double r) { return dim * std::log(orig_max / (2 * std::numbers::pi * r)) / (2 * std::log(theta)); };
  NaiveYarn y;
  y.low = std::max(std::floor(d(beta_fast)), 0.0);
  y.high = std::min(std::ceil(d(beta_slow)), static_cast<double>(dim - 1));
  const auto get_mscale = [&](double m) { return factor <= 1 ? 1.0 : 0.1 * m * std::log(factor) + 1.0; };
  y.attention_factor = (mscale != 0 && mscale_all_dim != 0) ? get_mscale(mscale) / get_mscale(mscale_all_dim)
                                                            : get_mscale(1.0);
  for (int64_t j = 0; j < dim / 2; ++j) {
    const double w = 1.0 - std::clamp((j - y.low) / (y.high - y.low), 0.0, 1.0);
    const double base = std::pow(theta, -2.0 * j / dim);
    y.inv_freq.push_back(base * (w + (1 - w) / factor));
  }
  return y;
}

TEST(DecoderLlmYarn, RealMinistralWorkedValues) {
  const DecoderLlmConfig c = parse(kMinistral3b);
  const YarnCorrectionRange r = yarn_correction_range(c.rope.yarn, c.head_dim, c.rope.theta);
  EXPECT_EQ(r.low, 20.0);
  EXPECT_EQ(r.high, 37.0);
  EXPECT_EQ(rope_attention_factor(c.rope), 1.0);  // exactly: mscale == mscale_all_dim

  const Tensor inv = decoder_llm_inv_freq(c.rope, c.head_dim);
  ASSERT_EQ(inv.shape(), (Shape{64}));
  const NaiveYarn ref = naive_yarn(128, 1e6, 16, 16384, 32, 1, 1, 1);
  for (int64_t j = 0; j < 64; ++j) {
    const double got = inv.data<float>()[j], base = std::pow(1e6, -2.0 * j / 128);
    EXPECT_NEAR(got, ref.inv_freq[static_cast<size_t>(j)], 2e-6 * ref.inv_freq[static_cast<size_t>(j)]) << j;
    if (j < 20) {
      EXPECT_NEAR(got, base, 2e-6 * base) << j;  // unchanged
    }
    if (j >= 37) {
      EXPECT_NEAR(got, base / 16, 2e-6 * base / 16) << j;  // interpolated
    }
    if (j > 20 && j < 37) {                                             // blended
      EXPECT_LT(got, base * (1 - 1e-3)) << j;
      EXPECT_GT(got, base / 16 * (1 + 1e-3)) << j;
    }
  }
}

TEST(DecoderLlmYarn, AttentionFactorFallsBackWithoutMscaleAllDim) {
  DecoderLlmConfig c = parse(kMinistral3b);
  c.rope.yarn.mscale_all_dim = 0.0;
  EXPECT_DOUBLE_EQ(rope_attention_factor(c.rope), 0.1 * std::log(16.0) + 1.0);
  c.rope.yarn.mscale_all_dim.reset();
  EXPECT_DOUBLE_EQ(rope_attention_factor(c.rope), 0.1 * std::log(16.0) + 1.0);
  c.rope.yarn.mscale = 2.0;
  c.rope.yarn.mscale_all_dim = 1.0;
  EXPECT_DOUBLE_EQ(rope_attention_factor(c.rope), (0.2 * std::log(16.0) + 1.0) / (0.1 * std::log(16.0) + 1.0));
  c.rope.yarn.attention_factor = 0.75;
  EXPECT_DOUBLE_EQ(rope_attention_factor(c.rope), 0.75);
  c.rope.kind = RopeKind::Default;
  EXPECT_DOUBLE_EQ(rope_attention_factor(c.rope), 1.0);
}

TEST(DecoderLlmYarn, TruncateFalseKeepsTheFractionalRange) {
  DecoderLlmConfig c = parse(kMinistral3b);
  c.rope.yarn.truncate = false;
  const YarnCorrectionRange r = yarn_correction_range(c.rope.yarn, c.head_dim, c.rope.theta);
  const double d_fast = 128 * std::log(16384 / (2 * std::numbers::pi * 32)) / (2 * std::log(1e6));
  const double d_slow = 128 * std::log(16384 / (2 * std::numbers::pi * 1)) / (2 * std::log(1e6));
  EXPECT_NEAR(r.low, d_fast, 1e-12);
  EXPECT_NEAR(r.high, d_slow, 1e-12);
}

TEST(DecoderLlmYarn, Llama4QueryScale) {
  const Tensor s = llama4_query_scale(40, 0.1, 16);
  const float* p = s.data<float>();
  for (int64_t i = 0; i < 40; ++i) {
    EXPECT_NEAR(p[i], 1.0 + 0.1 * std::log(1.0 + std::floor(i / 16.0)), 1e-6) << i;
  }
  EXPECT_EQ(p[15], 1.0f);
  EXPECT_GT(p[16], 1.0f);
}

// ---- expected tensors ----

TEST(DecoderLlm, ExpectedTensorsOfTheRealQwen25Vl7bTextEncoder) {
  const DecoderLlmConfig c = parse(real_qwen2_5_vl_7b());
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const DecoderLlm model(c, binder, {});
  // 28 layers x (q/k/v weight + bias, o weight, gate/up/down, 2 norms = 12) + embed + norm.
  EXPECT_EQ(binder.expected_count(), 28u * 12u + 2u);
  EXPECT_EQ(binder.expected_count(), 338u);
  std::map<std::string, Shape> shapes;
  for (const auto& e : binder.expected()) {
    EXPECT_FALSE(e.optional) << e.name;
    shapes[e.name] = e.shape;
  }
  EXPECT_EQ(shapes.size(), 338u);
  EXPECT_EQ(model.weight_prefix(), "model");
  EXPECT_EQ(shapes["model.embed_tokens.weight"], (Shape{152064, 3584}));
  EXPECT_EQ(shapes["model.layers.0.self_attn.q_proj.weight"], (Shape{3584, 3584}));
  EXPECT_EQ(shapes["model.layers.0.self_attn.q_proj.bias"], (Shape{3584}));
  EXPECT_EQ(shapes["model.layers.27.self_attn.k_proj.weight"], (Shape{512, 3584}));
  EXPECT_EQ(shapes["model.layers.27.self_attn.v_proj.bias"], (Shape{512}));
  EXPECT_EQ(shapes["model.layers.13.self_attn.o_proj.weight"], (Shape{3584, 3584}));
  EXPECT_EQ(shapes.count("model.layers.13.self_attn.o_proj.bias"), 0u);
  EXPECT_EQ(shapes["model.layers.5.mlp.gate_proj.weight"], (Shape{18944, 3584}));
  EXPECT_EQ(shapes["model.layers.5.mlp.down_proj.weight"], (Shape{3584, 18944}));
  EXPECT_EQ(shapes["model.layers.5.post_attention_layernorm.weight"], (Shape{3584}));
  EXPECT_EQ(shapes["model.norm.weight"], (Shape{3584}));
  EXPECT_EQ(shapes.count("lm_head.weight"), 0u);
}

TEST(DecoderLlm, OnlyTheLayersAPipelineNeedsAreListed) {
  // ERNIE-Image: hidden_states[-2] of 26 layers = raw output of layer 24 -> 25 layers, no norm.
  const DecoderLlmConfig m = parse(kMinistral3b);
  EXPECT_EQ(decoder_llm_layers_needed(m, {-2}), 25);
  io::WeightBinder b1 = io::WeightBinder::expected_only();
  const DecoderLlm ernie(m, b1, {}, decoder_llm_layers_needed(m, {-2}));
  EXPECT_EQ(b1.expected_count(), 25u * 9u + 1u);
  EXPECT_EQ(ernie.weight_prefix(), "language_model");
  EXPECT_EQ(b1.expected().front().name, "language_model.embed_tokens.weight");
  EXPECT_EQ(b1.expected().back().name, "language_model.layers.24.mlp.down_proj.weight");
  EXPECT_EQ(b1.expected()[1].shape, (Shape{3072}));  // layers.0.input_layernorm
  // NucleusMoE-Image: hidden_states[-8] of 36 layers -> 29 layers with q/k norms.
  const DecoderLlmConfig q = parse(kQwen3Vl8b);
  EXPECT_EQ(decoder_llm_layers_needed(q, {-8}), 29);
  io::WeightBinder b2 = io::WeightBinder::expected_only();
  const DecoderLlm nucleus(q, b2, {}, 29);
  EXPECT_EQ(b2.expected_count(), 29u * 11u + 1u);
  EXPECT_EQ(nucleus.weight_prefix(), "model.language_model");
  // The same text model inside Mistral3ForConditionalGeneration (transformers 5 layout).
  io::WeightBinder b3 = io::WeightBinder::expected_only();
  io::Json cfg = io::parse_json(kMinistral3b, "config.json");
  cfg["architectures"] = {"Mistral3ForConditionalGeneration"};
  const DecoderLlm generation(DecoderLlmConfig::from_json(cfg, "config.json"), b3, {}, 1);
  EXPECT_EQ(generation.weight_prefix(), "model.language_model");
  // Everything: the final-normed entry needs all layers.
  EXPECT_EQ(decoder_llm_layers_needed(q, {0, -1}), 36);
  EXPECT_EQ(decoder_llm_layers_needed(q, {0}), 0);
  expect_error([&] { decoder_llm_hidden_index(q, 37); }, {"index 37"});
  expect_error([&] { decoder_llm_hidden_index(q, -38); }, {"index -38"});
}

// ---- forward vs a naive decoder ----

using Weights = std::map<std::string, Tensor>;

std::vector<double> values(const Weights& w, const std::string& name) {
  const auto it = w.find(name);
  if (it == w.end()) throw std::runtime_error("missing test weight " + name);
  const auto f = it->second.to_f32_vector();
  return {f.begin(), f.end()};
}

// Random weights for every tensor the model takes, scaled like the fixtures.
Weights random_weights(const DecoderLlmConfig& c, const std::string& prefix, uint32_t seed) {
  io::WeightBinder expected = io::WeightBinder::expected_only();
  DecoderLlm(c, expected, {});
  Weights w;
  for (const auto& e : expected.expected()) {
    std::string n = e.name;
    Tensor t;
    if (n.find("norm") != std::string::npos) {
      t = testing::random_tensor(e.shape, seed++, 0.2f);
      for (float& x : std::span(t.data_mut<float>(), static_cast<size_t>(t.numel()))) x += 1.0f;
    } else if (n.find("embed_tokens") != std::string::npos) {
      t = testing::random_tensor(e.shape, seed++, 1.0f);
    } else if (n.ends_with(".bias")) {
      t = testing::random_tensor(e.shape, seed++, 0.2f);
    } else {
      t = testing::random_tensor(e.shape, seed++, 1.0f / std::sqrt(static_cast<float>(e.shape[1])));
    }
    // Re-home under the requested checkpoint layout.
    const std::string own = expected.expected().front().name.substr(0, expected.expected().front().name.find("embed_tokens"));
    w[prefix + n.substr(own.size())] = t;
  }
  return w;
}

std::vector<double> rms(const std::vector<double>& x, const std::vector<double>& w, int64_t rows, int64_t d, double eps) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += x[r * d + i] * x[r * d + i];
    const double inv = 1.0 / std::sqrt(ss / d + eps);
    for (int64_t i = 0; i < d; ++i) y[r * d + i] = x[r * d + i] * inv * w[i];
  }
  return y;
}

// y = x W^T (+ b): x [rows, in], W [out, in].
std::vector<double> linear(const std::vector<double>& x, const Weights& w, const std::string& name, int64_t rows,
                           int64_t in, int64_t out, bool bias) {
  const auto wt = values(w, name + ".weight");
  std::vector<double> b = bias ? values(w, name + ".bias") : std::vector<double>(out, 0.0);
  std::vector<double> y(rows * out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b[o];
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * wt[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

// hidden_states of one sequence (row of the batch) [N+1][S * H]; padding rows are computed
// but meaningless.
std::vector<std::vector<double>> naive_decoder(const DecoderLlmConfig& c, const Weights& w, const std::string& p,
                                               const std::vector<int64_t>& ids, const std::vector<int64_t>& mask) {
  const int64_t S = static_cast<int64_t>(ids.size()), H = c.hidden_size, D = c.head_dim, hq = c.num_attention_heads,
                hkv = c.num_key_value_heads, F = c.intermediate_size;
  std::vector<double> inv(D / 2);
  double af = 1.0;
  if (c.rope.kind == RopeKind::Yarn) {
    const YarnParams& y = c.rope.yarn;
    const NaiveYarn ny = naive_yarn(D, c.rope.theta, y.factor, static_cast<double>(y.original_max_position_embeddings),
                                    y.beta_fast, y.beta_slow, y.mscale.value_or(0), y.mscale_all_dim.value_or(0));
    inv = ny.inv_freq;
    af = ny.attention_factor;
  } else {
    for (int64_t j = 0; j < D / 2; ++j) inv[j] = std::pow(c.rope.theta, -2.0 * j / D);
  }
  std::vector<int64_t> pos(S);
  int64_t n = 0;
  for (int64_t s = 0; s < S; ++s) pos[s] = mask[s] ? n++ : 0;

  const auto table = values(w, p + "embed_tokens.weight");
  std::vector<double> h(S * H);
  for (int64_t s = 0; s < S; ++s)
    for (int64_t i = 0; i < H; ++i) h[s * H + i] = table[ids[s] * H + i];
  std::vector<std::vector<double>> hs{h};
  const auto rope = [&](std::vector<double>& t, int64_t heads) {
    for (int64_t s = 0; s < S; ++s)
      for (int64_t hh = 0; hh < heads; ++hh) {
        double* x = &t[(s * heads + hh) * D];
        for (int64_t i = 0; i < D / 2; ++i) {
          const double a = pos[s] * inv[i], cs = std::cos(a) * af, sn = std::sin(a) * af;
          const double x1 = x[i], x2 = x[i + D / 2];
          x[i] = x1 * cs - x2 * sn;
          x[i + D / 2] = x2 * cs + x1 * sn;
        }
      }
  };
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string lp = p + "layers." + std::to_string(l) + ".";
    const auto x = rms(h, values(w, lp + "input_layernorm.weight"), S, H, c.rms_norm_eps);
    auto q = linear(x, w, lp + "self_attn.q_proj", S, H, hq * D, c.qkv_bias);
    auto k = linear(x, w, lp + "self_attn.k_proj", S, H, hkv * D, c.qkv_bias);
    const auto v = linear(x, w, lp + "self_attn.v_proj", S, H, hkv * D, c.qkv_bias);
    if (c.qk_norm) {
      q = rms(q, values(w, lp + "self_attn.q_norm.weight"), S * hq, D, c.rms_norm_eps);
      k = rms(k, values(w, lp + "self_attn.k_norm.weight"), S * hkv, D, c.rms_norm_eps);
    }
    rope(q, hq);
    rope(k, hkv);
    if (c.rope.llama_4_scaling_beta) {
      const double L = static_cast<double>(c.rope.llama_4_original_max_position_embeddings);
      for (int64_t s = 0; s < S; ++s)
        for (int64_t i = 0; i < hq * D; ++i)
          q[s * hq * D + i] *= 1.0 + *c.rope.llama_4_scaling_beta * std::log(1.0 + std::floor(s / L));
    }
    std::vector<double> attn(S * hq * D, 0.0);
    for (int64_t hh = 0; hh < hq; ++hh) {
      const int64_t kv = hh / (hq / hkv);
      for (int64_t i = 0; i < S; ++i) {
        std::vector<double> sc;
        std::vector<int64_t> keys;
        for (int64_t j = 0; j <= i; ++j) {
          if (!mask[j]) continue;
          double d = 0;
          for (int64_t e = 0; e < D; ++e) d += q[(i * hq + hh) * D + e] * k[(j * hkv + kv) * D + e];
          sc.push_back(d / std::sqrt(static_cast<double>(D)));
          keys.push_back(j);
        }
        if (keys.empty()) continue;
        const double mx = *std::max_element(sc.begin(), sc.end());
        double sum = 0;
        for (double& e : sc) sum += (e = std::exp(e - mx));
        for (size_t t = 0; t < keys.size(); ++t)
          for (int64_t e = 0; e < D; ++e) attn[(i * hq + hh) * D + e] += sc[t] / sum * v[(keys[t] * hkv + kv) * D + e];
      }
    }
    const auto o = linear(attn, w, lp + "self_attn.o_proj", S, hq * D, H, c.o_bias);
    for (size_t i = 0; i < h.size(); ++i) h[i] += o[i];
    const auto y = rms(h, values(w, lp + "post_attention_layernorm.weight"), S, H, c.rms_norm_eps);
    auto g = linear(y, w, lp + "mlp.gate_proj", S, H, F, false);
    const auto u = linear(y, w, lp + "mlp.up_proj", S, H, F, false);
    for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
    const auto m = linear(g, w, lp + "mlp.down_proj", S, F, H, false);
    for (size_t i = 0; i < h.size(); ++i) h[i] += m[i];
    if (l + 1 < c.num_hidden_layers) hs.push_back(h);
  }
  hs.push_back(rms(h, values(w, p + "norm.weight"), S, H, c.rms_norm_eps));
  return hs;
}

struct Family {
  const char* name;
  const char* config;
  const char* prefix;  // checkpoint layout the weights are written in
};

const Family kFamilies[] = {
    {"qwen2_5_vl", R"({"model_type": "qwen2_5_vl", "hidden_size": 24, "intermediate_size": 40,
      "num_hidden_layers": 3, "num_attention_heads": 6, "num_key_value_heads": 2, "vocab_size": 60,
      "rope_theta": 1000000.0, "rope_scaling": {"type": "mrope", "mrope_section": [1, 0, 1]}})",
     "model."},
    {"qwen3_vl", R"({"model_type": "qwen3_vl", "text_config": {"model_type": "qwen3_vl_text", "hidden_size": 20,
      "intermediate_size": 36, "num_hidden_layers": 3, "num_attention_heads": 3, "num_key_value_heads": 1,
      "head_dim": 10, "vocab_size": 60, "rope_theta": 5000000,
      "rope_scaling": {"rope_type": "default", "mrope_section": [3, 1, 1], "mrope_interleaved": true}}})",
     "model.language_model."},
    {"ministral3", R"({"model_type": "mistral3", "text_config": {"model_type": "ministral3", "hidden_size": 24,
      "intermediate_size": 40, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
      "head_dim": 12, "vocab_size": 60, "rope_parameters": {"rope_type": "yarn", "rope_theta": 10000.0,
      "factor": 8.0, "original_max_position_embeddings": 8, "beta_fast": 32.0, "beta_slow": 1.0,
      "mscale": 1.0, "mscale_all_dim": 0.0, "llama_4_scaling_beta": 0.1}}})",
     "language_model."},
};

// Batch of 3, S = 19: a full row, a right-padded row (12 real) and a left-padded row (7 real).
struct Batch {
  int64_t B = 3, S = 19;
  std::vector<int64_t> ids, mask;
};
Batch make_batch() {
  Batch in;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int64_t> tok(0, 59);
  for (int64_t b = 0; b < in.B; ++b)
    for (int64_t s = 0; s < in.S; ++s) {
      const bool real = b == 0 || (b == 1 && s < 12) || (b == 2 && s >= in.S - 7);
      in.ids.push_back(real ? tok(rng) : 0);
      in.mask.push_back(real);
    }
  return in;
}

Tensor i64(const Shape& shape, const std::vector<int64_t>& v) {
  Tensor t = Tensor::empty(shape, DType::I64);
  std::copy(v.begin(), v.end(), t.data_mut<int64_t>());
  return t;
}

class DecoderLlmForward : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(DecoderLlmForward, MatchesNaiveDecoderOnRealTokens) {
  const auto [family_index, bf16] = GetParam();
  const Family& f = kFamilies[family_index];
  const DecoderLlmConfig c = parse(f.config);
  const Weights w = random_weights(c, f.prefix, 100 + family_index);
  ScratchDir dir;
  {
    // Also store what the pipelines never load: it must not be reported as unexpected.
    io::NamedTensors named(w.begin(), w.end());
    named.emplace_back("lm_head.weight", testing::random_tensor({60, c.hidden_size}, 1));
    named.emplace_back("visual.blocks.0.attn.qkv.weight", testing::random_tensor({4, 4}, 2));
    io::write_safetensors(dir / "model.safetensors", named);
  }
  io::WeightBinder binder(io::WeightSource::open_file(dir / "model.safetensors"));
  ModelOptions options;
  options.precision = bf16 ? Precision::BF16 : Precision::F32;
  const DecoderLlm model(c, binder, options);
  binder.check();
  EXPECT_TRUE(binder.unexpected().empty());
  EXPECT_EQ(model.weight_prefix() + ".", f.prefix);

  const Batch in = make_batch();
  const Tensor ids = i64({in.B, in.S}, in.ids), mask = i64({in.B, in.S}, in.mask);
  std::vector<int> all;
  for (int i = 0; i <= c.num_hidden_layers; ++i) all.push_back(i);
  const std::vector<Tensor> got = model.forward(ids, mask, all);
  ASSERT_EQ(got.size(), all.size());
  const int64_t H = c.hidden_size;
  for (int64_t b = 0; b < in.B; ++b) {
    const std::vector<int64_t> row_ids(in.ids.begin() + b * in.S, in.ids.begin() + (b + 1) * in.S);
    const std::vector<int64_t> row_mask(in.mask.begin() + b * in.S, in.mask.begin() + (b + 1) * in.S);
    const auto ref = naive_decoder(c, w, f.prefix, row_ids, row_mask);
    for (size_t e = 0; e < ref.size(); ++e) {
      ASSERT_EQ(got[e].shape(), (Shape{in.B, in.S, H}));
      const std::vector<float> g = got[e].select(0, b).contiguous().to_f32_vector();
      double dot = 0, ng = 0, nr = 0, max_err = 0, absmax = 0;
      for (int64_t s = 0; s < in.S; ++s) {
        if (!row_mask[s]) continue;
        for (int64_t i = 0; i < H; ++i) {
          const double x = g[s * H + i], y = ref[e][s * H + i];
          dot += x * y, ng += x * x, nr += y * y;
          max_err = std::max(max_err, std::fabs(x - y));
          absmax = std::max(absmax, std::fabs(y));
        }
      }
      const double cosine = dot / std::sqrt(ng * nr);
      if (bf16) {
        EXPECT_GE(cosine, 0.999) << f.name << " row " << b << " entry " << e;
        EXPECT_LE(max_err, 0.05 * absmax) << f.name << " row " << b << " entry " << e;
      } else {
        EXPECT_LE(max_err, 2e-5 * std::max(1.0, absmax)) << f.name << " row " << b << " entry " << e;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, DecoderLlmForward,
                         ::testing::Combine(::testing::Values(0, 1, 2), ::testing::Bool()));

TEST(DecoderLlm, PaddingSideAndPartialRunsDoNotChangeRealTokens) {
  const Family& f = kFamilies[0];
  const DecoderLlmConfig c = parse(f.config);
  ScratchDir dir;
  {
    const Weights w = random_weights(c, f.prefix, 7);
    io::write_safetensors(dir / "model.safetensors", io::NamedTensors(w.begin(), w.end()));
  }
  ModelOptions options;
  options.precision = Precision::F32;
  io::WeightBinder binder(io::WeightSource::open_file(dir / "model.safetensors"));
  const DecoderLlm full(c, binder, options);
  io::WeightBinder partial_binder(io::WeightSource::open_file(dir / "model.safetensors"));
  const DecoderLlm partial(c, partial_binder, options, 2);
  partial_binder.check();  // layer 2 and the final norm are left out without complaint
  EXPECT_TRUE(partial_binder.unexpected().empty());
  EXPECT_EQ(partial.layers_loaded(), 2);

  // The same 5 tokens alone, right-padded and left-padded to 9; no mask = all real.
  const std::vector<int64_t> toks{3, 14, 15, 9, 26};
  const Tensor alone = i64({1, 5}, toks);
  const Tensor padded = i64({2, 9}, {3, 14, 15, 9, 26, 0, 0, 0, 0, 0, 0, 0, 0, 3, 14, 15, 9, 26});
  const Tensor mask = i64({2, 9}, {1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1});
  const auto ref = full.forward(alone, Tensor{}, {-1, 2});
  const auto got = full.forward(padded, mask, {-1, 2});
  const auto part = partial.forward(padded, mask, {2});
  for (size_t e = 0; e < 2; ++e) {
    const Tensor r = ref[e].select(0, 0);
    EXPECT_LT(testing::compare(got[e].select(0, 0).slice(0, 0, 5).contiguous(), r).max_abs, 1e-5) << e;
    EXPECT_LT(testing::compare(got[e].select(0, 1).slice(0, 4, 9).contiguous(), r).max_abs, 1e-5) << e;
  }
  EXPECT_EQ(testing::compare(part[0], got[1]).max_abs, 0.0);
  expect_error([&] { partial.forward(padded, mask, {-1}); }, {"needs 3 layers", "2 were loaded"});
}

TEST(DecoderLlm, PicksTheCheckpointLayoutFromTheNamesPresent) {
  const DecoderLlmConfig c = parse(kFamilies[0].config);  // Qwen2 family, default layout "model"
  for (const char* prefix : {"model.language_model.", "language_model.model.", "language_model.", "model."}) {
    ScratchDir dir;
    const Weights w = random_weights(c, prefix, 3);
    io::write_safetensors(dir / "model.safetensors", io::NamedTensors(w.begin(), w.end()));
    io::WeightBinder binder(io::WeightSource::open_file(dir / "model.safetensors"));
    const DecoderLlm model(c, binder, {});
    binder.check();
    EXPECT_EQ(model.weight_prefix() + ".", prefix);
  }
  // A stray tensor inside a loaded layer is still reported.
  ScratchDir dir;
  Weights w = random_weights(c, "model.", 3);
  w["model.layers.0.self_attn.o_proj.bias"] = testing::random_tensor({24}, 9);
  io::write_safetensors(dir / "model.safetensors", io::NamedTensors(w.begin(), w.end()));
  io::WeightBinder binder(io::WeightSource::open_file(dir / "model.safetensors"));
  const DecoderLlm model(c, binder, {});
  EXPECT_FALSE(binder.ok());
  ASSERT_EQ(binder.unexpected().size(), 1u);
  EXPECT_EQ(binder.unexpected()[0], "model.layers.0.self_attn.o_proj.bias");
}

TEST(DecoderLlm, RejectsBadInputs) {
  const DecoderLlmConfig c = parse(kFamilies[0].config);
  ScratchDir dir;
  const Weights w = random_weights(c, "model.", 3);
  io::write_safetensors(dir / "model.safetensors", io::NamedTensors(w.begin(), w.end()));
  io::WeightBinder binder(io::WeightSource::open_file(dir / "model.safetensors"));
  const DecoderLlm model(c, binder, {});
  expect_error([&] { model.forward(i64({1, 3}, {1, 2, 60}), Tensor{}, {-1}); }, {"input_ids[0, 2] = 60", "vocabulary"});
  expect_error([&] { model.forward(i64({1, 3}, {1, 2, 3}), i64({1, 2}, {1, 1}), {-1}); }, {"attention_mask"});
  expect_error([&] { model.forward(i64({1, 3}, {1, 2, 3}), i64({1, 3}, {1, 2, 1}), {-1}); }, {"attention_mask[0, 1] = 2"});
  expect_error([&] { model.forward(i64({3}, {1, 2, 3}), Tensor{}, {-1}); }, {"input_ids"});
  expect_error([&] { model.forward(i64({1, 3}, {1, 2, 3}), Tensor{}, {4}); }, {"index 4"});
  io::WeightBinder none = io::WeightBinder::expected_only();
  const DecoderLlm unloaded(c, none, {});
  expect_error([&] { unloaded.forward(i64({1, 3}, {1, 2, 3}), Tensor{}, {-1}); }, {"no weights"});
}

}  // namespace
}  // namespace diffuse::models
