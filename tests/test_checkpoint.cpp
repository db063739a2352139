// WeightSource: single files, sharded checkpoints through an index, component folders.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/checkpoint.h"
#include "test_safetensors_helpers.h"

namespace diffuse {
namespace {

using io::WeightSource;
using testing::expect_error;
using testing::ScratchDir;

// write_safetensors into `path`, creating its folder first.
void write_st(const std::string& path, const io::NamedTensors& tensors) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  io::write_safetensors(path, tensors);
}

Tensor filled(const Shape& shape, float start) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<float>(i);
  return Tensor::from_f32(shape, v);
}

// Two shards and an index mapping a.* to shard 1 and b.* to shard 2.
void write_sharded(const ScratchDir& dir, const std::string& base) {
  io::write_safetensors(dir / (base + "-00001-of-00002.safetensors"),
                        {{"a.weight", filled({2, 3}, 0)}, {"a.bias", filled({2}, 100)}});
  io::write_safetensors(dir / (base + "-00002-of-00002.safetensors"),
                        {{"b.weight", filled({4}, 200).to(DType::BF16)}});
  testing::write_text(dir / (base + ".safetensors.index.json"), R"({
    "metadata": {"total_size": 40},
    "weight_map": {
      "a.weight": ")" + base + R"(-00001-of-00002.safetensors",
      "a.bias": ")" + base + R"(-00001-of-00002.safetensors",
      "b.weight": ")" + base + R"(-00002-of-00002.safetensors"
    }})");
}

TEST(Checkpoint, SingleFile) {
  ScratchDir dir;
  io::write_safetensors(dir / "m.safetensors", {{"x", filled({3}, 1)}, {"y", filled({2, 2}, 5)}});
  const WeightSource src = WeightSource::open(dir / "m.safetensors");
  EXPECT_EQ(src.names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(src.size(), 2u);
  EXPECT_EQ(src.total_bytes(), 28u);
  EXPECT_EQ(src.tensor("y").to_f32_vector(), (std::vector<float>{5, 6, 7, 8}));
  EXPECT_EQ(src.file_of("x"), dir / "m.safetensors");
  expect_error([&] { src.tensor("z"); }, {dir / "m.safetensors", "tensor 'z'", "not in this checkpoint"});
}

TEST(Checkpoint, ShardedIndexWithTwoShards) {
  ScratchDir dir;
  write_sharded(dir, "model");
  const WeightSource src = WeightSource::open(dir / "model.safetensors.index.json");
  EXPECT_EQ(src.files().size(), 2u);
  EXPECT_EQ(src.names(), (std::vector<std::string>{"a.bias", "a.weight", "b.weight"}));
  EXPECT_EQ(src.tensor("a.weight").to_f32_vector(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(src.tensor("a.bias").to_f32_vector(), (std::vector<float>{100, 101}));
  EXPECT_EQ(src.info("b.weight").dtype, DType::BF16);
  EXPECT_EQ(src.tensor("b.weight").to_f32_vector(), (std::vector<float>{200, 201, 202, 203}));
  EXPECT_EQ(src.file_of("b.weight"), dir / "model-00002-of-00002.safetensors");
  EXPECT_EQ(src.total_bytes(), 24u + 8u + 8u);
}

TEST(Checkpoint, IndexWithMissingShard) {
  ScratchDir dir;
  write_sharded(dir, "model");
  std::filesystem::remove(dir / "model-00002-of-00002.safetensors");
  expect_error([&] { WeightSource::open(dir / "model.safetensors.index.json"); },
               {dir / "model.safetensors.index.json", "tensor 'b.weight'",
                dir / "model-00002-of-00002.safetensors", "does not exist"});
}

TEST(Checkpoint, IndexNamesATensorItsShardLacks) {
  ScratchDir dir;
  write_sharded(dir, "model");
  const std::string index = dir / "model.safetensors.index.json";
  std::string text = testing::read_text(index);
  text.replace(text.find("\"a.bias\""), 8, "\"a.gone\"");
  testing::write_text(index, text);
  expect_error([&] { WeightSource::open(index); },
               {index, "tensor 'a.gone'", "not found in its shard", dir / "model-00001-of-00002.safetensors"});
}

TEST(Checkpoint, IndexRejectsShardPathsOutsideItsFolder) {
  ScratchDir dir;
  write_st(dir / "outside.safetensors", {{"x", filled({1}, 0)}});
  testing::write_text(dir / "sub/model.safetensors.index.json",
                      R"({"weight_map": {"x": "../outside.safetensors"}})");
  expect_error([&] { WeightSource::open(dir / "sub/model.safetensors.index.json"); },
               {"tensor 'x'", "not a file name in the index's folder"});
}

TEST(Checkpoint, MalformedIndex) {
  ScratchDir dir;
  testing::write_text(dir / "a.safetensors.index.json", R"({"metadata": {}})");
  expect_error([&] { WeightSource::open(dir / "a.safetensors.index.json"); },
               {dir / "a.safetensors.index.json", "weight_map"});
  testing::write_text(dir / "b.safetensors.index.json", R"({"weight_map": {"x": 3}})");
  expect_error([&] { WeightSource::open(dir / "b.safetensors.index.json"); },
               {dir / "b.safetensors.index.json", "tensor 'x'", "not a file name"});
  testing::write_text(dir / "c.safetensors.index.json", R"({"weight_map": )");
  expect_error([&] { WeightSource::open(dir / "c.safetensors.index.json"); },
               {dir / "c.safetensors.index.json", "invalid JSON"});
}

TEST(Checkpoint, CorruptShardNamesTheShard) {
  ScratchDir dir;
  write_sharded(dir, "model");
  testing::write_text(dir / "model-00001-of-00002.safetensors", "garbage");
  expect_error([&] { WeightSource::open(dir / "model.safetensors.index.json"); },
               {dir / "model-00001-of-00002.safetensors", "too short"});
}

TEST(Checkpoint, DiffusersComponentFolder) {
  ScratchDir dir;
  write_st(dir / "transformer/diffusion_pytorch_model.safetensors", {{"p", filled({2}, 0)}});
  const WeightSource src = WeightSource::open(dir / "transformer");
  EXPECT_EQ(src.names(), std::vector<std::string>{"p"});
  EXPECT_EQ(src.origin(), dir / "transformer/diffusion_pytorch_model.safetensors");
}

TEST(Checkpoint, DiffusersShardedComponentFolder) {
  ScratchDir dir;
  std::filesystem::create_directories(dir / "transformer");
  write_st(dir / "transformer/diffusion_pytorch_model-00001-of-00001.safetensors",
                        {{"p", filled({2}, 0)}});
  testing::write_text(dir / "transformer/diffusion_pytorch_model.safetensors.index.json",
                      R"({"weight_map": {"p": "diffusion_pytorch_model-00001-of-00001.safetensors"}})");
  const WeightSource src = WeightSource::open_folder(dir / "transformer");
  EXPECT_EQ(src.origin(), dir / "transformer/diffusion_pytorch_model.safetensors.index.json");
  EXPECT_EQ(src.names(), std::vector<std::string>{"p"});
}

TEST(Checkpoint, TransformersComponentFolders) {
  ScratchDir dir;
  write_st(dir / "text_encoder/model.safetensors", {{"emb", filled({3}, 0)}});
  EXPECT_EQ(WeightSource::open_folder(dir / "text_encoder").origin(), dir / "text_encoder/model.safetensors");
  write_sharded(dir, "model");  // model.safetensors.index.json at the top of dir
  EXPECT_EQ(WeightSource::open_folder(dir.path()).origin(), dir / "model.safetensors.index.json");
}

TEST(Checkpoint, OtherSafetensorsFilesInAFolder) {
  ScratchDir dir;
  write_st(dir / "one/flux1-dev.safetensors", {{"w", filled({1}, 0)}});
  EXPECT_EQ(WeightSource::open_folder(dir / "one").names(), std::vector<std::string>{"w"});
  // Several files are one set when their names do not collide...
  write_st(dir / "one/extra.safetensors", {{"v", filled({1}, 0)}});
  EXPECT_EQ(WeightSource::open_folder(dir / "one").names(), (std::vector<std::string>{"v", "w"}));
  // ...and ambiguous when they do (e.g. fp16 and fp32 variants side by side).
  write_st(dir / "one/variant.safetensors", {{"w", filled({1}, 0)}});
  expect_error([&] { WeightSource::open_folder(dir / "one"); },
               {dir / "one", "tensor 'w'", "present in both", "flux1-dev.safetensors", "variant.safetensors"});
}

TEST(Checkpoint, FolderWithoutWeights) {
  ScratchDir dir;
  testing::write_text(dir / "scheduler/scheduler_config.json", "{}");
  EXPECT_FALSE(io::folder_has_weights(dir / "scheduler"));
  expect_error([&] { WeightSource::open_folder(dir / "scheduler"); }, {dir / "scheduler", "no weights"});
  expect_error([&] { WeightSource::open_folder(dir / "absent"); }, {dir / "absent", "not a directory"});
}

}  // namespace
}  // namespace diffuse
