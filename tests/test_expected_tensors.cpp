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

TEST(ExpectedTensors, QwenImageTransformerHas1933) {
  const auto l = expected("qwen-image_transformer.json");
  ASSERT_EQ(l.exit_code, 0);
  EXPECT_EQ(l.lines.size(), 1933u);  // qwen-image.md §1
  EXPECT_TRUE(has_line(l, "transformer_blocks.59.img_mod.1.weight 18432x3072"));
  EXPECT_TRUE(has_line(l, "transformer_blocks.0.attn.norm_added_k.weight 128"));
  EXPECT_TRUE(has_line(l, "txt_in.weight 3072x3584"));
  EXPECT_TRUE(has_line(l, "txt_norm.weight 3584"));
  EXPECT_TRUE(has_line(l, "img_in.weight 3072x64"));
  EXPECT_TRUE(has_line(l, "proj_out.weight 64x3072"));
}

TEST(ExpectedTensors, QwenImageVaeHas194) {
  const auto l = expected("qwen-image_vae.json");
  ASSERT_EQ(l.exit_code, 0);
  EXPECT_EQ(l.lines.size(), 194u);  // qwen-image.md §1: encoder 84, quant convs 2 + 2, decoder 106
  const auto count = [&](const std::string& prefix) {
    return std::count_if(l.lines.begin(), l.lines.end(), [&](const std::string& x) { return x.rfind(prefix, 0) == 0; });
  };
  EXPECT_EQ(count("encoder."), 84);
  EXPECT_EQ(count("decoder."), 106);
  EXPECT_EQ(count("quant_conv."), 2);
  EXPECT_EQ(count("post_quant_conv."), 2);
  EXPECT_TRUE(has_line(l, "decoder.conv_in.weight 384x16x3x3x3"));
}

TEST(ExpectedTensors, QwenImageTextEncoderHas338WithCheckpointPrefix) {
  // Qwen2.5-VL-7B's language model under the legacy "model." prefix Qwen-Image's text_encoder
  // uses: 28 layers x (q/k/v weight + bias, o, gate, up, down, 2 norms) + embeddings + final norm.
  const auto l = expected("qwen2_5_vl_7b_text_encoder.json");
  ASSERT_EQ(l.exit_code, 0);
  EXPECT_EQ(l.lines.size(), 338u);
  EXPECT_TRUE(has_line(l, "model.embed_tokens.weight 152064x3584"));
  EXPECT_TRUE(has_line(l, "model.layers.27.self_attn.k_proj.weight 512x3584"));
  EXPECT_TRUE(has_line(l, "model.layers.27.self_attn.k_proj.bias 512"));
  EXPECT_TRUE(has_line(l, "model.layers.0.mlp.down_proj.weight 3584x18944"));
  EXPECT_TRUE(has_line(l, "model.norm.weight 3584"));
}

TEST(ExpectedTensors, UnknownArchitectureIsAClearError) {
  const auto l = expected("PROVENANCE");
  EXPECT_EQ(l.exit_code, 1);
  ASSERT_FALSE(l.lines.empty());
  EXPECT_NE(l.lines[0].find("PROVENANCE"), std::string::npos) << l.lines[0];
}

}  // namespace
