// Qwen-Image's prompt path: the masked extract / drop / zero re-pad against the
// qwen2_5_vl_text_tiny fixture's pipeline outputs (drop_idx reduced to 5 there), hand-built
// left-padded and truncated cases, and the template tokenized with the real Qwen2.5 tokenizer
// files against ids produced independently by transformers.js (tokenizers/qwen2_5/cases.json).
#include <gtest/gtest.h>

#include <fstream>

#include "golden_tensors.h"
#include "pipelines/qwen_image_text.h"
#include "random_tensor.h"
#include "test_safetensors_helpers.h"

namespace diffuse::pipelines {
namespace {

using testing::expect_error;

Tensor i64(const Shape& shape, const std::vector<int64_t>& v) {
  Tensor t = Tensor::empty(shape, DType::I64);
  std::copy(v.begin(), v.end(), t.data_mut<int64_t>());
  return t;
}

TEST(QwenImageText, PostProcessingMatchesTheFixturePipelineOutputs) {
  const std::string c = "qwen2_5_vl_text_tiny";
  const Tensor hidden = testing::golden_tensor(c, "io.safetensors", "out.hidden_states.3");  // [-1]
  const Tensor mask = testing::golden_tensor(c, "io.safetensors", "in.attention_mask");
  const Tensor want = testing::golden_tensor(c, "io.safetensors", "out.pipeline.prompt_embeds");
  const Tensor want_mask = testing::golden_tensor(c, "io.safetensors", "out.pipeline.prompt_embeds_mask");
  const QwenImagePromptEmbeds e = qwen_image_select_prompt_tokens(hidden, mask, 5, 512);
  ASSERT_EQ(e.embeds.shape(), want.shape());
  ASSERT_EQ(e.mask.shape(), want_mask.shape());
  EXPECT_EQ(e.mask.dtype(), DType::U8);
  EXPECT_EQ(testing::compare(e.embeds, want).max_abs, 0.0);  // a pure copy: bit-exact
  EXPECT_EQ(testing::compare(e.mask, want_mask).max_abs, 0.0);
  // The padded tail of the shorter row is zero in both.
  bool some_zero_mask = false;
  for (float m : e.mask.to_f32_vector()) some_zero_mask |= m == 0.0f;
  EXPECT_TRUE(some_zero_mask);

  // max_sequence_length cuts the columns (and the mask with them).
  const QwenImagePromptEmbeds cut = qwen_image_select_prompt_tokens(hidden, mask, 5, 7);
  ASSERT_EQ(cut.embeds.shape(), (Shape{2, 7, 64}));
  EXPECT_EQ(testing::compare(cut.embeds, want.slice(1, 0, 7).contiguous()).max_abs, 0.0);
  EXPECT_EQ(testing::compare(cut.mask, want_mask.slice(1, 0, 7).contiguous()).max_abs, 0.0);
}

TEST(QwenImageText, LeftPaddedRowsKeepTheirRealTokensAfterTheDrop) {
  // Row 0: real at 2..7 (6 tokens) -> drop 2 -> positions 4..7. Row 1: real at 0..3 -> 2..3.
  const Tensor hidden = testing::random_tensor({2, 8, 3}, 4);
  const Tensor mask = i64({2, 8}, {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0});
  const QwenImagePromptEmbeds e = qwen_image_select_prompt_tokens(hidden, mask, 2, 512);
  ASSERT_EQ(e.embeds.shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(e.mask.to_f32_vector(), (std::vector<float>{1, 1, 1, 1, 1, 1, 0, 0}));
  for (int64_t t = 0; t < 4; ++t) {
    EXPECT_EQ(testing::compare(e.embeds.select(0, 0).select(0, t), hidden.select(0, 0).select(0, 4 + t)).max_abs, 0.0);
  }
  for (int64_t t = 0; t < 2; ++t) {
    EXPECT_EQ(testing::compare(e.embeds.select(0, 1).select(0, t), hidden.select(0, 1).select(0, 2 + t)).max_abs, 0.0);
  }
  for (float v : e.embeds.select(0, 1).slice(0, 2, 4).contiguous().to_f32_vector()) EXPECT_EQ(v, 0.0f);
}

TEST(QwenImageText, RejectsBadArguments) {
  const Tensor hidden = testing::random_tensor({1, 4, 3}, 4);
  const Tensor mask = i64({1, 4}, {1, 1, 1, 1});
  expect_error([&] { qwen_image_select_prompt_tokens(hidden, mask, 1, 1025); }, {"max_sequence_length 1025"});
  expect_error([&] { qwen_image_select_prompt_tokens(hidden, mask, 1, 0); }, {"max_sequence_length 0"});
  expect_error([&] { qwen_image_select_prompt_tokens(hidden, mask, 4, 512); }, {"drop_idx = 4"});
  expect_error([&] { qwen_image_select_prompt_tokens(hidden, i64({1, 3}, {1, 1, 1}), 1, 512); }, {"attention_mask"});
  expect_error([&] { qwen_image_select_prompt_tokens(hidden, i64({1, 4}, {1, 3, 1, 1}), 1, 512); },
               {"attention_mask[0, 1] = 3"});
}

// ---- with the real Qwen2.5 tokenizer ----

std::string tokenizer_dir() { return std::string(DIFFUSE_GOLDEN_DIR) + "/tokenizers/qwen2_5"; }

const text::BpeTokenizer& qwen_tokenizer() {
  static const text::BpeTokenizer t = text::BpeTokenizer::load(tokenizer_dir());
  return t;
}

TEST(QwenImageText, TemplatePrefixIsExactly34Tokens) {
  const std::string full = qwen_image_prompt_text("");
  const std::string prefix = full.substr(0, full.find("user\n") + 5);
  ASSERT_TRUE(prefix.ends_with("<|im_start|>user\n"));
  EXPECT_EQ(qwen_tokenizer().encode(prefix, false).size(), static_cast<size_t>(kQwenImageDropIdx));
  EXPECT_EQ(qwen_tokenizer().pad_id(), std::optional<int32_t>(151643));
}

TEST(QwenImageText, TemplatedPromptsMatchTheTokenizerFixture) {
  const io::Json cases = io::load_json(tokenizer_dir() + "/cases.json");
  const std::string empty = qwen_image_prompt_text("");
  const std::string head = empty.substr(0, empty.find("user\n") + 5), tail = empty.substr(head.size());
  std::vector<std::string> prompts;
  std::vector<std::vector<int64_t>> want;
  for (const auto& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    if (c.at("notes").get<std::string>().find("Qwen-Image full template") == std::string::npos) continue;
    ASSERT_TRUE(text.starts_with(head) && text.ends_with(tail)) << text;
    const std::string prompt = text.substr(head.size(), text.size() - head.size() - tail.size());
    EXPECT_EQ(qwen_image_prompt_text(prompt), text);
    prompts.push_back(prompt);
    want.push_back(c.at("ids").get<std::vector<int64_t>>());
  }
  ASSERT_GE(prompts.size(), 5u);

  const QwenImageTokens t = tokenize_qwen_image_prompts(qwen_tokenizer(), prompts);
  size_t longest = 0;
  for (const auto& w : want) longest = std::max(longest, w.size());
  ASSERT_EQ(t.input_ids.shape(), (Shape{static_cast<int64_t>(prompts.size()), static_cast<int64_t>(longest)}));
  const std::vector<int64_t> prefix_ids(want[0].begin(), want[0].begin() + kQwenImageDropIdx);
  for (size_t b = 0; b < prompts.size(); ++b) {
    // Every templated prompt starts with the same 34 ids that the pipeline drops.
    EXPECT_EQ(std::vector<int64_t>(want[b].begin(), want[b].begin() + kQwenImageDropIdx), prefix_ids) << b;
    for (size_t j = 0; j < longest; ++j) {
      const auto bi = static_cast<int64_t>(b), ji = static_cast<int64_t>(j);
      const bool real = j < want[b].size();
      EXPECT_EQ(t.input_ids.item({bi, ji}), real ? want[b][j] : 151643) << b << "," << j;
      EXPECT_EQ(t.attention_mask.item({bi, ji}), real ? 1 : 0) << b << "," << j;
    }
  }
}

TEST(QwenImageText, LongPromptsAreCutTo1024TokensAfterThePrefix) {
  std::string prompt;
  for (int i = 0; i < 1100; ++i) prompt += " cat";  // one token each
  const QwenImageTokens t = tokenize_qwen_image_prompts(qwen_tokenizer(), {prompt, "dog"});
  ASSERT_EQ(t.input_ids.shape(), (Shape{2, kQwenImageTokenizerMaxLength + kQwenImageDropIdx}));
  // The cut removes the end, suffix included: the last id is still a prompt token.
  const int64_t last = t.input_ids.dim(1) - 1;
  EXPECT_EQ(t.input_ids.item({0, last}), t.input_ids.item({0, last - 1}));
  EXPECT_EQ(t.attention_mask.item({1, last}), 0.0);
}

}  // namespace
}  // namespace diffuse::pipelines
