// Every case of the tokenizer fixtures (tests/golden/tokenizers/<name>/cases.json, ids made
// by transformers.js, see each folder's PROVENANCE) must come out id for id, plus decode
// round trips and the loading-time budget on the real 7-11 MB tokenizer.json files.
#include <gtest/gtest.h>

#include <ctime>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "io/json_config.h"
#include "runtime/error.h"
#include "text/bpe_tokenizer.h"

namespace diffuse::text {
namespace {

std::string fixture_dir(const std::string& name) { return std::string(DIFFUSE_GOLDEN_DIR) + "/tokenizers/" + name; }

std::string ids_str(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  return s + "]";
}

// The loaded tokenizers are shared by the tests of one fixture (loading is the slow part).
const BpeTokenizer& tokenizer(const std::string& name) {
  static std::map<std::string, BpeTokenizer> loaded;
  auto it = loaded.find(name);
  if (it == loaded.end()) it = loaded.emplace(name, BpeTokenizer::load(fixture_dir(name))).first;
  return it->second;
}

class FixtureCases : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureCases, EveryCaseGivesTheReferenceIds) {
  const BpeTokenizer& tok = tokenizer(GetParam());
  const io::Json cases = io::load_json(fixture_dir(GetParam()) + "/cases.json");
  ASSERT_TRUE(cases.is_array());
  ASSERT_GE(cases.size(), 50u);
  int failures = 0;
  for (const io::Json& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    const bool add_special = c.at("add_special_tokens").get<bool>();
    const std::vector<int32_t> expected = c.at("ids").get<std::vector<int32_t>>();
    const std::vector<int32_t> got = tok.encode(text, add_special);
    if (got != expected) {
      ++failures;
      ADD_FAILURE() << GetParam() << " case '" << c.value("notes", "") << "' text=" << io::Json(text).dump()
                    << " add_special_tokens=" << add_special << "\n  expected " << ids_str(expected) << "\n  got      "
                    << ids_str(got);
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST_P(FixtureCases, DecodeInvertsEncode) {
  // Byte-level BPE is lossless, so decode(encode(t)) is t itself (after the normalizer:
  // Qwen applies NFC, so only texts already in NFC round-trip byte for byte).
  const BpeTokenizer& tok = tokenizer(GetParam());
  const io::Json cases = io::load_json(fixture_dir(GetParam()) + "/cases.json");
  for (const io::Json& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    if (c.value("notes", "").find("NFC") != std::string::npos) continue;
    const std::vector<int32_t> ids = c.at("ids").get<std::vector<int32_t>>();
    EXPECT_EQ(tok.decode(ids, /*skip_special=*/false), (c.at("add_special_tokens").get<bool>() && tok.bos_id())
                                                             ? "<s>" + text
                                                             : text)
        << GetParam() << " " << c.value("notes", "");
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, FixtureCases, ::testing::Values("qwen2_5", "qwen3", "tekken_nemo"));

TEST(BpeFixtures, SpecialIdsComeFromTheConfig) {
  const BpeTokenizer& qwen = tokenizer("qwen2_5");
  EXPECT_EQ(qwen.vocab_size(), 151665);
  EXPECT_EQ(qwen.pad_id(), 151643);  // <|endoftext|>
  EXPECT_EQ(qwen.eos_id(), 151645);  // <|im_end|>
  EXPECT_FALSE(qwen.bos_id().has_value());
  EXPECT_EQ(qwen.model_max_length(), 131072);
  EXPECT_EQ(qwen.num_special_tokens_to_add(), 0u);
  EXPECT_EQ(qwen.token_to_id("<|im_start|>"), 151644);
  EXPECT_EQ(qwen.token_to_id("Ġworld"), 1879);
  EXPECT_EQ(qwen.id_to_token(1879), "Ġworld");
  EXPECT_TRUE(qwen.is_special(151644));
  EXPECT_FALSE(qwen.is_special(1879));

  const BpeTokenizer& qwen3 = tokenizer("qwen3");
  EXPECT_EQ(qwen3.vocab_size(), 151669);
  EXPECT_EQ(qwen3.token_to_id("</think>"), 151668);
  EXPECT_FALSE(qwen3.is_special(151668));  // <think> tokens are added but not special

  const BpeTokenizer& tekken = tokenizer("tekken_nemo");
  EXPECT_EQ(tekken.vocab_size(), 131072);
  EXPECT_EQ(tekken.bos_id(), 1);
  EXPECT_EQ(tekken.eos_id(), 2);
  EXPECT_EQ(tekken.unk_id(), 0);
  EXPECT_FALSE(tekken.pad_id().has_value());
  EXPECT_FALSE(tekken.model_max_length().has_value());  // 1e30 in the config = unlimited
  EXPECT_EQ(tekken.num_special_tokens_to_add(), 1u);
}

TEST(BpeFixtures, DecodeSkipsSpecialTokensOnRequest) {
  const BpeTokenizer& qwen = tokenizer("qwen3");
  const std::vector<int32_t> ids = qwen.encode("<|im_start|>user\nhi<|im_end|><think>", false);
  EXPECT_EQ(qwen.decode(ids, false), "<|im_start|>user\nhi<|im_end|><think>");
  EXPECT_EQ(qwen.decode(ids, true), "user\nhi<think>");  // <think> is not special
  const BpeTokenizer& tekken = tokenizer("tekken_nemo");
  EXPECT_EQ(tekken.decode(tekken.encode("hello", true), true), "hello");
}

TEST(BpeFixtures, QwenImageTemplatePrefixIs34Tokens) {
  // The Qwen-Image pipeline drops the first 34 tokens of its template (TEXT_ENCODERS.md §2).
  const std::string prefix =
      "<|im_start|>system\nDescribe the image by detailing the color, shape, size, texture, quantity, text, "
      "spatial relationships of the objects and background:<|im_end|>\n<|im_start|>user\n";
  const BpeTokenizer& qwen = tokenizer("qwen2_5");
  const auto full = qwen.encode(prefix + "a red apple<|im_end|>\n<|im_start|>assistant\n", false);
  EXPECT_EQ(qwen.encode(prefix, false).size(), 34u);
  ASSERT_GT(full.size(), 34u);
  EXPECT_EQ(std::vector<int32_t>(full.begin(), full.begin() + 34), qwen.encode(prefix, false));
}

TEST(BpeFixtures, TruncationKeepsTheSpecialTokens) {
  const BpeTokenizer& tekken = tokenizer("tekken_nemo");
  const auto all = tekken.encode("The quick brown fox jumps over the lazy dog.", true);
  const auto cut = tekken.encode_truncated("The quick brown fox jumps over the lazy dog.", 4, true);
  EXPECT_EQ(cut, std::vector<int32_t>(all.begin(), all.begin() + 4));
  EXPECT_THROW(tekken.encode_truncated("x", 0, true), Error);
  EXPECT_THROW(tekken.encode_padded("x", 8, true), Error);  // no pad token in this config
  const BpeTokenizer& qwen = tokenizer("qwen2_5");
  const PaddedTokens padded = qwen.encode_padded("Hello world", 5, false);
  EXPECT_EQ(padded.ids, (std::vector<int32_t>{9707, 1879, 151643, 151643, 151643}));
  EXPECT_EQ(padded.attention_mask, (std::vector<int32_t>{1, 1, 0, 0, 0}));
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

TEST(BpeFixtures, LoadsWellUnderASecond) {
  for (const char* name : {"qwen2_5", "qwen3", "tekken_nemo"}) {
    // CPU time of this thread, not wall time: the test machines are shared.
    const double start = thread_cpu_seconds();
    const BpeTokenizer t = BpeTokenizer::load(fixture_dir(name));
    const double seconds = thread_cpu_seconds() - start;
    std::printf("load %s: %.3f s CPU\n", name, seconds);
    EXPECT_GT(t.vocab_size(), 100000);
#if defined(__SANITIZE_ADDRESS__)
    (void)seconds;  // sanitizer builds are several times slower; only optimized builds are timed
#else
    EXPECT_LT(seconds, 1.0) << name;  // measured ~0.25 s on one core of a shared 2-core machine
#endif
  }
}

TEST(BpeFixtures, InvalidUtf8TextIsAnError) {
  const BpeTokenizer& qwen = tokenizer("qwen2_5");
  try {
    qwen.encode(std::string("ab\xC3(", 4), false);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8 (byte 2)"), std::string::npos) << e.what();
  }
}

TEST(BpeFixtures, DecodeRejectsUnknownIdsAndRepairsCutCharacters) {
  const BpeTokenizer& qwen = tokenizer("qwen2_5");
  EXPECT_THROW(qwen.decode({151665}, false), Error);
  EXPECT_THROW(qwen.decode({-1}, false), Error);
  // " 🍕" is three tokens in the emoji case: "Ġð\x9f" (11162), 235, 243 (byte-level
  // characters of the last two bytes). Without the last one the character is cut.
  EXPECT_EQ(qwen.decode({11162, 235, 243}, false), " 🍕");
  EXPECT_EQ(qwen.decode({11162, 235}, false), " \xEF\xBF\xBD");
}

}  // namespace
}  // namespace diffuse::text
