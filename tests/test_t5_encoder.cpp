// T5 encoder: config parsing with the reference defaults, the expected tensor list of the
// real T5-XXL encoder (219 tensors), relative position buckets against hand-computed values,
// and the whole forward pass against a naive double-precision implementation written here
// from the reference's formulas (other sizes than the fixture: d_kv * heads != d_model,
// 16 buckets / max distance 20 so that clamping is hit, batch 3, relu and gated FFNs, masks
// with padding and with an all-padding row).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "io/safetensors.h"
#include "models/text/t5_encoder.h"
#include "models/text/t5_encoder_position_bias.h"
#include "random_tensor.h"
#include "tensor/half.h"
#include "test_safetensors_helpers.h"

namespace diffuse::models {
namespace {

using testing::expect_error;
using testing::ScratchDir;

// text_encoder_2/config.json of FLUX.1 (google/t5-v1_1-xxl encoder).
const char* kT5XxlConfig = R"({
  "architectures": ["T5EncoderModel"], "classifier_dropout": 0.0, "d_ff": 10240, "d_kv": 64,
  "d_model": 4096, "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.1,
  "eos_token_id": 1, "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0,
  "is_encoder_decoder": true, "is_gated_act": true, "layer_norm_epsilon": 1e-06, "model_type": "t5",
  "num_decoder_layers": 24, "num_heads": 64, "num_layers": 24, "output_past": true, "pad_token_id": 0,
  "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true, "vocab_size": 32128
})";

T5EncoderConfig parse(const std::string& json) {
  return T5EncoderConfig::from_json(io::parse_json(json, "config.json"), "config.json");
}

TEST(T5EncoderConfig, RealXxlConfig) {
  const T5EncoderConfig c = parse(kT5XxlConfig);
  EXPECT_EQ(c.d_model, 4096);
  EXPECT_EQ(c.d_kv, 64);
  EXPECT_EQ(c.num_heads, 64);
  EXPECT_EQ(c.d_ff, 10240);
  EXPECT_EQ(c.num_layers, 24);
  EXPECT_EQ(c.vocab_size, 32128);
  EXPECT_EQ(c.relative_attention_num_buckets, 32);
  EXPECT_EQ(c.relative_attention_max_distance, 128);
  EXPECT_DOUBLE_EQ(c.layer_norm_epsilon, 1e-6);
  EXPECT_TRUE(c.is_gated_act);
  EXPECT_EQ(c.activation, T5Activation::GeluTanh);
}

TEST(T5EncoderConfig, ReferenceDefaultsAndDerivedActivation) {
  const T5EncoderConfig d = parse("{}");  // T5Config() defaults: t5-small, relu
  EXPECT_EQ(d.d_model, 512);
  EXPECT_EQ(d.num_layers, 6);
  EXPECT_EQ(d.num_heads, 8);
  EXPECT_EQ(d.d_ff, 2048);
  EXPECT_EQ(d.vocab_size, 32128);
  EXPECT_FALSE(d.is_gated_act);
  EXPECT_EQ(d.activation, T5Activation::Relu);
  // "gated-gelu" means gelu_new (tanh) for backward compatibility; "gated-<act>" keeps <act>.
  EXPECT_EQ(parse(R"({"feed_forward_proj": "gated-gelu"})").activation, T5Activation::GeluTanh);
  EXPECT_EQ(parse(R"({"feed_forward_proj": "gated-gelu"})").is_gated_act, true);
  EXPECT_EQ(parse(R"({"feed_forward_proj": "gated-silu"})").activation, T5Activation::Silu);
  EXPECT_EQ(parse(R"({"feed_forward_proj": "gelu"})").activation, T5Activation::GeluErf);
  // Explicit fields override the derived ones, as PretrainedConfig's extra kwargs do.
  EXPECT_EQ(parse(R"({"feed_forward_proj": "gated-gelu", "dense_act_fn": "gelu"})").activation,
            T5Activation::GeluErf);
}

TEST(T5EncoderConfig, RejectsWhatItCannotCompute) {
  expect_error([] { parse(R"({"model_type": "umt5"})"); }, {"config.json", "model_type", "umt5"});
  expect_error([] { parse(R"({"feed_forward_proj": "gated-gelu-new"})"); }, {"config.json", "feed_forward_proj"});
  expect_error([] { parse(R"({"feed_forward_proj": "mish"})"); }, {"config.json", "dense_act_fn", "mish"});
  expect_error([] { parse(R"({"num_heads": 0})"); }, {"config.json", "num_heads"});
  expect_error([] { parse(R"({"relative_attention_num_buckets": 2})"); },
               {"config.json", "relative_attention_num_buckets"});
  expect_error([] { parse(R"({"relative_attention_num_buckets": 32, "relative_attention_max_distance": 8})"); },
               {"config.json", "relative_attention_max_distance"});
  expect_error([] { parse(R"({"d_model": "4096"})"); }, {"config.json", "d_model"});
}

TEST(T5Encoder, ExpectedTensorsOfTheRealXxlEncoder) {
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const T5Encoder enc(parse(kT5XxlConfig), binder, {});
  EXPECT_EQ(binder.expected_count(), 219u);
  std::map<std::string, Shape> shapes;
  for (const auto& e : binder.expected()) {
    EXPECT_FALSE(e.optional) << e.name;
    shapes[e.name] = e.shape;
  }
  EXPECT_EQ(shapes.size(), 219u);
  EXPECT_EQ(shapes["shared.weight"], (Shape{32128, 4096}));
  EXPECT_EQ(shapes["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"], (Shape{32, 64}));
  EXPECT_EQ(shapes.count("encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"), 0u);
  EXPECT_EQ(shapes["encoder.block.23.layer.0.SelfAttention.q.weight"], (Shape{4096, 4096}));
  EXPECT_EQ(shapes["encoder.block.23.layer.0.SelfAttention.o.weight"], (Shape{4096, 4096}));
  EXPECT_EQ(shapes["encoder.block.7.layer.1.DenseReluDense.wi_0.weight"], (Shape{10240, 4096}));
  EXPECT_EQ(shapes["encoder.block.7.layer.1.DenseReluDense.wi_1.weight"], (Shape{10240, 4096}));
  EXPECT_EQ(shapes["encoder.block.7.layer.1.DenseReluDense.wo.weight"], (Shape{4096, 10240}));
  EXPECT_EQ(shapes["encoder.block.12.layer.1.layer_norm.weight"], (Shape{4096}));
  EXPECT_EQ(shapes["encoder.final_layer_norm.weight"], (Shape{4096}));
  EXPECT_EQ(shapes.count("encoder.embed_tokens.weight"), 0u);
}

TEST(T5RelativePositionBucket, HandComputedValues) {
  // 32 buckets, max distance 128 (T5 v1.1): 16 per direction, 0..7 exact, then
  // 8 + floor(ln(d/8) / ln(16) * 8), capped at 15; positive distances (keys after the
  // query) use buckets 16..31.
  const std::vector<std::pair<int64_t, int64_t>> cases = {
      {0, 0},    {-1, 1},   {-7, 7},    {-8, 8},     {-11, 8},    {-12, 9},   {-15, 9},
      {-16, 10}, {-31, 11}, {-32, 12},  {-63, 13},   {-64, 14},   {-127, 15}, {-128, 15},
      {-5000, 15}, {1, 17}, {7, 23},    {8, 24},     {16, 26},    {32, 28},   {64, 30},
      {128, 31}, {100000, 31},
  };
  for (const auto& [d, want] : cases) EXPECT_EQ(t5_relative_position_bucket(d, true, 32, 128), want) << d;
  // 16 buckets, max distance 20: 8 per direction, 0..3 exact, 4 + floor(ln(d/4) / ln(5) * 4), cap 7.
  const std::vector<std::pair<int64_t, int64_t>> small = {
      {-3, 3}, {-4, 4}, {-6, 5}, {-8, 5}, {-9, 6}, {-13, 6}, {-14, 7}, {-20, 7}, {-21, 7}, {5, 12}, {14, 15},
  };
  for (const auto& [d, want] : small) EXPECT_EQ(t5_relative_position_bucket(d, true, 16, 20), want) << d;
  // Unidirectional (decoder) form: positive distances all map to bucket 0.
  EXPECT_EQ(t5_relative_position_bucket(5, false, 32, 128), 0);
  EXPECT_EQ(t5_relative_position_bucket(-15, false, 32, 128), 15);
  EXPECT_EQ(t5_relative_position_bucket(-20, false, 32, 128), 16 + 1);  // 16 + floor(ln(20/16) / ln(8) * 16)
}

TEST(T5RelativePositionBucket, BiasTableLayout) {
  const Tensor table = testing::random_tensor({16, 3}, 5);
  const Tensor bias = t5_position_bias(table, 6, 9, 20);
  ASSERT_EQ(bias.shape(), (Shape{1, 3, 6, 9}));
  for (int64_t h = 0; h < 3; ++h)
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 9; ++j)
        EXPECT_EQ(bias.item({0, h, i, j}), table.item({t5_relative_position_bucket(j - i, true, 16, 20), h}));
}

// ---- Naive double-precision reference of T5EncoderModel (no mask: mask empty). ----

using Weights = std::map<std::string, Tensor>;

std::vector<double> values(const Weights& w, const std::string& name) {
  const std::vector<float> f = w.at(name).to_f32_vector();
  return std::vector<double>(f.begin(), f.end());
}

// The engine's bf16 mode rounds GEMM and attention operands (x, W; q, k, v and the softmax
// numerators) to bf16 and accumulates in f32; the reference can round at the same places.
double round_bf16(double v, bool on) {
  return on ? static_cast<double>(bf16_to_f32(f32_to_bf16(static_cast<float>(v)))) : v;
}

// y[r, o] = sum_i x[r, i] * W[o, i]
std::vector<double> matmul_t(std::vector<double> x, std::vector<double> w, int64_t rows, int64_t in, int64_t out,
                             bool bf16) {
  for (auto& e : x) e = round_bf16(e, bf16);
  for (auto& e : w) e = round_bf16(e, bf16);
  std::vector<double> y(static_cast<size_t>(rows * out), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = 0;
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

std::vector<double> rms(const std::vector<double>& x, const std::vector<double>& w, int64_t rows, int64_t d,
                        double eps) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += x[r * d + i] * x[r * d + i];
    const double inv = 1.0 / std::sqrt(ss / d + eps);
    for (int64_t i = 0; i < d; ++i) y[r * d + i] = w[i] * x[r * d + i] * inv;
  }
  return y;
}

double act(T5Activation a, double x) {
  switch (a) {
    case T5Activation::Relu: return x > 0 ? x : 0;
    case T5Activation::GeluTanh:
      return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case T5Activation::GeluErf: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case T5Activation::Silu: return x / (1 + std::exp(-x));
  }
  return x;
}

// Bucket in double precision, written from the formula (the sizes used here never land on
// a boundary where float and double rounding could disagree).
int64_t ref_bucket(int64_t rel, int64_t nb, int64_t max_distance) {
  nb /= 2;
  const int64_t base = rel > 0 ? nb : 0;
  const int64_t d = std::llabs(rel), exact = nb / 2;
  if (d < exact) return base + d;
  const double v = std::log(static_cast<double>(d) / exact) / std::log(static_cast<double>(max_distance) / exact) *
                   (nb - exact);
  return base + std::min<int64_t>(exact + static_cast<int64_t>(v), nb - 1);
}

// hidden_states tuple (N+1 entries of [B*L*D]); bf16: round where the engine's bf16 mode does.
std::vector<std::vector<double>> ref_t5(const T5EncoderConfig& c, const Weights& w, const std::vector<int64_t>& ids,
                                        const std::vector<int64_t>& mask, int64_t B, int64_t L, bool bf16 = false) {
  const auto rb = [bf16](double v) { return round_bf16(v, bf16); };
  const int64_t D = c.d_model, H = c.num_heads, K = c.d_kv, I = c.inner_dim(), R = B * L;
  const std::vector<double> emb = values(w, "shared.weight");
  std::vector<double> h(static_cast<size_t>(R * D));
  for (int64_t r = 0; r < R; ++r)
    for (int64_t i = 0; i < D; ++i) h[r * D + i] = emb[ids[r] * D + i];
  std::vector<std::vector<double>> hs = {h};

  const std::vector<double> table = values(w, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
  // Additive term per (b, head, i, j), in float32 like the reference: bias + (1 - m) * finfo.min.
  const auto additive = [&](int64_t b, int64_t hd, int64_t i, int64_t j) {
    const float bias =
        static_cast<float>(table[ref_bucket(j - i, c.relative_attention_num_buckets,
                                            c.relative_attention_max_distance) * H + hd]);
    if (mask.empty()) return static_cast<double>(bias);
    const float m = static_cast<float>(1 - mask[b * L + j]) * std::numeric_limits<float>::lowest();
    return static_cast<double>(bias + m);
  };

  for (int64_t layer = 0; layer < c.num_layers; ++layer) {
    const std::string p = "encoder.block." + std::to_string(layer) + ".";
    const auto x = rms(h, values(w, p + "layer.0.layer_norm.weight"), R, D, c.layer_norm_epsilon);
    const auto q = matmul_t(x, values(w, p + "layer.0.SelfAttention.q.weight"), R, D, I, bf16);
    const auto k = matmul_t(x, values(w, p + "layer.0.SelfAttention.k.weight"), R, D, I, bf16);
    const auto v = matmul_t(x, values(w, p + "layer.0.SelfAttention.v.weight"), R, D, I, bf16);
    std::vector<double> ctx(static_cast<size_t>(R * I), 0.0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t hd = 0; hd < H; ++hd)
        for (int64_t i = 0; i < L; ++i) {
          std::vector<double> s(static_cast<size_t>(L));
          double mx = -std::numeric_limits<double>::infinity();
          for (int64_t j = 0; j < L; ++j) {
            double dot = 0;
            for (int64_t e = 0; e < K; ++e)
              dot += rb(q[(b * L + i) * I + hd * K + e]) * rb(k[(b * L + j) * I + hd * K + e]);
            s[j] = dot + additive(b, hd, i, j);  // no 1/sqrt(d_kv)
            mx = std::max(mx, s[j]);
          }
          double sum = 0;
          for (auto& e : s) sum += (e = std::exp(e - mx));
          for (int64_t j = 0; j < L; ++j)
            for (int64_t e = 0; e < K; ++e)
              ctx[(b * L + i) * I + hd * K + e] += rb(s[j]) / sum * rb(v[(b * L + j) * I + hd * K + e]);
        }
    const auto o = matmul_t(ctx, values(w, p + "layer.0.SelfAttention.o.weight"), R, I, D, bf16);
    for (size_t i = 0; i < h.size(); ++i) h[i] += o[i];

    const auto y = rms(h, values(w, p + "layer.1.layer_norm.weight"), R, D, c.layer_norm_epsilon);
    std::vector<double> a;
    if (c.is_gated_act) {
      a = matmul_t(y, values(w, p + "layer.1.DenseReluDense.wi_0.weight"), R, D, c.d_ff, bf16);
      const auto u = matmul_t(y, values(w, p + "layer.1.DenseReluDense.wi_1.weight"), R, D, c.d_ff, bf16);
      for (size_t i = 0; i < a.size(); ++i) a[i] = act(c.activation, a[i]) * u[i];
    } else {
      a = matmul_t(y, values(w, p + "layer.1.DenseReluDense.wi.weight"), R, D, c.d_ff, bf16);
      for (auto& e : a) e = act(c.activation, e);
    }
    const auto f = matmul_t(a, values(w, p + "layer.1.DenseReluDense.wo.weight"), R, c.d_ff, D, bf16);
    for (size_t i = 0; i < h.size(); ++i) h[i] += f[i];
    if (layer + 1 < c.num_layers) hs.push_back(h);
  }
  hs.push_back(rms(h, values(w, "encoder.final_layer_norm.weight"), R, D, c.layer_norm_epsilon));
  return hs;
}

// Random weights for every tensor the model expects (names and shapes from expected-only
// binding), scaled like the fixtures: linear N(0, 1/fan_in), norms 1 + N(0, 0.2^2),
// embeddings N(0, 1), relative bias N(0, 0.5^2).
Weights random_weights(const T5EncoderConfig& c, uint32_t seed) {
  io::WeightBinder expected = io::WeightBinder::expected_only();
  T5Encoder(c, expected, {});
  Weights w;
  for (const auto& e : expected.expected()) {
    const std::string& n = e.name;
    Tensor t;
    if (n.find("layer_norm") != std::string::npos) {
      t = testing::random_tensor(e.shape, seed++, 0.2f);
      for (float& x : std::span(t.data_mut<float>(), static_cast<size_t>(t.numel()))) x += 1.0f;
    } else if (n == "shared.weight") {
      t = testing::random_tensor(e.shape, seed++, 1.0f);
    } else if (n.find("relative_attention_bias") != std::string::npos) {
      t = testing::random_tensor(e.shape, seed++, 0.5f);
    } else {
      t = testing::random_tensor(e.shape, seed++, 1.0f / std::sqrt(static_cast<float>(e.shape[1])));
    }
    w[n] = t;
  }
  return w;
}

std::string write_weights(const ScratchDir& dir, const Weights& w, const std::string& file = "model.safetensors") {
  io::NamedTensors named(w.begin(), w.end());
  io::write_safetensors(dir / file, named);
  return dir / file;
}

Tensor i64_tensor(const Shape& shape, const std::vector<int64_t>& v) {
  Tensor t = Tensor::empty(shape, DType::I64);
  std::copy(v.begin(), v.end(), t.data_mut<int64_t>());
  return t;
}

T5EncoderConfig small_config(bool gated) {
  return parse(std::string(R"({"d_model": 24, "d_kv": 5, "num_heads": 3, "d_ff": 20, "num_layers": 2,
      "vocab_size": 50, "relative_attention_num_buckets": 16, "relative_attention_max_distance": 20,
      "layer_norm_epsilon": 1e-6, "feed_forward_proj": )") +
               (gated ? "\"gated-gelu\"}" : "\"relu\"}"));
}

struct Inputs {
  int64_t B = 3, L = 27;
  std::vector<int64_t> ids, mask;
};

// Row lengths 27 (full), 17 and 5 valid tokens; ids anywhere in the vocabulary.
Inputs make_inputs(bool empty_row) {
  Inputs in;
  std::mt19937 rng(11);
  std::uniform_int_distribution<int64_t> tok(0, 49);
  const int64_t valid[3] = {27, 17, empty_row ? 0 : 5};
  for (int64_t b = 0; b < in.B; ++b)
    for (int64_t j = 0; j < in.L; ++j) {
      in.ids.push_back(j < valid[b] ? tok(rng) : 0);
      in.mask.push_back(j < valid[b] ? 1 : 0);
    }
  return in;
}

void expect_matches(const std::vector<Tensor>& got, const std::vector<std::vector<double>>& want, double min_cos,
                    double max_rel, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t s = 0; s < got.size(); ++s) {
    const std::vector<float> g = got[s].to_f32_vector();
    ASSERT_EQ(g.size(), want[s].size());
    double dot = 0, ng = 0, nw = 0, max_abs = 0, max_ref = 0;
    for (size_t i = 0; i < g.size(); ++i) {
      dot += g[i] * want[s][i];
      ng += double(g[i]) * g[i];
      nw += want[s][i] * want[s][i];
      max_abs = std::max(max_abs, std::fabs(g[i] - want[s][i]));
      max_ref = std::max(max_ref, std::fabs(want[s][i]));
    }
    EXPECT_GE(dot / std::sqrt(ng * nw), min_cos) << what << " hidden_states[" << s << "]";
    if (max_rel >= 0) {
      EXPECT_LE(max_abs, max_rel * max_ref) << what << " hidden_states[" << s << "]";
    }
  }
}

class T5EncoderForward : public ::testing::TestWithParam<bool> {};  // param: gated

TEST_P(T5EncoderForward, MatchesNaiveReference) {
  const T5EncoderConfig c = small_config(GetParam());
  const Weights w = random_weights(c, 100);
  ScratchDir dir;
  io::WeightBinder binder(io::WeightSource::open_file(write_weights(dir, w)));
  const T5Encoder enc(c, binder, {.precision = Precision::F32});
  binder.check();

  for (bool empty_row : {false, true}) {
    const Inputs in = make_inputs(empty_row);
    const Tensor ids = i64_tensor({in.B, in.L}, in.ids), mask = i64_tensor({in.B, in.L}, in.mask);
    const std::string what = std::string(GetParam() ? "gated" : "relu") + (empty_row ? ", empty row" : "");
    expect_matches(enc.forward_hidden_states(ids, &mask), ref_t5(c, w, in.ids, in.mask, in.B, in.L), 0.999999,
                   2e-5, what + ", mask");
    expect_matches(enc.forward_hidden_states(ids, nullptr), ref_t5(c, w, in.ids, {}, in.B, in.L), 0.999999, 2e-5,
                   what + ", no mask");
    // forward() is the last hidden state; I32 ids give the same result.
    const Tensor last = enc.forward(ids.to(DType::I32), &mask);
    const auto ref_last = ref_t5(c, w, in.ids, in.mask, in.B, in.L).back();
    expect_matches({last}, {ref_last}, 0.999999, 2e-5, what + ", forward I32");
  }

  io::WeightBinder bf16_binder(io::WeightSource::open_file(dir / "model.safetensors"));
  const T5Encoder bf16(c, bf16_binder, {.precision = Precision::BF16});
  const Inputs in = make_inputs(false);
  const Tensor ids = i64_tensor({in.B, in.L}, in.ids), mask = i64_tensor({in.B, in.L}, in.mask);
  const std::vector<Tensor> got = bf16.forward_hidden_states(ids, &mask);
  // Against a reference rounded at the same places: only accumulation order and the softmax's
  // exp differ (they can move a value across a bf16 rounding step, hence 1%, not f32 bounds).
  // Against exact math: the cosine bound of the parity rule; max-abs is not bounded there
  // because this tiny random model amplifies bf16 rounding (up to ~10% of the max in one row,
  // which the rounded reference reproduces).
  expect_matches(got, ref_t5(c, w, in.ids, in.mask, in.B, in.L, /*bf16=*/true), 0.99999, 0.01, "bf16 rounded");
  expect_matches(got, ref_t5(c, w, in.ids, in.mask, in.B, in.L), 0.999, -1, "bf16 vs exact");
}

INSTANTIATE_TEST_SUITE_P(Ffn, T5EncoderForward, ::testing::Bool());

TEST(T5Encoder, TraceRecordsSublayersInForwardOrder) {
  const T5EncoderConfig c = small_config(true);
  const Weights w = random_weights(c, 300);
  ScratchDir dir;
  io::WeightBinder binder(io::WeightSource::open_file(write_weights(dir, w)));
  const T5Encoder enc(c, binder, {.precision = Precision::F32});
  const Inputs in = make_inputs(false);
  const Tensor ids = i64_tensor({in.B, in.L}, in.ids), mask = i64_tensor({in.B, in.L}, in.mask);
  std::vector<std::pair<std::string, Tensor>> seen;
  const Trace trace([&](const std::string& name, const Tensor& t) { seen.emplace_back(name, t); });
  const Tensor out = enc.forward(ids, &mask, &trace);
  const std::vector<std::string> want = {
      "encoder.position_bias", "encoder.block.0.layer.0.SelfAttention", "encoder.block.0.layer.1.DenseReluDense",
      "encoder.block.1.layer.0.SelfAttention", "encoder.block.1.layer.1.DenseReluDense", "encoder.block.1.output"};
  ASSERT_EQ(seen.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(seen[i].first, want[i]);
  // Position bias + mask: finfo.min on padding keys of each row, the bias elsewhere.
  const Tensor& pb = seen[0].second;
  ASSERT_EQ(pb.shape(), (Shape{3, 3, 27, 27}));
  const Tensor bias = t5_position_bias(w.at("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"),
                                       27, 27, 20);
  EXPECT_EQ(pb.item({1, 2, 4, 16}), bias.item({0, 2, 4, 16}));
  EXPECT_EQ(pb.item({1, 2, 4, 17}), static_cast<double>(std::numeric_limits<float>::lowest()));
  // Traced sublayer outputs reproduce the traced run's result, which equals the untraced one.
  const Tensor plain = enc.forward(ids, &mask);
  EXPECT_EQ(out.to_f32_vector(), plain.to_f32_vector());
}

TEST(T5Encoder, TiedEmbeddingCopyIsAccepted) {
  const T5EncoderConfig c = small_config(true);
  Weights w = random_weights(c, 200);
  const Inputs in = make_inputs(false);
  const Tensor ids = i64_tensor({in.B, in.L}, in.ids), mask = i64_tensor({in.B, in.L}, in.mask);
  const auto ref = ref_t5(c, w, in.ids, in.mask, in.B, in.L);
  ScratchDir dir;
  {  // Both names stored: the copy is consumed, nothing is unexpected.
    Weights both = w;
    both["encoder.embed_tokens.weight"] = w.at("shared.weight");
    io::WeightBinder binder(io::WeightSource::open_file(write_weights(dir, both, "both.safetensors")));
    const T5Encoder enc(c, binder, {.precision = Precision::F32});
    EXPECT_TRUE(binder.ok()) << binder.report();
    EXPECT_EQ(binder.matched_count(), w.size() + 1);
  }
  {  // Only the encoder's name stored.
    Weights only = w;
    only["encoder.embed_tokens.weight"] = w.at("shared.weight");
    only.erase("shared.weight");
    io::WeightBinder binder(io::WeightSource::open_file(write_weights(dir, only, "only.safetensors")));
    const T5Encoder enc(c, binder, {.precision = Precision::F32});
    EXPECT_TRUE(binder.ok()) << binder.report();
    expect_matches(enc.forward_hidden_states(ids, &mask), ref, 0.999999, 2e-5, "embed_tokens only");
  }
  {  // Neither: the report names shared.weight.
    Weights none = w;
    none.erase("shared.weight");
    io::WeightBinder binder(io::WeightSource::open_file(write_weights(dir, none, "none.safetensors")));
    const T5Encoder enc(c, binder, {.precision = Precision::F32});
    expect_error([&] { binder.check(); }, {"missing: shared.weight"});
  }
}

TEST(T5Encoder, RejectsBadInputs) {
  const T5EncoderConfig c = small_config(false);
  ScratchDir dir;
  io::WeightBinder binder(io::WeightSource::open_file(write_weights(dir, random_weights(c, 400))));
  const T5Encoder enc(c, binder, {.precision = Precision::F32});
  const Tensor ids = i64_tensor({1, 3}, {4, 50, 1});
  expect_error([&] { enc.forward(ids, nullptr); }, {"input_ids[0, 1] = 50", "vocabulary"});
  const Tensor ok_ids = i64_tensor({1, 3}, {4, 5, 1});
  const Tensor short_mask = i64_tensor({1, 2}, {1, 1});
  expect_error([&] { enc.forward(ok_ids, &short_mask); }, {"attention_mask", "1x2"});
  const Tensor odd_mask = i64_tensor({1, 3}, {1, 2, 0});
  expect_error([&] { enc.forward(ok_ids, &odd_mask); }, {"attention_mask[0, 1] = 2"});
  expect_error([&] { enc.forward(ok_ids.to(DType::F32), nullptr); }, {"input_ids", "I64 or I32"});
  expect_error([&] { enc.forward(i64_tensor({3}, {1, 2, 3}), nullptr); }, {"input_ids"});
}

}  // namespace
}  // namespace diffuse::models
