// `diffuse generate` end to end on a complete tiny Qwen-Image folder in the real layout
// (Qwen2Tokenizer files, Qwen2.5-VL text encoder, QwenImageTransformer2DModel,
// AutoencoderKLQwenImage, Qwen-Image scheduler), through the CLI binary.
#include <gtest/gtest.h>

#include <filesystem>

#include "generate_cli_helpers.h"
#include "tiny_model_folder.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

using testing::text_chunk;

const fs::path kQwenTokenizer = fs::path(DIFFUSE_GOLDEN_DIR) / "tokenizers" / "qwen2_5";

class GenerateQwenImageCli : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_tiny_qwen_image_folder(model, kQwenTokenizer); }
  std::string png_path(const std::string& name) const { return (fs::path(dir.path()) / name).string(); }
  testing::CliOutput generate(const std::string& extra, const std::string& out) const {
    return testing::run_cli_combined("generate -m " + model.string() + " -p 'a red fox in the snow' -W 44 -H 32 " +
                                     extra + " -o " + out);
  }

  testing::ScratchDir dir;
  fs::path model = fs::path(dir.path()) / "Qwen-Image-tiny";
};

TEST_F(GenerateQwenImageCli, FolderToPngWithDefaultTrueCfg) {
  const std::string out = png_path("fox.png");
  const auto r = generate("--steps 2 --seed 3 --threads 2", out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("step 2/2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("true CFG 4"), std::string::npos) << r.output;
  for (const char* component : {"text_encoder", "transformer", "vae"})
    EXPECT_NE(r.output.find(std::string(component) + ": "), std::string::npos) << component << "\n" << r.output;
  const io::PngContents png = io::read_png(out);
  EXPECT_EQ(png.image.width, 40);  // rounded down to a multiple of 2 * VAE factor (2 * 4)
  EXPECT_EQ(png.image.height, 32);
  EXPECT_EQ(text_chunk(png, "pipeline"), "QwenImagePipeline");
  EXPECT_EQ(text_chunk(png, "negative_prompt"), " ");
  EXPECT_EQ(text_chunk(png, "cfg"), "4");

  // Same seed, same picture; without CFG (scale 1) the picture changes.
  const std::string again = png_path("again.png");
  ASSERT_EQ(generate("-q --steps 2 --seed 3", again).exit_code, 0);
  EXPECT_EQ(io::read_png(again).image.pixels, png.image.pixels);
  const std::string plain = png_path("plain.png");
  const auto no_cfg = generate("-q --steps 2 --seed 3 --cfg 1", plain);
  ASSERT_EQ(no_cfg.exit_code, 0) << no_cfg.output;
  const io::PngContents plain_png = io::read_png(plain);
  EXPECT_NE(plain_png.image.pixels, png.image.pixels);
  EXPECT_EQ(text_chunk(plain_png, "negative_prompt"), "");
}

TEST_F(GenerateQwenImageCli, GuidanceOptionIsRefusedWithTheRightOne) {
  const auto r = generate("--steps 1 --guidance 3.5", png_path("never.png"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--cfg"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(png_path("never.png")));
}

}  // namespace
}  // namespace diffuse
