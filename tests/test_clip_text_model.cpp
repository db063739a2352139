// CLIP text tower (transformers CLIPTextModel) against a naive double-precision implementation
// written here from the reference's definition, on tiny random configs whose weights go
// through a safetensors file under the real checkpoint names; plus the real
// openai/clip-vit-large-patch14 expected list, causality and the pooled-position rules.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/json_config.h"
#include "io/safetensors.h"
#include "io/weight_binder.h"
#include "models/text/clip_text_model.h"
#include "random_tensor.h"
#include "test_safetensors_helpers.h"

namespace diffuse {
namespace {

using models::CLIPTextModel;
using models::CLIPTextModelConfig;
using models::ModelOptions;
using models::Precision;
using testing::compare;
using testing::random_tensor;

// FLUX.1 text_encoder/config.json (openai/clip-vit-large-patch14 text tower, CLIPTextModel).
const char* kFluxClipConfig = R"({
  "_name_or_path": "openai/clip-vit-large-patch14",
  "architectures": ["CLIPTextModel"],
  "attention_dropout": 0.0,
  "bos_token_id": 0,
  "dropout": 0.0,
  "eos_token_id": 2,
  "hidden_act": "quick_gelu",
  "hidden_size": 768,
  "initializer_factor": 1.0,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "layer_norm_eps": 1e-05,
  "max_position_embeddings": 77,
  "model_type": "clip_text_model",
  "num_attention_heads": 12,
  "num_hidden_layers": 12,
  "pad_token_id": 1,
  "projection_dim": 768,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.3",
  "vocab_size": 49408
})";

CLIPTextModelConfig parse(const std::string& json) {
  return CLIPTextModelConfig::from_json(io::parse_json(json, "config.json"), "config.json");
}

CLIPTextModelConfig tiny_config(int64_t eos_token_id = 49, const std::string& act = "quick_gelu") {
  return parse(R"({"model_type": "clip_text_model", "vocab_size": 50, "hidden_size": 32, "intermediate_size": 64,
    "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 16, "layer_norm_eps": 1e-5,
    "hidden_act": ")" + act + R"(", "eos_token_id": )" + std::to_string(eos_token_id) + "}");
}

// The tensors of a CLIPTextModel checkpoint, written out here from transformers' module tree.
std::vector<std::pair<std::string, Shape>> checkpoint_tensors(const CLIPTextModelConfig& c) {
  const int64_t d = c.hidden_size, f = c.intermediate_size;
  std::vector<std::pair<std::string, Shape>> t = {
      {"text_model.embeddings.token_embedding.weight", {c.vocab_size, d}},
      {"text_model.embeddings.position_embedding.weight", {c.max_position_embeddings, d}}};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "text_model.encoder.layers." + std::to_string(i) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      t.push_back({p + "self_attn." + proj + ".weight", {d, d}});
      t.push_back({p + "self_attn." + proj + ".bias", {d}});
    }
    for (const char* ln : {"layer_norm1", "layer_norm2"}) {
      t.push_back({p + ln + ".weight", {d}});
      t.push_back({p + ln + ".bias", {d}});
    }
    t.push_back({p + "mlp.fc1.weight", {f, d}});
    t.push_back({p + "mlp.fc1.bias", {f}});
    t.push_back({p + "mlp.fc2.weight", {d, f}});
    t.push_back({p + "mlp.fc2.bias", {d}});
  }
  t.push_back({"text_model.final_layer_norm.weight", {d}});
  t.push_back({"text_model.final_layer_norm.bias", {d}});
  return t;
}

// Seeded weights in `stored` dtype: linear weights N(0, 1/sqrt(fan_in)), biases N(0, 0.05),
// norm scales 1 + N(0, 0.1), norm shifts N(0, 0.1), embeddings N(0, 0.5).
std::map<std::string, Tensor> random_weights(const CLIPTextModelConfig& c, uint32_t seed, DType stored) {
  std::map<std::string, Tensor> w;
  for (const auto& [name, shape] : checkpoint_tensors(c)) {
    ++seed;
    Tensor t;
    const bool norm = name.find("layer_norm") != std::string::npos;
    if (name.find("embedding") != std::string::npos) {
      t = random_tensor(shape, seed, 0.5f);
    } else if (norm && name.ends_with(".weight")) {
      t = random_tensor(shape, seed, 0.1f);
      for (int64_t k = 0; k < t.numel(); ++k) t.data_mut<float>()[k] += 1.0f;
    } else if (norm) {
      t = random_tensor(shape, seed, 0.1f);
    } else if (name.ends_with(".bias")) {
      t = random_tensor(shape, seed, 0.05f);
    } else {
      t = random_tensor(shape, seed, 1.0f / std::sqrt(static_cast<float>(shape[1])));
    }
    w[name] = stored == DType::F32 ? t : t.to(stored);
  }
  return w;
}

// ---- naive reference (double accumulation) -----------------------------------------------

struct Reference {
  std::vector<std::vector<double>> layer_outputs;  // [layer] -> [B*L*D], residual stream
  std::vector<double> last_hidden_state;           // [B*L*D]
};

class NaiveClip {
 public:
  NaiveClip(const CLIPTextModelConfig& c, const std::map<std::string, Tensor>& w) : c_(c) {
    for (const auto& [name, t] : w) w_[name] = t.to_f32_vector();
  }

  // ids [B][L]; mask [B][L] (empty = all real). Key j is visible to query i iff j <= i and mask[j].
  Reference forward(const std::vector<std::vector<int64_t>>& ids, const std::vector<std::vector<int>>& mask = {}) const {
    const int64_t batch = static_cast<int64_t>(ids.size()), len = static_cast<int64_t>(ids[0].size());
    const int64_t d = c_.hidden_size;
    std::vector<double> h(static_cast<size_t>(batch * len * d));
    const auto& tok = w("text_model.embeddings.token_embedding.weight");
    const auto& pos = w("text_model.embeddings.position_embedding.weight");
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < len; ++j)
        for (int64_t k = 0; k < d; ++k)
          h[(b * len + j) * d + k] = static_cast<double>(tok[ids[b][j] * d + k]) + pos[j * d + k];

    Reference r;
    const int64_t rows = batch * len;
    for (int64_t i = 0; i < c_.num_hidden_layers; ++i) {
      const std::string p = "text_model.encoder.layers." + std::to_string(i) + ".";
      const auto x1 = layer_norm(h, rows, p + "layer_norm1");
      const auto q = linear(x1, rows, d, d, p + "self_attn.q_proj");
      const auto k = linear(x1, rows, d, d, p + "self_attn.k_proj");
      const auto v = linear(x1, rows, d, d, p + "self_attn.v_proj");
      const auto attn = attention(q, k, v, batch, len, mask);
      const auto o = linear(attn, rows, d, d, p + "self_attn.out_proj");
      for (size_t n = 0; n < h.size(); ++n) h[n] += o[n];
      const auto x2 = layer_norm(h, rows, p + "layer_norm2");
      auto a = linear(x2, rows, d, c_.intermediate_size, p + "mlp.fc1");
      for (double& z : a) z = activation(z);
      const auto m = linear(a, rows, c_.intermediate_size, d, p + "mlp.fc2");
      for (size_t n = 0; n < h.size(); ++n) h[n] += m[n];
      r.layer_outputs.push_back(h);
    }
    r.last_hidden_state = layer_norm(h, rows, "text_model.final_layer_norm");
    return r;
  }

 private:
  const std::vector<float>& w(const std::string& name) const {
    auto it = w_.find(name);
    if (it == w_.end()) throw std::runtime_error("reference: no weight " + name);
    return it->second;
  }

  std::vector<double> layer_norm(const std::vector<double>& x, int64_t rows, const std::string& name) const {
    const int64_t d = c_.hidden_size;
    const auto& g = w(name + ".weight");
    const auto& bias = w(name + ".bias");
    std::vector<double> y(x.size());
    for (int64_t r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (int64_t k = 0; k < d; ++k) mean += x[r * d + k];
      mean /= static_cast<double>(d);
      for (int64_t k = 0; k < d; ++k) var += (x[r * d + k] - mean) * (x[r * d + k] - mean);
      var /= static_cast<double>(d);
      const double inv = 1.0 / std::sqrt(var + c_.layer_norm_eps);
      for (int64_t k = 0; k < d; ++k) y[r * d + k] = (x[r * d + k] - mean) * inv * g[k] + bias[k];
    }
    return y;
  }

  std::vector<double> linear(const std::vector<double>& x, int64_t rows, int64_t in, int64_t out,
                             const std::string& name) const {
    const auto& wt = w(name + ".weight");
    const auto& bias = w(name + ".bias");
    std::vector<double> y(static_cast<size_t>(rows * out));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) {
        double s = bias[o];
        for (int64_t k = 0; k < in; ++k) s += x[r * in + k] * wt[o * in + k];
        y[r * out + o] = s;
      }
    return y;
  }

  std::vector<double> attention(const std::vector<double>& q, const std::vector<double>& k,
                                const std::vector<double>& v, int64_t batch, int64_t len,
                                const std::vector<std::vector<int>>& mask) const {
    const int64_t d = c_.hidden_size, heads = c_.num_attention_heads, hd = d / heads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    std::vector<double> out(q.size(), 0.0);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < len; ++i) {
          std::vector<double> s(static_cast<size_t>(len), 0.0);
          std::vector<bool> seen(static_cast<size_t>(len), false);
          double mx = -INFINITY;
          for (int64_t j = 0; j <= i; ++j) {
            if (!mask.empty() && !mask[b][j]) continue;
            double dot = 0;
            for (int64_t e = 0; e < hd; ++e) dot += q[(b * len + i) * d + h * hd + e] * k[(b * len + j) * d + h * hd + e];
            s[j] = dot * scale;
            seen[j] = true;
            mx = std::max(mx, s[j]);
          }
          double sum = 0;
          for (int64_t j = 0; j < len; ++j) sum += seen[j] ? std::exp(s[j] - mx) : 0.0;
          for (int64_t j = 0; j < len; ++j) {
            if (!seen[j]) continue;
            const double p = std::exp(s[j] - mx) / sum;
            for (int64_t e = 0; e < hd; ++e) out[(b * len + i) * d + h * hd + e] += p * v[(b * len + j) * d + h * hd + e];
          }
        }
    return out;
  }

  double activation(double z) const {
    if (c_.hidden_act == "quick_gelu") return z / (1.0 + std::exp(-1.702 * z));
    if (c_.hidden_act == "gelu") return 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
    throw std::runtime_error("reference: activation " + c_.hidden_act);
  }

  CLIPTextModelConfig c_;
  std::map<std::string, std::vector<float>> w_;
};

// ---- helpers ------------------------------------------------------------------------------

Tensor ids_tensor(const std::vector<std::vector<int64_t>>& ids, DType dtype = DType::I64) {
  const int64_t batch = static_cast<int64_t>(ids.size()), len = static_cast<int64_t>(ids[0].size());
  Tensor t = Tensor::empty({batch, len}, DType::I64);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < len; ++j) t.data_mut<int64_t>()[b * len + j] = ids[b][j];
  return dtype == DType::I64 ? t : t.to(dtype);
}

Tensor f32_tensor(const Shape& shape, const std::vector<double>& v) {
  std::vector<float> f(v.begin(), v.end());
  return Tensor::from_f32(shape, f);
}

std::vector<std::vector<int64_t>> random_ids(int64_t batch, int64_t len, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> dist(0, vocab - 1);
  std::vector<std::vector<int64_t>> ids(static_cast<size_t>(batch), std::vector<int64_t>(static_cast<size_t>(len)));
  for (auto& row : ids)
    for (auto& id : row) id = dist(rng);
  return ids;
}

struct BuiltClip {
  testing::ScratchDir dir;
  std::unique_ptr<CLIPTextModel> model;
};

std::unique_ptr<BuiltClip> build(const CLIPTextModelConfig& cfg, const std::map<std::string, Tensor>& weights,
                                 Precision precision) {
  auto out = std::make_unique<BuiltClip>();
  io::NamedTensors named(weights.begin(), weights.end());
  const std::string path = out->dir / "model.safetensors";
  io::write_safetensors(path, named);
  io::WeightBinder binder(io::WeightSource::open_file(path));
  ModelOptions options;
  options.precision = precision;
  out->model = std::make_unique<CLIPTextModel>(cfg, binder, options);
  binder.finish();
  EXPECT_TRUE(binder.ok()) << binder.report();
  EXPECT_EQ(binder.matched_count(), weights.size());
  EXPECT_TRUE(binder.unexpected().empty());
  return out;
}

// The rows of `last` [B, L, D] at `positions` -> [B, D].
Tensor gather_rows(const Tensor& last, const std::vector<int64_t>& positions) {
  const int64_t batch = last.dim(0), d = last.dim(2);
  Tensor out = Tensor::empty({batch, d}, DType::F32);
  for (int64_t b = 0; b < batch; ++b) out.select(0, b).copy_from(last.select(0, b).select(0, positions[b]));
  return out;
}

// ---- config -------------------------------------------------------------------------------

TEST(CLIPTextModelConfig, ParsesFluxTextEncoderConfig) {
  const auto c = parse(kFluxClipConfig);
  EXPECT_EQ(c.vocab_size, 49408);
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.head_dim(), 64);
  EXPECT_EQ(c.max_position_embeddings, 77);
  EXPECT_EQ(c.activation, ops::Activation::QuickGelu);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-5);
  EXPECT_EQ(c.eos_token_id, 2);
}

TEST(CLIPTextModelConfig, AbsentFieldsTakeCLIPTextConfigDefaults) {
  const auto c = parse("{}");
  EXPECT_EQ(c.vocab_size, 49408);
  EXPECT_EQ(c.hidden_size, 512);
  EXPECT_EQ(c.intermediate_size, 2048);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.max_position_embeddings, 77);
  EXPECT_EQ(c.activation, ops::Activation::QuickGelu);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-5);
  EXPECT_EQ(c.eos_token_id, 49407);
  EXPECT_EQ(parse(R"({"hidden_act": "gelu"})").activation, ops::Activation::GeluErf);
  EXPECT_EQ(parse(R"({"hidden_act": "gelu_new"})").activation, ops::Activation::GeluTanh);
}

TEST(CLIPTextModelConfig, RejectsWhatWouldChangeTheMath) {
  using testing::expect_error;
  expect_error([] { parse(R"({"hidden_act": "relu"})"); }, {"config.json", "hidden_act", "relu"});
  expect_error([] { parse(R"({"model_type": "clip"})"); }, {"config.json", "model_type", "clip"});
  expect_error([] { parse(R"({"hidden_size": 30, "num_attention_heads": 4})"); },
               {"config.json", "hidden_size", "num_attention_heads"});
  expect_error([] { parse(R"({"num_hidden_layers": 0})"); }, {"config.json", "num_hidden_layers"});
  expect_error([] { parse(R"({"eos_token_id": "x"})"); }, {"config.json", "eos_token_id"});
  expect_error([] { parse(R"({"layer_norm_eps": -1})"); }, {"config.json", "layer_norm_eps"});
}

// ---- weights ------------------------------------------------------------------------------

TEST(CLIPTextModel, ExpectedListOfTheRealCheckpoint) {
  const auto cfg = parse(kFluxClipConfig);
  io::WeightBinder binder = io::WeightBinder::expected_only();
  CLIPTextModel model(cfg, binder, ModelOptions{});
  const auto& expected = binder.expected();
  ASSERT_EQ(expected.size(), 196u);  // 2 embeddings + 12 layers x 16 + final norm 2

  std::map<std::string, Shape> got;
  for (const auto& e : expected) {
    EXPECT_FALSE(e.optional) << e.name;
    EXPECT_TRUE(got.emplace(e.name, e.shape).second) << "taken twice: " << e.name;
  }
  const auto want = checkpoint_tensors(cfg);
  ASSERT_EQ(want.size(), 196u);
  for (const auto& [name, shape] : want) {
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << "not taken: " << name;
    EXPECT_EQ(it->second, shape) << name;
  }
  EXPECT_EQ(got.at("text_model.embeddings.token_embedding.weight"), (Shape{49408, 768}));
  EXPECT_EQ(got.at("text_model.embeddings.position_embedding.weight"), (Shape{77, 768}));
  EXPECT_EQ(got.at("text_model.encoder.layers.11.mlp.fc1.weight"), (Shape{3072, 768}));
  EXPECT_EQ(got.at("text_model.encoder.layers.0.self_attn.out_proj.bias"), (Shape{768}));
  EXPECT_EQ(got.at("text_model.final_layer_norm.weight"), (Shape{768}));
  // Without weights the model refuses to run rather than crash.
  testing::expect_error([&] { model.forward(ids_tensor({{49406, 49407}})); }, {"CLIP text model", "missing"});
}

TEST(CLIPTextModel, IgnoresStoredPositionIdsBuffer) {
  const auto cfg = tiny_config();
  auto weights = random_weights(cfg, 1, DType::F32);
  const size_t real = weights.size();
  // Older checkpoints store the non-persistent buffer; transformers ignores its values.
  Tensor position_ids = Tensor::empty({1, cfg.max_position_embeddings}, DType::I64);
  for (int64_t j = 0; j < cfg.max_position_embeddings; ++j) position_ids.data_mut<int64_t>()[j] = j;
  testing::ScratchDir dir;
  io::NamedTensors named(weights.begin(), weights.end());
  named.emplace_back("text_model.embeddings.position_ids", position_ids);
  io::write_safetensors(dir / "model.safetensors", named);
  io::WeightBinder binder(io::WeightSource::open_file(dir / "model.safetensors"));
  CLIPTextModel model(cfg, binder, ModelOptions{.precision = Precision::F32});
  binder.finish();
  EXPECT_TRUE(binder.ok()) << binder.report();
  EXPECT_EQ(binder.matched_count(), real);
  EXPECT_TRUE(binder.unexpected().empty());
}

TEST(CLIPTextModel, MissingOrMisshapenWeightsAreReportedByName) {
  const auto cfg = tiny_config();
  auto weights = random_weights(cfg, 1, DType::F32);
  weights.erase("text_model.encoder.layers.1.layer_norm2.bias");
  weights["text_model.encoder.layers.0.mlp.fc1.weight"] = random_tensor({64, 31}, 3);
  testing::ScratchDir dir;
  io::write_safetensors(dir / "model.safetensors", io::NamedTensors(weights.begin(), weights.end()));
  io::WeightBinder binder(io::WeightSource::open_file(dir / "model.safetensors"));
  CLIPTextModel model(cfg, binder, ModelOptions{.precision = Precision::F32});
  binder.finish();
  EXPECT_FALSE(binder.ok());
  const std::string report = binder.report();
  EXPECT_NE(report.find("text_model.encoder.layers.1.layer_norm2.bias"), std::string::npos) << report;
  EXPECT_NE(report.find("text_model.encoder.layers.0.mlp.fc1.weight"), std::string::npos) << report;
  testing::expect_error([&] { model.forward(ids_tensor({{1, 2, 3}})); }, {"CLIP text model", "missing"});
}

// ---- forward vs the naive reference -------------------------------------------------------

// `pooled`: each row's end-of-text position, worked out by the caller.
void expect_matches_reference(const CLIPTextModelConfig& cfg, const std::vector<std::vector<int64_t>>& ids,
                              const std::vector<std::vector<int>>& mask, const std::vector<int64_t>& pooled,
                              uint32_t seed) {
  const auto weights = random_weights(cfg, seed, DType::F32);
  const NaiveClip ref(cfg, weights);
  const Reference want = ref.forward(ids, mask);
  const int64_t batch = static_cast<int64_t>(ids.size()), len = static_cast<int64_t>(ids[0].size());
  const Tensor want_last = f32_tensor({batch, len, cfg.hidden_size}, want.last_hidden_state);

  const auto built = build(cfg, weights, Precision::F32);
  const Tensor input = ids_tensor(ids, DType::I32);
  Tensor mask_t;
  if (!mask.empty()) {
    mask_t = Tensor::empty({batch, len}, DType::I64);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < len; ++j) mask_t.data_mut<int64_t>()[b * len + j] = mask[b][j];
  }
  const auto out = mask.empty() ? built->model->forward(input) : built->model->forward(input, mask_t);
  ASSERT_EQ(out.last_hidden_state.shape(), (Shape{batch, len, cfg.hidden_size}));
  ASSERT_EQ(out.pooled_output.shape(), (Shape{batch, cfg.hidden_size}));
  const auto d = compare(out.last_hidden_state, want_last);
  EXPECT_LE(d.max_abs, 1e-5) << "max ref " << d.max_ref;
  EXPECT_GE(d.cosine, 0.999999);
  const auto p = compare(out.pooled_output, gather_rows(want_last, pooled));
  EXPECT_LE(p.max_abs, 1e-5);
}

TEST(CLIPTextModel, F32MatchesNaiveReference) {
  const auto cfg = tiny_config();
  auto ids = random_ids(2, 16, 49, 11);  // full 16 positions; ids below the eos id 49
  ids[0][9] = 49;
  ids[1][15] = 49;
  expect_matches_reference(cfg, ids, {}, {9, 15}, 100);
}

TEST(CLIPTextModel, F32MatchesNaiveReferenceShortSequenceGeluAndThreeRows) {
  const auto cfg = tiny_config(2, "gelu");
  auto ids = random_ids(3, 7, 50, 12);
  // Legacy eos id 2: the row's largest id, placed here above the random ones (< 45).
  for (auto& row : ids)
    for (auto& id : row) id %= 45;
  ids[0][6] = 49;
  ids[1][2] = 47;
  ids[1][5] = 47;  // a later equal maximum does not win
  ids[2][0] = 46;
  expect_matches_reference(cfg, ids, {}, {6, 2, 0}, 200);
}

TEST(CLIPTextModel, F32PaddingMaskMatchesNaiveReference) {
  const auto cfg = tiny_config();
  auto ids = random_ids(2, 12, 49, 13);
  ids[0][5] = 49;
  ids[1][11] = 49;
  // Right padding as a tokenizer would mask it; pad query rows still attend to the real keys.
  std::vector<std::vector<int>> mask = {{1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}};
  expect_matches_reference(cfg, ids, mask, {5, 11}, 300);
}

TEST(CLIPTextModel, Bf16MatchesNaiveReference) {
  const auto cfg = tiny_config();
  const auto weights = random_weights(cfg, 400, DType::BF16);  // stored bf16 like the real checkpoint
  auto ids = random_ids(2, 16, 49, 14);
  ids[0][3] = 49;
  ids[1][12] = 49;
  const Reference want = NaiveClip(cfg, weights).forward(ids);
  const Tensor want_last = f32_tensor({2, 16, cfg.hidden_size}, want.last_hidden_state);

  const auto built = build(cfg, weights, Precision::BF16);
  const Tensor input = ids_tensor(ids);
  const auto out = built->model->forward(input);
  const auto d = compare(out.last_hidden_state, want_last);
  EXPECT_GE(d.cosine, 0.999);
  EXPECT_LE(d.rel(), 0.03) << "max abs " << d.max_abs << " of max " << d.max_ref;
  const auto p = compare(out.pooled_output, gather_rows(want_last, {3, 12}));
  EXPECT_GE(p.cosine, 0.999);
}

TEST(CLIPTextModel, TraceRecordsModulePathsInForwardOrder) {
  const auto cfg = tiny_config();
  const auto weights = random_weights(cfg, 500, DType::F32);
  const auto ids = random_ids(2, 10, 50, 15);
  const Reference want = NaiveClip(cfg, weights).forward(ids);
  const auto built = build(cfg, weights, Precision::F32);

  std::vector<std::string> names;
  std::map<std::string, Tensor> values;
  const models::Trace trace([&](const std::string& name, const Tensor& t) {
    names.push_back(name);
    values[name] = t;
  });
  const auto traced = built->model->forward(ids_tensor(ids), &trace);
  const std::vector<std::string> order = {
      "text_model.embeddings",          "text_model.encoder.layers.0.self_attn", "text_model.encoder.layers.0.mlp",
      "text_model.encoder.layers.0",    "text_model.encoder.layers.1.self_attn", "text_model.encoder.layers.1.mlp",
      "text_model.encoder.layers.1",    "text_model.final_layer_norm"};
  EXPECT_EQ(names, order);
  for (int i = 0; i < 2; ++i) {
    const auto d = compare(values.at("text_model.encoder.layers." + std::to_string(i)),
                           f32_tensor({2, 10, cfg.hidden_size}, want.layer_outputs[static_cast<size_t>(i)]));
    EXPECT_LE(d.max_abs, 1e-5 * std::max(1.0, d.max_ref)) << "layer " << i;
  }
  const auto plain = built->model->forward(ids_tensor(ids));
  EXPECT_LE(compare(traced.last_hidden_state, plain.last_hidden_state).max_abs, 1e-5);
  EXPECT_LE(compare(values.at("text_model.final_layer_norm"), plain.last_hidden_state).max_abs, 1e-5);
}

// ---- properties ---------------------------------------------------------------------------

TEST(CLIPTextModel, LaterTokensDoNotChangeEarlierHiddenStates) {
  const auto cfg = tiny_config();
  const auto built = build(cfg, random_weights(cfg, 600, DType::F32), Precision::F32);
  auto ids = random_ids(2, 16, 49, 16);
  const auto a = built->model->forward(ids_tensor(ids)).last_hidden_state;
  const int64_t t = 9;
  ids[0][t] = (ids[0][t] + 7) % 49;
  ids[0][14] = (ids[0][14] + 3) % 49;
  const auto b = built->model->forward(ids_tensor(ids)).last_hidden_state;
  // Causal: row 0 positions < t and all of row 1 are bitwise unchanged; position t changes.
  EXPECT_EQ(compare(a.select(0, 0).slice(0, 0, t), b.select(0, 0).slice(0, 0, t)).max_abs, 0.0);
  EXPECT_EQ(compare(a.select(0, 1), b.select(0, 1)).max_abs, 0.0);
  EXPECT_GT(compare(a.select(0, 0).select(0, t), b.select(0, 0).select(0, t)).max_abs, 1e-3);
  EXPECT_GT(compare(a.select(0, 0).select(0, 15), b.select(0, 0).select(0, 15)).max_abs, 1e-3);
}

TEST(CLIPTextModel, PooledPositionLegacyEosTwoIsArgmaxOfIds) {
  // eos_token_id 2 (openai configs): the largest id marks end of text, first maximum wins; the
  // id 2 itself means nothing.
  const Tensor ids = ids_tensor({{5, 2, 40, 47, 47, 3}, {2, 9, 8, 7, 49, 1}});
  EXPECT_EQ(CLIPTextModel::pooled_positions(ids, 2), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(CLIPTextModel::pooled_positions(ids.to(DType::I32), 2), (std::vector<int64_t>{3, 4}));
}

TEST(CLIPTextModel, PooledPositionIsFirstEosOtherwise) {
  // The first position holding the eos id even when larger ids follow; none -> 0.
  const Tensor ids = ids_tensor({{5, 7, 40, 7, 47, 3}, {2, 9, 8, 6, 49, 1}, {7, 1, 1, 1, 1, 1}});
  EXPECT_EQ(CLIPTextModel::pooled_positions(ids, 7), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(CLIPTextModel::pooled_positions(ids, 47), (std::vector<int64_t>{4, 0, 0}));
}

TEST(CLIPTextModel, PooledOutputFollowsTheConfigsEosRule) {
  // One input, two configs: the pooled row moves with the rule.
  const std::vector<std::vector<int64_t>> rows = {{30, 10, 45, 10, 20, 48, 1, 1}};
  for (const int64_t eos : {int64_t{2}, int64_t{10}}) {
    const auto cfg = tiny_config(eos);
    const auto built = build(cfg, random_weights(cfg, 700, DType::F32), Precision::F32);
    const auto out = built->model->forward(ids_tensor(rows));
    const int64_t want_pos = eos == 2 ? 5 : 1;
    EXPECT_EQ(compare(out.pooled_output.select(0, 0), out.last_hidden_state.select(0, 0).select(0, want_pos)).max_abs,
              0.0)
        << "eos " << eos;
  }
}

TEST(CLIPTextModel, RejectsBadInputsWithClearErrors) {
  using testing::expect_error;
  const auto cfg = tiny_config();
  const auto built = build(cfg, random_weights(cfg, 800, DType::F32), Precision::F32);
  const CLIPTextModel& m = *built->model;
  expect_error([&] { m.forward(ids_tensor({{1, 50}})); }, {"input_ids[0, 1] = 50", "vocabulary"});
  expect_error([&] { m.forward(ids_tensor({{1, -1}})); }, {"input_ids[0, 1] = -1"});
  expect_error([&] { m.forward(ids_tensor(random_ids(1, 17, 50, 1))); }, {"17", "max_position_embeddings"});
  expect_error([&] { m.forward(Tensor::zeros({1, 4}, DType::F32)); }, {"input_ids", "I64"});
  expect_error([&] { m.forward(Tensor::zeros({4}, DType::I64)); }, {"input_ids", "[B, L]"});
  const Tensor ids = ids_tensor({{1, 2, 3}});
  expect_error([&] { m.forward(ids, Tensor::zeros({1, 4}, DType::I64)); }, {"attention_mask", "[1, 3]"});
  Tensor bad = Tensor::zeros({1, 3}, DType::I64);
  bad.data_mut<int64_t>()[1] = 2;
  expect_error([&] { m.forward(ids, bad); }, {"attention_mask[0, 1] = 2"});
}

}  // namespace
}  // namespace diffuse
