// `diffuse generate` end to end on complete tiny FLUX.1 and Chroma folders in the real
// diffusers layout, through the CLI binary as a user runs it.
#include <gtest/gtest.h>

#include <filesystem>

#include "generate_cli_helpers.h"
#include "tiny_model_folder.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

using testing::text_chunk;

testing::CliOutput run_cli(const std::string& args) { return testing::run_cli_combined(args); }

const fs::path kClipTokenizer = fs::path(DIFFUSE_GOLDEN_DIR) / "tokenizers" / "clip_synthetic" / "slow";

class GenerateCli : public ::testing::Test {
 protected:
  testing::ScratchDir dir;
};

TEST_F(GenerateCli, FluxDevFolderToPng) {
  const fs::path model = fs::path(dir.path()) / "FLUX.1-tiny";
  testing::write_tiny_flux_family_folder(model, /*chroma=*/false, /*guidance_embeds=*/true, kClipTokenizer);
  const std::string out = (fs::path(dir.path()) / "cat.png").string();
  const auto r = run_cli("generate -m " + model.string() + " -p 'a photo of a cat' -W 38 -H 32 --steps 2 --seed 7 "
                         "--threads 2 -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("step 2/2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tensors matched"), std::string::npos);
  EXPECT_NE(r.output.find("peak memory"), std::string::npos);
  const io::PngContents png = io::read_png(out);
  EXPECT_EQ(png.image.width, 36);  // rounded down to a multiple of 2 * VAE factor (2 * 2)
  EXPECT_EQ(png.image.height, 32);
  EXPECT_EQ(text_chunk(png, "prompt"), "a photo of a cat");
  EXPECT_EQ(text_chunk(png, "seed"), "7");
  EXPECT_EQ(text_chunk(png, "guidance"), "3.5");
  EXPECT_FALSE(fs::exists(out + ".tmp"));

  // Same seed, same picture; another seed, another picture.
  const std::string again = (fs::path(dir.path()) / "again.png").string();
  ASSERT_EQ(run_cli("generate -q -m " + model.string() + " -p 'a photo of a cat' -W 38 -H 32 --steps 2 --seed 7 -o " +
                    again).exit_code, 0);
  EXPECT_EQ(io::read_png(again).image.pixels, png.image.pixels);
  const std::string other = (fs::path(dir.path()) / "other.png").string();
  ASSERT_EQ(run_cli("generate -q -m " + model.string() + " -p 'a photo of a cat' -W 38 -H 32 --steps 2 --seed 8 -o " +
                    other).exit_code, 0);
  EXPECT_NE(io::read_png(other).image.pixels, png.image.pixels);
}

TEST_F(GenerateCli, ChromaWithNegativePromptCfgAndCfgSkip) {
  const fs::path model = fs::path(dir.path()) / "Chroma-tiny";
  testing::write_tiny_flux_family_folder(model, /*chroma=*/true, false, kClipTokenizer);
  const std::string out = (fs::path(dir.path()) / "dog.png").string();
  const auto r = run_cli("generate -m " + model.string() + " -p 'a dog on the beach' -n 'blurry' --cfg 4 "
                         "--cfg-skip 1 -W 32 -H 48 --steps 3 --seed 1 -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const io::PngContents png = io::read_png(out);
  EXPECT_EQ(png.image.width, 32);
  EXPECT_EQ(png.image.height, 48);
  EXPECT_EQ(text_chunk(png, "negative_prompt"), "blurry");
  EXPECT_EQ(text_chunk(png, "pipeline"), "ChromaPipeline");
  EXPECT_EQ(text_chunk(png, "cfg_skip"), "1");
}

TEST_F(GenerateCli, MismatchedWeightsStopBeforeAnyCompute) {
  const fs::path model = fs::path(dir.path()) / "broken";
  testing::write_tiny_flux_family_folder(model, /*chroma=*/true, false, kClipTokenizer);
  // A transformer whose config promises more layers than the weights hold.
  io::Json config = io::load_json((model / "transformer" / "config.json").string());
  config["num_single_layers"] = 3;
  testing::write_file(model / "transformer" / "config.json", config.dump());
  const std::string out = (fs::path(dir.path()) / "never.png").string();
  const auto r = run_cli("generate -m " + model.string() + " -p 'x' -W 32 -H 32 --steps 1 -o " + out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("tensors matched"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("missing: single_transformer_blocks.2."), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("step "), std::string::npos) << "no denoising step may run";
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(GenerateCli, ClearErrorsForBadArguments) {
  auto r = run_cli("generate -p 'x'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--model"), std::string::npos) << r.output;
  r = run_cli("generate -m /nonexistent/folder -p 'x'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("/nonexistent/folder"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace diffuse
