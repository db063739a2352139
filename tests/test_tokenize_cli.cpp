// `diffuse tokenize` run as a user would run it: the ids of fixture cases (references from
// transformers.js) on the last line of stdout, verbose listing, truncation / padding and
// errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/json_config.h"
#include "test_safetensors_helpers.h"

namespace diffuse::testing {
namespace {

const std::string kTokenizers = std::string(DIFFUSE_GOLDEN_DIR) + "/tokenizers";

std::string last_line(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  const size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

std::vector<int32_t> ids_of(const CliResult& r) {
  return io::Json::parse(last_line(r.out)).get<std::vector<int32_t>>();
}

// The first case of a fixture whose notes contain `notes`.
io::Json fixture_case(const std::string& name, const std::string& notes) {
  for (const io::Json& c : io::load_json(kTokenizers + "/" + name + "/cases.json"))
    if (c.value("notes", "").find(notes) != std::string::npos) return c;
  ADD_FAILURE() << "no case '" << notes << "' in " << name;
  return io::Json::object();
}

TEST(TokenizeCli, PrintsTheReferenceIdsOfAQwenImagePrompt) {
  const io::Json c = fixture_case("qwen2_5", "Qwen-Image full template");
  const CliResult r = run_cli("tokenize --tokenizer " + quoted(kTokenizers + "/qwen2_5") + " --text " +
                              quoted(c.at("text").get<std::string>()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ids_of(r), c.at("ids").get<std::vector<int32_t>>());
}

TEST(TokenizeCli, AddSpecialTokensPrependsTekkenBos) {
  const io::Json c = fixture_case("tekken_nemo", "ERNIE-Image raw prompt");
  ASSERT_TRUE(c.at("add_special_tokens").get<bool>());
  const std::string json = kTokenizers + "/tekken_nemo/tokenizer.json";  // a file path works too
  const std::string text = quoted(c.at("text").get<std::string>());
  const CliResult with = run_cli("tokenize --tokenizer " + quoted(json) + " --text " + text + " --add-special-tokens");
  ASSERT_EQ(with.exit_code, 0) << with.err;
  EXPECT_EQ(ids_of(with), c.at("ids").get<std::vector<int32_t>>());
  const CliResult without = run_cli("tokenize --tokenizer " + quoted(json) + " --text " + text);
  ASSERT_EQ(without.exit_code, 0) << without.err;
  const auto expected = c.at("ids").get<std::vector<int32_t>>();
  EXPECT_EQ(ids_of(without), std::vector<int32_t>(expected.begin() + 1, expected.end()));
}

TEST(TokenizeCli, VerboseListsTokensAboveTheJsonLine) {
  const CliResult r =
      run_cli("tokenize --tokenizer " + quoted(kTokenizers + "/qwen3") + " --text 'Hello world' --verbose");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ids_of(r), (std::vector<int32_t>{9707, 1879}));
  EXPECT_NE(r.out.find("Ġworld"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\" world\""), std::string::npos) << r.out;
}

TEST(TokenizeCli, ClipSlowFolderPaddedTo77) {
  const io::Json cases = io::load_json(kTokenizers + "/clip_synthetic/cases.json");
  const io::Json& c = cases.at(2);
  const CliResult r = run_cli("tokenize --tokenizer " + quoted(kTokenizers + "/clip_synthetic/slow") + " --text " +
                              quoted(c.at("text").get<std::string>()) +
                              " --add-special-tokens --max-length 77 --pad");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ids_of(r), c.at("padded_77").get<std::vector<int32_t>>());
}

TEST(TokenizeCli, ErrorsGoToStderrWithExitCode1) {
  const CliResult missing = run_cli("tokenize --tokenizer /nonexistent/tok --text hi");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/tok"), std::string::npos) << missing.err;
  EXPECT_TRUE(missing.out.empty());
  const CliResult no_text = run_cli("tokenize --tokenizer " + quoted(kTokenizers + "/qwen3"));
  EXPECT_EQ(no_text.exit_code, 1);
  EXPECT_NE(no_text.err.find("--text"), std::string::npos) << no_text.err;
  const CliResult pad = run_cli("tokenize --tokenizer " + quoted(kTokenizers + "/qwen3") + " --text hi --pad");
  EXPECT_EQ(pad.exit_code, 1);
  EXPECT_NE(pad.err.find("--max-length"), std::string::npos) << pad.err;
}

}  // namespace
}  // namespace diffuse::testing
