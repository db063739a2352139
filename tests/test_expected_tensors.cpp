// `diffuse inspect --expected` on the REAL configs of the target checkpoints: the
// architectures must expect exactly the tensors the published checkpoints hold (counts from
// the model specification sheets), so real checkpoints bind by construction.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Listing {
  int exit_code;
  std::vector<std::string> lines;
};

Listing expected(const std::string& config_file) {
  const std::string cmd = std::string(DIFFUSE_CLI) + " inspect --expected " + DIFFUSE_GOLDEN_DIR +
                          "/../data/real_configs/" + config_file + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  Listing l{WEXITSTATUS(status), {}};
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) l.lines.push_back(line);
  return l;
}

bool has_line(const Listing& l, const std::string& line) {
  for (const auto& x : l.lines)
    if (x == line) return true;
  return false;
}

TEST(ExpectedTensors, ChromaTransformerHas1023) {
  const auto l = expected("chroma1-hd_transformer.json");
  ASSERT_EQ(l.exit_code, 0);
  EXPECT_EQ(l.lines.size(), 1023u);
  EXPECT_TRUE(has_line(l, "distilled_guidance_layer.in_proj.weight 5120x64"));
  EXPECT_TRUE(has_line(l, "distilled_guidance_layer.out_proj.weight 3072x5120"));
  EXPECT_TRUE(has_line(l, "single_transformer_blocks.37.proj_out.weight 3072x15360"));
  EXPECT_TRUE(std::is_sorted(l.lines.begin(), l.lines.end()));
}

TEST(ExpectedTensors, FluxDevHas1160AndSchnell1156) {
  const auto dev = expected("flux1-dev_transformer.json");
  ASSERT_EQ(dev.exit_code, 0);
  EXPECT_EQ(dev.lines.size(), 1160u);
  EXPECT_TRUE(has_line(dev, "transformer_blocks.18.attn.to_add_out.weight 3072x3072"));
  EXPECT_TRUE(has_line(dev, "transformer_blocks.0.norm1.linear.weight 18432x3072"));
  EXPECT_TRUE(has_line(dev, "time_text_embed.guidance_embedder.linear_1.weight 3072x256"));
  EXPECT_TRUE(has_line(dev, "norm_out.linear.weight 6144x3072"));
  const auto schnell = expected("flux1-schnell_transformer.json");
  ASSERT_EQ(schnell.exit_code, 0);
  EXPECT_EQ(schnell.lines.size(), 1156u);
  EXPECT_FALSE(has_line(schnell, "time_text_embed.guidance_embedder.linear_1.weight 3072x256"));
}

TEST(ExpectedTensors, Flux1VaeHas244) {
  const auto l = expected("flux1_vae.json");
  ASSERT_EQ(l.exit_code, 0);
  EXPECT_EQ(l.lines.size(), 244u);
  EXPECT_TRUE(has_line(l, "decoder.conv_in.weight 512x16x3x3"));
  EXPECT_TRUE(has_line(l, "encoder.conv_out.weight 32x512x3x3"));
}

TEST(ExpectedTensors, T5XxlEncoderHas219) {
  const auto l = expected("t5-v1_1-xxl_encoder.json");
  ASSERT_EQ(l.exit_code, 0);
  EXPECT_EQ(l.lines.size(), 219u);
  EXPECT_TRUE(has_line(l, "shared.weight 32128x4096"));
  EXPECT_TRUE(has_line(l, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight 32x64"));
  EXPECT_TRUE(has_line(l, "encoder.block.23.layer.1.DenseReluDense.wi_1.weight 10240x4096"));
}

TEST(ExpectedTensors, ClipLTextHas196) {
  const auto l = expected("clip-vit-large-patch14_text.json");
  ASSERT_EQ(l.exit_code, 0);
  EXPECT_EQ(l.lines.size(), 196u);
  EXPECT_TRUE(has_line(l, "text_model.embeddings.token_embedding.weight 49408x768"));
}

TEST(ExpectedTensors, UnknownArchitectureIsAClearError) {
  const auto l = expected("PROVENANCE");
  EXPECT_EQ(l.exit_code, 1);
  ASSERT_FALSE(l.lines.empty());
  EXPECT_NE(l.lines[0].find("PROVENANCE"), std::string::npos) << l.lines[0];
}

}  // namespace
