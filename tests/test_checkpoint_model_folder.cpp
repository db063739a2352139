// Model folders: diffusers layout (model_index.json), Hugging Face cache layout, and the
// golden pipeline fixture.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/model_folder.h"
#include "test_safetensors_helpers.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::ScratchDir;

const char* kModelIndex = R"({
  "_class_name": "FluxPipeline",
  "_diffusers_version": "0.30.0",
  "_name_or_path": "black-forest-labs/FLUX.1-dev",
  "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
  "text_encoder": ["transformers", "CLIPTextModel"],
  "tokenizer_2": [null, null],
  "transformer": ["diffusers", "FluxTransformer2DModel"],
  "requires_safety_checker": true,
  "vae": ["diffusers", "AutoencoderKL"]
})";

// A tiny diffusers model folder at `root`.
void write_model(const std::string& root) {
  testing::write_text(root + "/model_index.json", kModelIndex);
  testing::write_text(root + "/transformer/config.json", R"({"_class_name": "FluxTransformer2DModel", "num_layers": 2})");
  io::write_safetensors(root + "/transformer/diffusion_pytorch_model.safetensors",
                        {{"proj_out.weight", Tensor::zeros({4, 4}, DType::BF16)}});
  testing::write_text(root + "/scheduler/scheduler_config.json", "{}");
}

TEST(ModelFolder, ReadsModelIndex) {
  ScratchDir dir;
  write_model(dir.path());
  const io::ModelIndex index = io::read_model_index(dir.path());
  EXPECT_EQ(index.class_name, "FluxPipeline");
  EXPECT_EQ(index.path, dir / "model_index.json");
  ASSERT_EQ(index.components.size(), 4u);  // null, "_"-prefixed and boolean entries skipped
  const char* want[][3] = {{"scheduler", "diffusers", "FlowMatchEulerDiscreteScheduler"},
                           {"text_encoder", "transformers", "CLIPTextModel"},
                           {"transformer", "diffusers", "FluxTransformer2DModel"},
                           {"vae", "diffusers", "AutoencoderKL"}};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(index.components[i].name, want[i][0]);
    EXPECT_EQ(index.components[i].library, want[i][1]);
    EXPECT_EQ(index.components[i].class_name, want[i][2]);
  }
  ASSERT_NE(index.find("vae"), nullptr);
  EXPECT_EQ(index.find("tokenizer_2"), nullptr);
}

TEST(ModelFolder, MalformedModelIndex) {
  ScratchDir dir;
  testing::write_text(dir / "model_index.json", R"({"transformer": ["diffusers", "X"]})");
  expect_error([&] { io::read_model_index(dir.path()); }, {dir / "model_index.json", "'_class_name'", "missing"});
  testing::write_text(dir / "model_index.json", R"({"_class_name": "P", "vae": ["diffusers"]})");
  expect_error([&] { io::read_model_index(dir.path()); },
               {dir / "model_index.json", "component 'vae'", "expected [library, class]"});
  testing::write_text(dir / "model_index.json", R"({"_class_name": "P",)");
  expect_error([&] { io::read_model_index(dir.path()); }, {dir / "model_index.json", "invalid JSON"});
}

TEST(ModelFolder, ComponentConfigAndWeights) {
  ScratchDir dir;
  write_model(dir.path());
  const io::Json config = io::load_component_config(dir.path(), "transformer");
  EXPECT_EQ(config["num_layers"], 2);
  const io::WeightSource w = io::open_component_weights(dir.path(), "transformer");
  EXPECT_EQ(w.info("proj_out.weight").shape, (Shape{4, 4}));
  expect_error([&] { io::component_folder(dir.path(), "vae"); }, {dir / "vae", "does not exist"});
}

TEST(ModelFolder, ResolvesDiffusersFolder) {
  ScratchDir dir;
  write_model(dir / "flux");
  EXPECT_EQ(io::resolve_model_path(dir / "flux"), dir / "flux");
  EXPECT_EQ(io::resolve_model_path(dir / "flux/"), dir / "flux");
  expect_error([&] { io::resolve_model_path(dir.path()); }, {dir.path(), "not a model folder"});
  expect_error([&] { io::resolve_model_path(dir / "nope"); }, {dir / "nope", "not a directory"});
}

// The Hugging Face cache: models--ORG--NAME/{blobs, refs/main, snapshots/<rev>} where
// snapshot files are symlinks into blobs/.
TEST(ModelFolder, ResolvesHuggingFaceCacheWithRefsMain) {
  ScratchDir dir;
  const std::string repo = dir / "models--black-forest-labs--FLUX.1-dev";
  write_model(repo + "/snapshots/1111aaaa");
  write_model(repo + "/snapshots/2222bbbb");
  // Make one snapshot file a symlink into blobs/, as the cache does.
  fs::create_directories(repo + "/blobs");
  fs::rename(repo + "/snapshots/2222bbbb/transformer/diffusion_pytorch_model.safetensors", repo + "/blobs/abc123");
  fs::create_symlink("../../../blobs/abc123", repo + "/snapshots/2222bbbb/transformer/diffusion_pytorch_model.safetensors");
  testing::write_text(repo + "/refs/main", "2222bbbb\n");

  const std::string snap = io::resolve_model_path(repo);
  EXPECT_EQ(snap, repo + "/snapshots/2222bbbb");
  EXPECT_TRUE(io::is_hf_cache_path(repo));
  EXPECT_TRUE(io::is_hf_cache_path(snap));
  EXPECT_EQ(io::open_component_weights(snap, "transformer").names(), std::vector<std::string>{"proj_out.weight"});
  // A snapshot path is taken as is.
  EXPECT_EQ(io::resolve_model_path(repo + "/snapshots/1111aaaa"), repo + "/snapshots/1111aaaa");

  // refs/main naming a missing snapshot is an error naming the ref file.
  testing::write_text(repo + "/refs/main", "3333cccc");
  expect_error([&] { io::resolve_model_path(repo); }, {repo + "/refs/main", "3333cccc", "does not exist"});

  // Without refs/main, two snapshots are ambiguous...
  fs::remove(repo + "/refs/main");
  expect_error([&] { io::resolve_model_path(repo); }, {repo, "ambiguous", "2 snapshots", "1111aaaa", "2222bbbb"});
  // ...and a single snapshot is chosen.
  fs::remove_all(repo + "/snapshots/1111aaaa");
  EXPECT_EQ(io::resolve_model_path(repo), repo + "/snapshots/2222bbbb");
}

TEST(ModelFolder, GoldenPipelineFixture) {
  const std::string root = std::string(DIFFUSE_GOLDEN_DIR) + "/pipeline_flux";
  EXPECT_EQ(io::resolve_model_path(root), root);
  const io::ModelIndex index = io::read_model_index(root);
  EXPECT_EQ(index.class_name, "FluxPipeline");
  std::vector<std::string> names;
  for (const auto& c : index.components) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"scheduler", "transformer", "vae"}));
  for (const char* component : {"transformer", "vae"}) {
    SCOPED_TRACE(component);
    const io::Json config = io::load_component_config(root, component);
    EXPECT_EQ(config["_class_name"].get<std::string>(), index.find(component)->class_name);
    const io::WeightSource w = io::open_component_weights(root, component);
    EXPECT_GT(w.size(), 0u);
    for (const auto& name : w.names()) EXPECT_EQ(w.info(name).dtype, DType::F32) << name;
  }
  // The VAE's config drives its first conv: [block_out_channels[0], in_channels, 3, 3].
  const io::Json vae = io::load_component_config(root, "vae");
  const io::WeightSource w = io::open_component_weights(root, "vae");
  EXPECT_EQ(w.info("encoder.conv_in.weight").shape,
            (Shape{vae["block_out_channels"][0].get<int64_t>(), vae["in_channels"].get<int64_t>(), 3, 3}));
}

}  // namespace
}  // namespace diffuse
