// QwenImageTransformer2DModel: the real Qwen-Image expected tensor list, config validation, the
// centred RoPE tables against a naive complex implementation of the reference's construction,
// and batched per-row text masks against separate unpadded calls (numerical parity with
// diffusers is the parity.qwenimage_transformer cases).
#include <gtest/gtest.h>

#include <complex>
#include <map>

#include "golden_tensors.h"
#include "io/checkpoint.h"
#include "models/dit/qwenimage_transformer.h"
#include "ops/rope.h"
#include "random_tensor.h"

namespace diffuse::models {
namespace {

using testing::compare;
using testing::golden_path;
using testing::random_tensor;

constexpr const char* kCase = "qwenimage_transformer";

// Qwen/Qwen-Image transformer/config.json (qwen-image.md §2).
io::Json real_config() {
  return io::Json{{"_class_name", "QwenImageTransformer2DModel"},
                  {"patch_size", 2},
                  {"in_channels", 64},
                  {"out_channels", 16},
                  {"num_layers", 60},
                  {"attention_head_dim", 128},
                  {"num_attention_heads", 24},
                  {"joint_attention_dim", 3584},
                  {"axes_dims_rope", {16, 56, 56}},
                  {"guidance_embeds", false}};
}

TEST(QwenImageTransformer, RealConfigExpects1933Tensors) {
  const auto config = QwenImageTransformerConfig::from_json(real_config(), "config.json");
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const QwenImageTransformer2DModel model(config, binder);
  std::map<std::string, Shape> shapes;
  for (const auto& e : binder.expected()) shapes[e.name] = e.shape;
  EXPECT_EQ(binder.expected().size(), 1933u);
  EXPECT_EQ(shapes.size(), 1933u);
  const std::map<std::string, Shape> some = {
      {"transformer_blocks.59.img_mod.1.weight", {18432, 3072}},
      {"transformer_blocks.0.txt_mod.1.bias", {18432}},
      {"txt_in.weight", {3072, 3584}},
      {"txt_norm.weight", {3584}},
      {"img_in.weight", {3072, 64}},
      {"time_text_embed.timestep_embedder.linear_1.weight", {3072, 256}},
      {"time_text_embed.timestep_embedder.linear_2.bias", {3072}},
      {"transformer_blocks.7.img_mlp.net.0.proj.weight", {12288, 3072}},
      {"transformer_blocks.7.txt_mlp.net.2.weight", {3072, 12288}},
      {"transformer_blocks.30.attn.norm_added_k.weight", {128}},
      {"transformer_blocks.30.attn.to_add_out.weight", {3072, 3072}},
      {"transformer_blocks.30.attn.add_v_proj.bias", {3072}},
      {"norm_out.linear.weight", {6144, 3072}},
      {"proj_out.weight", {64, 3072}},
  };
  for (const auto& [name, shape] : some) {
    ASSERT_TRUE(shapes.count(name)) << name;
    EXPECT_EQ(shapes.at(name), shape) << name;
  }
  for (const auto& [name, shape] : shapes) {  // no FLUX names leak into the Qwen layout
    EXPECT_EQ(name.find("norm1"), std::string::npos) << name;
    EXPECT_EQ(name.find(".ff"), std::string::npos) << name;
  }
}

TEST(QwenImageTransformer, ConfigDefaultsAndValidation) {
  const auto defaults = QwenImageTransformerConfig::from_json(io::Json::object(), "cfg");
  EXPECT_EQ(defaults.out_channels, 16);
  EXPECT_EQ(defaults.num_layers, 60);
  io::Json j = real_config();
  j["out_channels"] = nullptr;  // `out_channels or in_channels`
  EXPECT_EQ(QwenImageTransformerConfig::from_json(j, "cfg").out_channels, 64);
  for (const char* flag : {"guidance_embeds", "zero_cond_t", "use_additional_t_cond", "use_layer3d_rope"}) {
    j = real_config();
    j[flag] = true;
    EXPECT_THROW(QwenImageTransformerConfig::from_json(j, "cfg"), Error) << flag;
  }
  j = real_config();
  j["attention_head_dim"] = 64;  // 16 + 56 + 56 no longer tile a head
  EXPECT_THROW(QwenImageTransformerConfig::from_json(j, "cfg"), Error);
  j = real_config();
  j["axes_dims_rope"] = {64, 64};
  EXPECT_THROW(QwenImageTransformerConfig::from_json(j, "cfg"), Error);
}

TEST(QwenImageRope, CentredPositionsByHand) {
  const QwenImageGrid g{1, 5, 3};
  // Rows of a 5-high grid: -3 .. 1; columns of a 3-wide grid: -2 .. 0.
  EXPECT_EQ(qwen_image_token_position(g, 0, 0, 0).row, -3);
  EXPECT_EQ(qwen_image_token_position(g, 0, 4, 0).row, 1);
  EXPECT_EQ(qwen_image_token_position(g, 0, 0, 0).col, -2);
  EXPECT_EQ(qwen_image_token_position(g, 0, 0, 2).col, 0);
  EXPECT_EQ(qwen_text_position_base(g), 2);  // max(5 / 2, 3 / 2)
  EXPECT_EQ(qwen_text_position_base(QwenImageGrid{1, 4, 6}), 3);
}

// The reference's construction, transcribed naively: complex tables for indices 0..4095 and
// -4096..-1 per axis, image rows / columns taken as cat(neg[-(n - n/2):], pos[:n/2]), frames
// pos[0:frames], text pos[max(h/2, w/2) + j] on every axis; applied as a complex product on
// adjacent channel pairs.
std::vector<std::complex<double>> naive_freqs(const QwenImageGrid& g, int64_t txt_len,
                                              const std::vector<int64_t>& axes, int64_t token) {
  constexpr int64_t kTable = 4096;
  auto params = [&](int64_t index, int64_t dim) {  // rope_params(index, dim) row
    std::vector<std::complex<double>> row;
    for (int64_t k = 0; k < dim; k += 2) {
      const float inv = 1.0f / std::pow(10000.0f, static_cast<float>(k) / static_cast<float>(dim));
      const float angle = static_cast<float>(index) * inv;
      row.push_back(std::polar(1.0, static_cast<double>(angle)));
    }
    return row;
  };
  std::vector<std::vector<int64_t>> pos_index(3), neg_index(3);
  for (int64_t i = 0; i < kTable; ++i) {
    for (int a = 0; a < 3; ++a) {
      pos_index[a].push_back(i);
      neg_index[a].push_back(-(kTable - i));  // arange(4096).flip(0) * -1 - 1
    }
  }
  std::vector<std::complex<double>> out;
  auto append = [&](int64_t index, int64_t dim) {
    for (const auto& z : params(index, dim)) out.push_back(z);
  };
  if (token < txt_len) {
    const int64_t base = std::max(g.height / 2, g.width / 2);
    for (int a = 0; a < 3; ++a) append(pos_index[a][base + token], axes[a]);
    return out;
  }
  const int64_t i = token - txt_len;
  const int64_t f = i / (g.height * g.width), r = (i / g.width) % g.height, c = i % g.width;
  auto centred = [&](int a, int64_t n, int64_t at) {
    std::vector<int64_t> idx(neg_index[a].end() - (n - n / 2), neg_index[a].end());
    idx.insert(idx.end(), pos_index[a].begin(), pos_index[a].begin() + n / 2);
    return idx[static_cast<size_t>(at)];
  };
  append(pos_index[0][f], axes[0]);
  append(centred(1, g.height, r), axes[1]);
  append(centred(2, g.width, c), axes[2]);
  return out;
}

TEST(QwenImageRope, TablesMatchNaiveComplexOnOddGrids) {
  const std::vector<int64_t> axes{4, 6, 10};
  for (const QwenImageGrid g : {QwenImageGrid{1, 5, 3}, QwenImageGrid{2, 3, 7}, QwenImageGrid{1, 1, 1}}) {
    const int64_t txt_len = 4, len = txt_len + g.tokens(), heads = 2, dim = 20;
    const ops::RopeTables t = qwen_image_rope_tables(g, txt_len, axes);
    ASSERT_EQ(t.cos.shape(), (Shape{len, dim}));
    Tensor x = random_tensor({1, len, heads, dim}, 7);
    const Tensor x0 = x.clone();
    ops::rope_interleaved_inplace(x, t.cos, t.sin);
    double worst = 0;
    for (int64_t s = 0; s < len; ++s) {
      const auto freqs = naive_freqs(g, txt_len, axes, s);
      ASSERT_EQ(static_cast<int64_t>(freqs.size()), dim / 2);
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t k = 0; k < dim / 2; ++k) {
          const std::complex<double> z(x0.item({0, s, h, 2 * k}), x0.item({0, s, h, 2 * k + 1}));
          const std::complex<double> want = z * freqs[static_cast<size_t>(k)];
          worst = std::max({worst, std::fabs(x.item({0, s, h, 2 * k}) - want.real()),
                            std::fabs(x.item({0, s, h, 2 * k + 1}) - want.imag())});
        }
      }
    }
    EXPECT_LT(worst, 2e-6) << g.frames << "x" << g.height << "x" << g.width;
  }
}

// Builds the fixture's (small) model; the test inputs use their own grid and lengths.
QwenImageTransformer2DModel fixture_model() {
  const std::string cfg_path = golden_path(kCase, "config.json");
  io::WeightBinder binder(io::WeightSource::open_file(golden_path(kCase, "diffusion_pytorch_model.safetensors")));
  ModelOptions o;
  o.precision = Precision::F32;
  QwenImageTransformer2DModel model(QwenImageTransformerConfig::from_json(io::load_json(cfg_path), cfg_path), binder, o);
  binder.check();
  return model;
}

Tensor mask_rows(const std::vector<int64_t>& lengths, int64_t txt_len, DType dtype) {
  std::vector<float> m;
  for (int64_t n : lengths)
    for (int64_t j = 0; j < txt_len; ++j) m.push_back(j < n ? 1.0f : 0.0f);
  return Tensor::from_f32({static_cast<int64_t>(lengths.size()), txt_len}, m).to(dtype);
}

// True CFG batches cond and uncond texts of different lengths into one call, padding the shorter
// one: each row's image output must equal a B=1 call on that row's unpadded text.
TEST(QwenImageTransformer, BatchedTextMasksMatchSeparateUnpaddedCalls) {
  const QwenImageTransformer2DModel model = fixture_model();
  const auto& c = model.config();
  const QwenImageGrid grid{1, 3, 5};
  const int64_t n = grid.tokens(), txt_len = 6;
  const std::vector<int64_t> lengths{6, 2};
  const Tensor hidden = random_tensor({2, n, c.in_channels}, 11);
  // Padding rows hold large garbage: any leak through the mask would show.
  const Tensor text = random_tensor({2, txt_len, c.joint_attention_dim}, 12, 3.0f);
  const Tensor sigma = Tensor::from_f32({2}, {0.83f, 0.21f});

  Tensor batched;
  for (DType dtype : {DType::I64, DType::Bool, DType::U8, DType::F32}) {
    const Tensor out = model.forward(hidden, text, mask_rows(lengths, txt_len, dtype), sigma, grid);
    ASSERT_EQ(out.shape(), (Shape{2, n, c.output_channels()}));
    if (!batched.defined()) {
      batched = out;
    } else {
      EXPECT_EQ(compare(out, batched).max_abs, 0.0) << dtype_name(dtype);
    }
  }
  for (int64_t b = 0; b < 2; ++b) {
    const Tensor one = model.forward(hidden.slice(0, b, b + 1).contiguous(),
                                     text.slice(0, b, b + 1).slice(1, 0, lengths[b]).contiguous(), Tensor{},
                                     sigma.slice(0, b, b + 1).contiguous(), grid);
    const auto d = compare(batched.slice(0, b, b + 1), one);
    EXPECT_LT(d.rel(), 1e-5) << "row " << b << " max-abs " << d.max_abs;
    EXPECT_GT(d.max_ref, 0.1);
  }
  // Without the mask the padded row does differ (the mask is what makes the rows agree).
  const Tensor unmasked = model.forward(hidden, text, Tensor{}, sigma, grid);
  EXPECT_GT(compare(unmasked.slice(0, 1, 2), batched.slice(0, 1, 2)).rel(), 1e-3);
}

TEST(QwenImageTransformer, RejectsInconsistentInputs) {
  const QwenImageTransformer2DModel model = fixture_model();
  const auto& c = model.config();
  const Tensor hidden = random_tensor({1, 12, c.in_channels}, 1);
  const Tensor text = random_tensor({1, 3, c.joint_attention_dim}, 2);
  const Tensor sigma = Tensor::from_f32({1}, {0.5f});
  EXPECT_THROW(model.forward(hidden, text, Tensor{}, sigma, QwenImageGrid{1, 5, 3}), Error);  // 15 != 12
  EXPECT_THROW(model.forward(hidden, text, mask_rows({3, 3}, 3, DType::I64), sigma, QwenImageGrid{1, 4, 3}), Error);
  EXPECT_THROW(model.forward(hidden, text, Tensor{}, Tensor::from_f32({2}, {0.5f, 0.5f}), QwenImageGrid{1, 4, 3}),
               Error);
  EXPECT_NO_THROW(model.forward(hidden, text, Tensor{}, sigma, QwenImageGrid{1, 4, 3}));
}

}  // namespace
}  // namespace diffuse::models
