// models/common/linear_kind: the module-name rule table on the real names of every model's
// Linear layers (as LinearLayer sees them: binder prefix + local name), including names that
// resemble a kind but are not one.
#include "models/common/linear_kind.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "io/weight_binder.h"
#include "models/common/linear_layer.h"

namespace diffuse::models {
namespace {

using K = LinearKind;

TEST(LinearKind, RealModuleNamesOfEveryModel) {
  const std::vector<std::pair<std::string, LinearKind>> cases = {
      // FLUX.1 / Chroma double block
      {"transformer_blocks.0.norm1.linear", K::Modulation},
      {"transformer_blocks.0.norm1_context.linear", K::Modulation},
      {"transformer_blocks.7.attn.to_q", K::Qkv},
      {"transformer_blocks.7.attn.to_k", K::Qkv},
      {"transformer_blocks.7.attn.to_v", K::Qkv},
      {"transformer_blocks.7.attn.add_q_proj", K::Qkv},
      {"transformer_blocks.7.attn.add_k_proj", K::Qkv},
      {"transformer_blocks.7.attn.add_v_proj", K::Qkv},
      {"transformer_blocks.7.attn.to_out.0", K::OutProj},
      {"transformer_blocks.7.attn.to_add_out", K::OutProj},
      {"transformer_blocks.18.ff.net.0.proj", K::FfnUp},
      {"transformer_blocks.18.ff.net.2", K::FfnDown},
      {"transformer_blocks.18.ff_context.net.0.proj", K::FfnUp},
      {"transformer_blocks.18.ff_context.net.2", K::FfnDown},
      // FLUX.1 single block
      {"single_transformer_blocks.3.norm.linear", K::Modulation},
      {"single_transformer_blocks.3.attn.to_q", K::Qkv},
      {"single_transformer_blocks.3.proj_mlp", K::FfnUp},
      {"single_transformer_blocks.37.proj_out", K::FfnDown},
      // FLUX.1 / Chroma / Qwen-Image model level
      {"x_embedder", K::Other},
      {"context_embedder", K::Other},
      {"proj_out", K::Other},
      {"norm_out.linear", K::Modulation},
      {"time_text_embed.timestep_embedder.linear_1", K::Other},
      {"time_text_embed.guidance_embedder.linear_2", K::Other},
      {"time_text_embed.text_embedder.linear_1", K::Other},
      {"distilled_guidance_layer.in_proj", K::Other},
      {"distilled_guidance_layer.layers.4.linear_1", K::Other},
      {"distilled_guidance_layer.out_proj", K::Other},
      // Qwen-Image
      {"transformer_blocks.59.img_mod.1", K::Modulation},
      {"transformer_blocks.59.txt_mod.1", K::Modulation},
      {"transformer_blocks.59.img_mlp.net.0.proj", K::FfnUp},
      {"transformer_blocks.59.img_mlp.net.2", K::FfnDown},
      {"transformer_blocks.59.txt_mlp.net.0.proj", K::FfnUp},
      {"transformer_blocks.59.txt_mlp.net.2", K::FfnDown},
      {"img_in", K::Other},
      {"txt_in", K::Other},
      // T5 encoder
      {"encoder.block.3.layer.0.SelfAttention.q", K::Qkv},
      {"encoder.block.3.layer.0.SelfAttention.k", K::Qkv},
      {"encoder.block.3.layer.0.SelfAttention.v", K::Qkv},
      {"encoder.block.3.layer.0.SelfAttention.o", K::OutProj},
      {"encoder.block.3.layer.1.DenseReluDense.wi_0", K::FfnUp},
      {"encoder.block.3.layer.1.DenseReluDense.wi_1", K::FfnUp},
      {"encoder.block.3.layer.1.DenseReluDense.wi", K::FfnUp},
      {"encoder.block.3.layer.1.DenseReluDense.wo", K::FfnDown},
      // CLIP text model
      {"text_model.encoder.layers.11.self_attn.q_proj", K::Qkv},
      {"text_model.encoder.layers.11.self_attn.out_proj", K::OutProj},
      {"text_model.encoder.layers.11.mlp.fc1", K::FfnUp},
      {"text_model.encoder.layers.11.mlp.fc2", K::FfnDown},
      // Decoder LLMs (Qwen2.5-VL, Mistral)
      {"model.language_model.layers.27.self_attn.k_proj", K::Qkv},
      {"model.layers.27.self_attn.v_proj", K::Qkv},
      {"model.layers.27.self_attn.o_proj", K::OutProj},
      {"model.layers.27.mlp.gate_proj", K::FfnUp},
      {"model.layers.27.mlp.up_proj", K::FfnUp},
      {"model.layers.27.mlp.down_proj", K::FfnDown},
      // VAE mid-block attention
      {"decoder.mid_block.attentions.0.to_q", K::Qkv},
      {"decoder.mid_block.attentions.0.to_out.0", K::OutProj},
      // Look-alikes
      {"to_out.1", K::Other},
      {"layernorm.linear", K::Other},
      {"ff.net.1", K::Other},
      {"add_proj", K::Other},
      {"", K::Other},
  };
  for (const auto& [name, kind] : cases) {
    EXPECT_EQ(linear_kind_from_name(name), kind) << name;
  }
}

TEST(LinearKind, ScopeNamesAreDistinct) {
  const LinearKind all[] = {K::Qkv, K::OutProj, K::FfnUp, K::FfnDown, K::Modulation, K::Other};
  std::vector<std::string> names;
  for (LinearKind k : all) names.push_back(linear_kind_scope_name(k));
  EXPECT_EQ(names, (std::vector<std::string>{"gemm.qkv", "gemm.out_proj", "gemm.ffn_up", "gemm.ffn_down",
                                             "gemm.modulation", "gemm.other"}));
}

TEST(LinearKind, LinearLayerTakesItsKindFromTheBinderPrefixAndName) {
  // Expected-only binding: names are recorded, no weights needed.
  io::WeightBinder binder = io::WeightBinder::expected_only();
  io::WeightBinder block = binder.scope("single_transformer_blocks").scope("2");
  EXPECT_EQ(LinearLayer(block, "proj_out", 8, 4, true, {}).kind(), K::FfnDown);
  EXPECT_EQ(LinearLayer(binder, "proj_out", 8, 4, true, {}).kind(), K::Other);
  io::WeightBinder attn = block.scope("attn");
  EXPECT_EQ(LinearLayer(attn, "to_k", 4, 4, true, {}).kind(), K::Qkv);
  EXPECT_EQ(LinearLayer().kind(), K::Other);
}

}  // namespace
}  // namespace diffuse::models
