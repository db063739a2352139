// `diffuse inspect` run as a user runs it: listings of files, folders and models, and
// malformed files giving exit code 1 and exactly one "error: <file>: ..." line on stderr.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "io/checkpoint.h"
#include "io/inspect_report.h"
#include "test_safetensors_helpers.h"

namespace diffuse {
namespace {

using testing::quoted;
using testing::run_cli;
using testing::ScratchDir;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string golden(const std::string& rel) { return std::string(DIFFUSE_GOLDEN_DIR) + "/" + rel; }

TEST(InspectCli, SafetensorsFileWithTensorList) {
  ScratchDir dir;
  const std::string path = dir / "m.safetensors";
  io::write_safetensors(path, {{"b.weight", Tensor::zeros({3, 4}, DType::BF16)},
                               {"a.bias", Tensor::zeros({5}, DType::F32)},
                               {"a.weight", Tensor::zeros({5, 2}, DType::F32)}},
                        {{"format", "pt"}});
  const auto r = run_cli("inspect " + quoted(path) + " --tensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  // 3 tensors: 24 + 20 + 40 bytes.
  EXPECT_TRUE(contains(r.out, "3 tensors, F32 x2, BF16 x1, 84 B (84 bytes)")) << r.out;
  EXPECT_TRUE(contains(r.out, "metadata: format=pt")) << r.out;
  const auto lines = lines_of(r.out);
  const std::vector<std::string> listed(lines.end() - 3, lines.end());
  EXPECT_EQ(listed, (std::vector<std::string>{"  a.bias F32 5 20", "  a.weight F32 5x2 40", "  b.weight BF16 3x4 24"}));
}

TEST(InspectCli, GoldenModelFolderListsComponents) {
  const std::string root = golden("pipeline_flux");
  const auto r = run_cli("inspect " + quoted(root));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "(FluxPipeline)")) << r.out;
  EXPECT_TRUE(contains(r.out, "scheduler: diffusers FlowMatchEulerDiscreteScheduler\n")) << r.out;
  uint64_t total_tensors = 0, total_bytes = 0;
  for (const char* comp : {"transformer", "vae"}) {
    const io::WeightSource w = io::WeightSource::open_folder(root + "/" + comp);
    const io::WeightSummary s = io::summarize_weights(w);
    total_tensors += s.tensors;
    total_bytes += s.bytes;
    const std::string want = std::string(comp) + ": diffusers " + (comp == std::string("vae") ? "AutoencoderKL" : "FluxTransformer2DModel") +
                             ": " + std::to_string(w.size()) + " tensors, F32 x" + std::to_string(w.size()) + ", ";
    EXPECT_TRUE(contains(r.out, want)) << want << "\n" << r.out;
    EXPECT_TRUE(contains(r.out, "(" + std::to_string(w.total_bytes()) + " bytes)")) << r.out;
  }
  EXPECT_TRUE(contains(r.out, "total: " + std::to_string(total_tensors) + " tensors")) << r.out;
  EXPECT_TRUE(contains(r.out, "(" + std::to_string(total_bytes) + " bytes)")) << r.out;
}

TEST(InspectCli, HuggingFaceCacheAndComponentFolder) {
  ScratchDir dir;
  const std::string snap = dir / "models--org--tiny/snapshots/abc";
  testing::write_text(snap + "/model_index.json", R"({"_class_name": "TinyPipeline", "transformer": ["diffusers", "T"]})");
  std::filesystem::create_directories(snap + "/transformer");
  io::write_safetensors(snap + "/transformer/diffusion_pytorch_model.safetensors", {{"w", Tensor::zeros({2}, DType::F16)}});
  testing::write_text(dir / "models--org--tiny/refs/main", "abc");

  auto r = run_cli("inspect " + quoted(dir / "models--org--tiny"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "model: " + snap + " (TinyPipeline)")) << r.out;
  EXPECT_TRUE(contains(r.out, "transformer: diffusers T: 1 tensor, F16 x1, 4 B (4 bytes)")) << r.out;

  r = run_cli("inspect " + quoted(snap + "/transformer"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "1 tensor, F16 x1")) << r.out;
}

TEST(InspectCli, ShardedIndex) {
  ScratchDir dir;
  io::write_safetensors(dir / "s1.safetensors", {{"x", Tensor::zeros({4}, DType::F32)}});
  io::write_safetensors(dir / "s2.safetensors", {{"y", Tensor::zeros({2}, DType::I64)}});
  testing::write_text(dir / "model.safetensors.index.json",
                      R"({"weight_map": {"x": "s1.safetensors", "y": "s2.safetensors"}})");
  const auto r = run_cli("inspect " + quoted(dir / "model.safetensors.index.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "(2 files)")) << r.out;
  EXPECT_TRUE(contains(r.out, "2 tensors, F32 x1, I64 x1, 32 B (32 bytes)")) << r.out;
}

// Each malformed input: exit code 1 and stderr is exactly one line "error: <file>: ...".
void expect_cli_error(const std::string& target, const std::string& file_named,
                      std::initializer_list<std::string> parts) {
  const auto r = run_cli("inspect " + quoted(target));
  EXPECT_EQ(r.exit_code, 1) << target << "\n" << r.out << r.err;
  const auto lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("error: " + file_named + ": ", 0), 0u) << lines[0];
  for (const auto& p : parts) EXPECT_TRUE(contains(lines[0], p)) << "'" << p << "' not in " << lines[0];
}

TEST(InspectCli, MalformedFilesGiveOneErrorLine) {
  ScratchDir dir;
  using testing::safetensors_bytes;
  struct Case {
    std::string name, bytes;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"short", "abc", {"too short"}},
      {"eof", testing::le64(500) + "{}", {"past the end of the file"}},
      {"huge", testing::le64(uint64_t{1} << 40) + "{}", {"100 MiB"}},
      {"json", safetensors_bytes("{oops", ""), {"not valid JSON"}},
      {"array", safetensors_bytes("[]", ""), {"expected a JSON object"}},
      {"dtype", safetensors_bytes(R"({"t":{"dtype":"X","shape":[1],"data_offsets":[0,1]}})", "x"),
       {"tensor 't'", "unknown dtype"}},
      {"shape", safetensors_bytes(R"({"t":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", "x"),
       {"tensor 't'", "shape[0] is -1"}},
      {"offsets", safetensors_bytes(R"({"t":{"dtype":"U8","shape":[9],"data_offsets":[0,9]}})", "x"),
       {"tensor 't'", "past the end of the data section"}},
      {"order", safetensors_bytes(R"({"t":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}})", "x"),
       {"tensor 't'", "begin 1 > end 0"}},
      {"size", safetensors_bytes(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,1]}})", "x"),
       {"tensor 't'", "needs 4 bytes but data_offsets span 1"}},
      {"overlap",
       safetensors_bytes(R"({"p":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                         R"("q":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})", "xyz"),
       {"tensor 'q'", "overlaps tensor 'p'"}},
      {"overflow",
       safetensors_bytes(R"({"t":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""),
       {"tensor 't'", "64 bits"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir / (c.name + ".safetensors");
    testing::write_text(path, c.bytes);
    const auto r = run_cli("inspect " + quoted(path));
    EXPECT_EQ(r.exit_code, 1);
    const auto lines = lines_of(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_EQ(lines[0].rfind("error: " + path + ": ", 0), 0u) << lines[0];
    for (const auto& p : c.parts) EXPECT_TRUE(contains(lines[0], p)) << "'" << p << "' not in " << lines[0];
  }
}

TEST(InspectCli, MalformedFoldersAndPaths) {
  ScratchDir dir;
  // A model whose transformer weights are corrupt: the error names the weight file.
  testing::write_text(dir / "model/model_index.json", R"({"_class_name": "P", "transformer": ["diffusers", "T"]})");
  testing::write_text(dir / "model/transformer/diffusion_pytorch_model.safetensors", "bad");
  expect_cli_error(dir / "model", dir / "model/transformer/diffusion_pytorch_model.safetensors", {"too short"});
  // A shard missing from an index: the error names the index and the tensor.
  testing::write_text(dir / "idx/model.safetensors.index.json", R"({"weight_map": {"w": "gone.safetensors"}})");
  expect_cli_error(dir / "idx/model.safetensors.index.json", dir / "idx/model.safetensors.index.json",
                   {"tensor 'w'", "does not exist"});
  expect_cli_error(dir / "absent", dir / "absent", {"no such file"});
  testing::write_text(dir / "empty/readme.txt", "");
  expect_cli_error(dir / "empty", dir / "empty", {"no weights"});
}

TEST(InspectCli, UsageErrors) {
  auto r = run_cli("inspect");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.err, "error: ")) << r.err;
  r = run_cli("inspect --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "--tensors")) << r.out;
}

}  // namespace
}  // namespace diffuse
