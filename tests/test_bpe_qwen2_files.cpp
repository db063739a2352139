// Qwen-Image ships its tokenizer as Qwen2Tokenizer files (vocab.json + merges.txt +
// tokenizer_config.json, no tokenizer.json). The test writes that form from the Qwen2.5
// fixture's tokenizer.json and checks that every fixture case (ids from transformers.js on the
// fast form) comes out the same from the slow form.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/json_config.h"
#include "test_safetensors_helpers.h"
#include "text/bpe_tokenizer.h"

namespace diffuse::text {
namespace {

const std::string kFixture = std::string(DIFFUSE_GOLDEN_DIR) + "/tokenizers/qwen2_5";

// vocab.json + merges.txt + tokenizer_config.json of the fixture, as a slow-tokenizer folder.
void write_slow_form(const testing::ScratchDir& dir, const std::string& tokenizer_class = "Qwen2Tokenizer") {
  const io::Json fast = io::load_json(kFixture + "/tokenizer.json");
  testing::write_text(dir / "vocab.json", fast.at("model").at("vocab").dump());
  std::string merges = "#version: 0.2\n";
  for (const io::Json& m : fast.at("model").at("merges")) {
    merges += m.is_string() ? m.get<std::string>() : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>();
    merges += '\n';
  }
  testing::write_text(dir / "merges.txt", merges);
  io::Json config = io::load_json(kFixture + "/tokenizer_config.json");
  config["tokenizer_class"] = tokenizer_class;
  testing::write_text(dir / "tokenizer_config.json", config.dump());
}

TEST(BpeQwen2Files, SlowFormGivesTheFixtureIds) {
  testing::ScratchDir dir;
  write_slow_form(dir);
  const BpeTokenizer tok = BpeTokenizer::load(dir.path());
  const io::Json cases = io::load_json(kFixture + "/cases.json");
  ASSERT_GE(cases.size(), 50u);
  for (const io::Json& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    EXPECT_EQ(tok.encode(text, c.at("add_special_tokens").get<bool>()), c.at("ids").get<std::vector<int32_t>>())
        << c.at("notes").get<std::string>() << " " << io::Json(text).dump();
  }
  EXPECT_EQ(tok.pad_id(), tok.token_to_id("<|endoftext|>"));
  EXPECT_EQ(tok.pad_id(), 151643);
  EXPECT_EQ(tok.num_special_tokens_to_add(), 0u);
}

TEST(BpeQwen2Files, UnsupportedSlowClassIsNamed) {
  testing::ScratchDir dir;
  write_slow_form(dir, "LlamaTokenizer");
  try {
    BpeTokenizer::load(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("LlamaTokenizer"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace diffuse::text
