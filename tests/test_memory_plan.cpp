// The memory plan: parameter counts of the real Qwen-Image configs against the spec sheet
// (qwen-image.md §1), weight bytes per mode against arithmetic on those counts, and `generate`
// refusing up front when the plan does not fit.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "generate_cli_helpers.h"
#include "pipelines/memory_plan.h"
#include "tiny_model_folder.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

const fs::path kRealConfigs = fs::path(DIFFUSE_GOLDEN_DIR) / ".." / "data" / "real_configs";

// The real Qwen-Image component configs without any weights (what `diffuse memory` plans from).
void write_qwen_image_configs(const fs::path& root) {
  testing::write_file(root / "model_index.json", R"({"_class_name": "QwenImagePipeline",
    "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
    "text_encoder": ["transformers", "Qwen2_5_VLForConditionalGeneration"],
    "tokenizer": ["transformers", "Qwen2Tokenizer"],
    "transformer": ["diffusers", "QwenImageTransformer2DModel"], "vae": ["diffusers", "AutoencoderKLQwenImage"]})");
  fs::create_directories(root / "transformer");
  fs::create_directories(root / "vae");
  fs::create_directories(root / "text_encoder");
  fs::copy_file(kRealConfigs / "qwen-image_transformer.json", root / "transformer" / "config.json");
  fs::copy_file(kRealConfigs / "qwen-image_vae.json", root / "vae" / "config.json");
  fs::copy_file(kRealConfigs / "qwen2_5_vl_7b_text_encoder.json", root / "text_encoder" / "config.json");
}

const pipelines::ComponentFootprint& component(const pipelines::MemoryPlan& plan, const std::string& name) {
  for (const auto& c : plan.components)
    if (c.name == name) return c;
  throw std::runtime_error("no component " + name);
}

TEST(MemoryPlan, RealQwenImageConfigsMatchTheSpecSheet) {
  testing::ScratchDir dir;
  write_qwen_image_configs(dir.path());
  const io::ModelIndex index = io::read_model_index(dir.path());
  const auto shape = pipelines::generation_shape(dir.path(), 1024, 1024, 512, true);
  EXPECT_EQ(shape.geometry.tokens(), 4096);

  models::ModelOptions bf16;
  const auto plan = pipelines::plan_generation_memory(dir.path(), index, bf16, shape);
  ASSERT_EQ(plan.components.size(), 3u);
  const uint64_t dit = 20'430'401'088ull, vae = 126'892'531ull;
  // The spec's 7,615,616,512 includes lm_head (152064 x 3584), which an encoder never loads.
  const uint64_t text = 7'615'616'512ull - 152064ull * 3584ull;
  EXPECT_EQ(component(plan, "transformer").parameters, dit);
  EXPECT_EQ(component(plan, "vae").parameters, vae);
  EXPECT_EQ(component(plan, "text_encoder").parameters, text);
  // Every transformer tensor is bf16 (no convolutions): exactly 2 bytes per parameter.
  EXPECT_EQ(component(plan, "transformer").weight_bytes, 2 * dit);

  // Quantized modes: the transformer shrinks to about 1 byte (int8 + per-row scale) and about
  // 4.5 bits (q4 values + group-64 scales and biases) per Linear parameter.
  models::ModelOptions int8 = bf16, q4 = bf16;
  int8.quantization = ops::QuantMode::Int8;
  q4.quantization = ops::QuantMode::Q4;
  const auto plan8 = pipelines::plan_generation_memory(dir.path(), index, int8, shape);
  const auto plan4 = pipelines::plan_generation_memory(dir.path(), index, q4, shape);
  const double dit8 = static_cast<double>(component(plan8, "transformer").weight_bytes);
  const double dit4 = static_cast<double>(component(plan4, "transformer").weight_bytes);
  EXPECT_NEAR(dit8 / static_cast<double>(dit), 1.0, 0.01);
  EXPECT_NEAR(dit4 / static_cast<double>(dit), 4.5 / 8.0, 0.01);
  EXPECT_GT(plan.peak(), plan8.peak());
  EXPECT_GT(plan8.peak(), plan4.peak());
  // The denoise phase (transformer + VAE + activations) is the peak in every mode.
  EXPECT_EQ(plan.peak(), plan.denoise_phase);
  EXPECT_EQ(plan4.peak(), plan4.denoise_phase);
}

TEST(MemoryPlan, GenerateRefusesUpFrontWhenItCannotFit) {
  testing::ScratchDir dir;
  const fs::path model = fs::path(dir.path()) / "Qwen-Image-tiny";
  testing::write_tiny_qwen_image_folder(model, fs::path(DIFFUSE_GOLDEN_DIR) / "tokenizers" / "qwen2_5");
  const std::string out = (fs::path(dir.path()) / "never.png").string();
  const std::string cmd = "generate -m " + model.string() + " -p 'x' -W 32 -H 32 --steps 1 -o " + out;
  ::setenv("DIFFUSE_AVAILABLE_MEMORY", "1M", 1);
  const auto refused = testing::run_cli_combined(cmd);
  const auto forced = testing::run_cli_combined(cmd + " --no-memory-check");
  ::unsetenv("DIFFUSE_AVAILABLE_MEMORY");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("not enough memory"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--quantize q4"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("transformer (QwenImageTransformer2DModel)"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("step "), std::string::npos) << "no denoising step may run";
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_TRUE(fs::exists(out));
}

TEST(MemoryPlan, MemoryCommandReportsEveryMode) {
  testing::ScratchDir dir;
  write_qwen_image_configs(dir.path());
  const auto r = testing::run_cli_combined("memory -m " + dir.path() + " -W 512 -H 512");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* line : {"bf16 weights: peak", "int8 weights: peak", "q4 weights: peak",
                           "transformer (QwenImageTransformer2DModel): 20430401088 parameters"})
    EXPECT_NE(r.output.find(line), std::string::npos) << line << "\n" << r.output;
}

TEST(MemoryPlan, BadAvailableMemoryOverrideIsNamed) {
  ::setenv("DIFFUSE_AVAILABLE_MEMORY", "lots", 1);
  EXPECT_THROW(pipelines::available_memory_bytes(), Error);
  ::setenv("DIFFUSE_AVAILABLE_MEMORY", "2G", 1);
  EXPECT_EQ(pipelines::available_memory_bytes(), 2ull << 30);
  ::unsetenv("DIFFUSE_AVAILABLE_MEMORY");
  EXPECT_GT(pipelines::available_memory_bytes(), 0u);
}

}  // namespace
}  // namespace diffuse
