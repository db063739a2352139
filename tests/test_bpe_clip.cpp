// CLIP tokenizer (FLUX.1's text_encoder): a synthetic CLIP-style vocabulary in both forms a
// checkpoint may ship (tests/golden/tokenizers/clip_synthetic/{slow,fast}, made by
// tests/tools/make_clip_tokenizer_cases.mjs). Reference ids come from @lenml/tokenizers
// (transformers.js) on the fast form; both forms must reproduce them exactly, and the
// 77-token pipeline form must pad and truncate as transformers does (EOS kept).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/json_config.h"
#include "runtime/error.h"
#include "text/clip_tokenizer.h"

namespace diffuse::text {
namespace {

const std::string kDir = std::string(DIFFUSE_GOLDEN_DIR) + "/tokenizers/clip_synthetic";

io::Json clip_cases() {
  const io::Json cases = io::load_json(kDir + "/cases.json");
  EXPECT_GE(cases.size(), 30u);
  return cases;
}

class ClipForms : public ::testing::TestWithParam<std::string> {};

TEST_P(ClipForms, EveryCaseGivesTheReferenceIds) {
  const BpeTokenizer tok = BpeTokenizer::load(kDir + "/" + GetParam());
  for (const io::Json& c : clip_cases()) {
    const std::string text = c.at("text").get<std::string>();
    EXPECT_EQ(tok.encode(text, true), c.at("ids").get<std::vector<int32_t>>())
        << GetParam() << ": " << c.at("notes").get<std::string>() << " " << io::Json(text).dump();
    EXPECT_EQ(tok.encode(text, false), c.at("ids_without_special_tokens").get<std::vector<int32_t>>())
        << GetParam() << ": " << c.at("notes").get<std::string>();
  }
}

TEST_P(ClipForms, PipelineFormIs77TokensWithEosKept) {
  const ClipTokenizer clip = ClipTokenizer::load(kDir + "/" + GetParam());
  EXPECT_EQ(clip.max_length(), 77u);
  bool saw_truncation = false;
  for (const io::Json& c : clip_cases()) {
    const PaddedTokens t = clip.encode(c.at("text").get<std::string>());
    EXPECT_EQ(t.ids, c.at("padded_77").get<std::vector<int32_t>>()) << c.at("notes").get<std::string>();
    EXPECT_EQ(t.attention_mask, c.at("mask_77").get<std::vector<int32_t>>()) << c.at("notes").get<std::string>();
    if (c.at("ids").size() > 77) {
      saw_truncation = true;
      EXPECT_EQ(t.ids.back(), *clip.tokenizer().eos_id());
    }
  }
  EXPECT_TRUE(saw_truncation) << "the cases must include a prompt longer than 77 tokens";
}

TEST_P(ClipForms, SpecialTokensAndSizes) {
  const BpeTokenizer tok = BpeTokenizer::load(kDir + "/" + GetParam());
  const io::Json vocab = io::load_json(kDir + "/slow/vocab.json");
  EXPECT_EQ(tok.vocab_size(), static_cast<int32_t>(vocab.size()));
  EXPECT_EQ(tok.bos_id(), vocab.at("<|startoftext|>").get<int32_t>());
  EXPECT_EQ(tok.eos_id(), vocab.at("<|endoftext|>").get<int32_t>());
  EXPECT_EQ(tok.pad_id(), tok.eos_id());  // clip-vit-large-patch14 pads with <|endoftext|>
  EXPECT_EQ(tok.unk_id(), tok.eos_id());
  EXPECT_EQ(tok.num_special_tokens_to_add(), 2u);
  EXPECT_EQ(tok.token_to_id("a</w>"), vocab.at("a</w>").get<int32_t>());
}

TEST_P(ClipForms, DecodeTurnsWordEndsIntoSpaces) {
  // CLIP tokens carry "</w>" at word ends; decoding makes each a space (so punctuation
  // comes out space-separated) and trims the ends, as transformers' CLIP tokenizers do.
  const BpeTokenizer tok = BpeTokenizer::load(kDir + "/" + GetParam());
  EXPECT_EQ(tok.decode(tok.encode("The Quick Brown Fox, 2 dogs & 3 cats.", true), true),
            "the quick brown fox , 2 dogs & 3 cats .");
  EXPECT_EQ(tok.decode(tok.encode("café  naïve", true), true), "café naïve");
  EXPECT_EQ(tok.decode(tok.encode("hi", true), false), "<|startoftext|>hi <|endoftext|>");
}

INSTANTIATE_TEST_SUITE_P(Clip, ClipForms, ::testing::Values("slow", "fast"));

TEST(ClipTokenizer, NeedsBosEosAndPad) {
  // The Qwen tokenizer has no bos token and adds nothing around the text.
  EXPECT_THROW(ClipTokenizer::load(std::string(DIFFUSE_GOLDEN_DIR) + "/tokenizers/qwen2_5"), Error);
}

}  // namespace
}  // namespace diffuse::text
