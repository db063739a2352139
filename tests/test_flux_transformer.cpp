// FluxTransformer2DModel: the tensor list of the real FLUX.1-dev / schnell configs (expected-only
// binding), config parsing, input validation, and batch independence on the fixture weights
// (numerical parity with diffusers is the parity.flux_transformer_* cases).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "golden_tensors.h"
#include "io/checkpoint.h"
#include "models/dit/flux_transformer.h"
#include "random_tensor.h"

namespace diffuse::models {
namespace {

using testing::compare;
using testing::golden_path;
using testing::golden_tensor;

// FLUX.1-dev transformer/config.json (flux1.md §2); schnell differs only in guidance_embeds.
io::Json real_config(bool guidance) {
  return io::Json{{"_class_name", "FluxTransformer2DModel"},
                  {"attention_head_dim", 128},
                  {"guidance_embeds", guidance},
                  {"in_channels", 64},
                  {"joint_attention_dim", 4096},
                  {"num_attention_heads", 24},
                  {"num_layers", 19},
                  {"num_single_layers", 38},
                  {"patch_size", 1},
                  {"pooled_projection_dim", 768}};
}

std::map<std::string, Shape> expected_tensors(const io::Json& config) {
  io::WeightBinder binder = io::WeightBinder::expected_only();
  const FluxTransformer2DModel model(FluxTransformerConfig::from_json(config, "config.json"), binder);
  std::map<std::string, Shape> shapes;
  for (const auto& e : binder.expected()) shapes[e.name] = e.shape;
  EXPECT_EQ(shapes.size(), binder.expected().size()) << "duplicate takes";
  return shapes;
}

TEST(FluxTransformer, DevConfigExpects1160Tensors) {
  const auto shapes = expected_tensors(real_config(true));
  EXPECT_EQ(shapes.size(), 1160u);
  const std::map<std::string, Shape> some = {
      {"x_embedder.weight", {3072, 64}},
      {"context_embedder.weight", {3072, 4096}},
      {"time_text_embed.timestep_embedder.linear_1.weight", {3072, 256}},
      {"time_text_embed.guidance_embedder.linear_2.bias", {3072}},
      {"time_text_embed.text_embedder.linear_1.weight", {3072, 768}},
      {"transformer_blocks.0.norm1.linear.weight", {18432, 3072}},
      {"transformer_blocks.18.norm1_context.linear.bias", {18432}},
      {"transformer_blocks.7.attn.norm_added_k.weight", {128}},
      {"transformer_blocks.7.attn.to_add_out.weight", {3072, 3072}},
      {"transformer_blocks.3.ff_context.net.0.proj.weight", {12288, 3072}},
      {"transformer_blocks.3.ff.net.2.weight", {3072, 12288}},
      {"single_transformer_blocks.37.norm.linear.weight", {9216, 3072}},
      {"single_transformer_blocks.37.proj_out.weight", {3072, 15360}},
      {"single_transformer_blocks.0.proj_mlp.weight", {12288, 3072}},
      {"single_transformer_blocks.0.attn.norm_q.weight", {128}},
      {"norm_out.linear.weight", {6144, 3072}},
      {"proj_out.weight", {64, 3072}},
  };
  for (const auto& [name, shape] : some) {
    ASSERT_TRUE(shapes.count(name)) << name;
    EXPECT_EQ(shapes.at(name), shape) << name;
  }
  EXPECT_FALSE(shapes.count("single_transformer_blocks.0.attn.to_out.0.weight"));  // pre_only attention
  EXPECT_FALSE(shapes.count("single_transformer_blocks.38.proj_out.weight"));
}

TEST(FluxTransformer, SchnellConfigExpects1156Tensors) {
  const auto shapes = expected_tensors(real_config(false));
  EXPECT_EQ(shapes.size(), 1156u);
  for (const auto& [name, shape] : shapes) EXPECT_EQ(name.find("guidance_embedder"), std::string::npos) << name;
}

TEST(FluxTransformer, ConfigDefaultsAndValidation) {
  // Absent fields take diffusers' defaults; out_channels null means in_channels.
  const auto c = FluxTransformerConfig::from_json(io::Json{{"in_channels", 16}, {"out_channels", nullptr}}, "cfg");
  EXPECT_EQ(c.backbone.out_channels, 16);
  EXPECT_EQ(c.backbone.num_layers, 19);
  EXPECT_EQ(c.backbone.axes_dims_rope, (std::vector<int64_t>{16, 56, 56}));
  EXPECT_EQ(c.pooled_projection_dim, 768);
  EXPECT_FALSE(c.guidance_embeds);
  EXPECT_EQ(c.backbone.block_dims().mlp_hidden, 4 * 3072);

  io::Json bad = real_config(true);
  bad["axes_dims_rope"] = {16, 56, 48};
  EXPECT_THROW(FluxTransformerConfig::from_json(bad, "cfg"), Error);
  bad = real_config(true);
  bad["num_attention_heads"] = 0;
  EXPECT_THROW(FluxTransformerConfig::from_json(bad, "cfg"), Error);
  bad = real_config(true);
  bad["guidance_embeds"] = "yes";
  EXPECT_THROW(FluxTransformerConfig::from_json(bad, "cfg"), Error);
}

// The fixture model (2 double + 2 single blocks, width 32) and its inputs.
struct FixtureModel {
  std::unique_ptr<FluxTransformer2DModel> model;
  FluxTransformerInputs inputs;
};

FixtureModel load_fixture(const std::string& name, Precision precision) {
  const std::string config_path = golden_path(name, "config.json");
  io::WeightBinder binder(io::WeightSource::open_file(golden_path(name, "diffusion_pytorch_model.safetensors")));
  ModelOptions o;
  o.precision = precision;
  FixtureModel f;
  f.model = std::make_unique<FluxTransformer2DModel>(
      FluxTransformerConfig::from_json(io::load_json(config_path), config_path), binder, o);
  binder.check();
  const auto in = [&](const std::string& t) { return golden_tensor(name, "io.safetensors", "in." + t); };
  f.inputs.hidden_states = in("hidden_states");
  f.inputs.encoder_hidden_states = in("encoder_hidden_states");
  f.inputs.pooled_projections = in("pooled_projections");
  f.inputs.timestep = in("timestep");
  f.inputs.img_ids = in("img_ids");
  f.inputs.txt_ids = in("txt_ids");
  return f;
}

Tensor batch_item(const Tensor& t, int64_t b) { return t.slice(0, b, b + 1).contiguous(); }

// Each batch item of a batch-2 call equals that item run alone: the per-batch modulation, gates
// and the batch-strided text / image rows of the joint attention buffers stay per item.
TEST(FluxTransformer, BatchItemsAreIndependent) {
  for (Precision p : {Precision::F32, Precision::BF16}) {
    const FixtureModel f = load_fixture("flux_transformer_noguidance_b2", p);
    const Tensor both = f.model->forward(f.inputs);
    for (int64_t b = 0; b < 2; ++b) {
      FluxTransformerInputs one = f.inputs;
      one.hidden_states = batch_item(f.inputs.hidden_states, b);
      one.encoder_hidden_states = batch_item(f.inputs.encoder_hidden_states, b);
      one.pooled_projections = batch_item(f.inputs.pooled_projections, b);
      one.timestep = batch_item(f.inputs.timestep, b);
      const auto d = compare(f.model->forward(one), batch_item(both, b));
      // bf16: GEMMs of a different M may accumulate in another order, which can flip the bf16
      // rounding of an intermediate value; f32 shows the paths are otherwise identical.
      const bool f32 = p == Precision::F32;
      EXPECT_LE(d.rel(), f32 ? 1e-5 : 1e-2) << "item " << b << (f32 ? " f32" : " bf16");
      EXPECT_GE(d.cosine, f32 ? 0.999999 : 0.99999) << "item " << b << (f32 ? " f32" : " bf16");
    }
  }
}

TEST(FluxTransformer, RejectsBadInputs) {
  FixtureModel f = load_fixture("flux_transformer_noguidance_b2", Precision::F32);
  FluxTransformerInputs in = f.inputs;
  in.guidance = Tensor::from_f32({2}, {3.5f, 3.5f});  // schnell-like config has no guidance embedder
  EXPECT_THROW(f.model->forward(in), Error);
  in = f.inputs;
  in.timestep = Tensor::from_f32({3}, {0.5f, 0.5f, 0.5f});
  EXPECT_THROW(f.model->forward(in), Error);
  in = f.inputs;
  in.img_ids = in.img_ids.slice(0, 0, 15);
  EXPECT_THROW(f.model->forward(in), Error);
  in = f.inputs;
  in.encoder_hidden_states = testing::random_tensor({2, 5, 31}, 1);
  EXPECT_THROW(f.model->forward(in), Error);
  in = f.inputs;
  in.pooled_projections = Tensor();
  EXPECT_THROW(f.model->forward(in), Error);

  FixtureModel g = load_fixture("flux_transformer_guidance", Precision::F32);
  EXPECT_THROW(g.model->forward(g.inputs), Error);  // guidance_embeds model without guidance
}

}  // namespace
}  // namespace diffuse::models
