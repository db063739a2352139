// Malformed tokenizer files: every defect must be a one-line diffuse::Error naming the file
// and the field, never a crash. A small valid tokenizer.json is broken one field at a time,
// then mutated at random (run under ASan/UBSan in the sanitizer build).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>
#include <string>

#include "io/json_config.h"
#include "runtime/error.h"
#include "test_safetensors_helpers.h"
#include "text/bpe_tokenizer.h"

namespace diffuse::text {
namespace {

using diffuse::testing::expect_error;
using diffuse::testing::ScratchDir;
using diffuse::testing::write_text;

// A tiny but complete byte-level tokenizer: vocab a, b, ab, Ġ plus two added tokens.
io::Json valid_tokenizer() {
  return io::Json::parse(R"({
    "version": "1.0",
    "added_tokens": [
      {"id": 4, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
      {"id": 5, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
    ],
    "normalizer": {"type": "NFC"},
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "special_tokens": {"<s>": {"id": "<s>", "ids": [4], "tokens": ["<s>"]}}},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "dropout": null, "unk_token": null, "ignore_merges": false,
              "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3}, "merges": ["a b"]}
  })");
}

struct Folder {
  std::unique_ptr<ScratchDir> dir = std::make_unique<ScratchDir>();
  std::string path() const { return dir->path(); }
  std::string json() const { return *dir / "tokenizer.json"; }
};

Folder folder_with(const io::Json& tokenizer, const std::string& config = "") {
  Folder f;
  write_text(f.json(), tokenizer.dump());
  if (!config.empty()) write_text(*f.dir / "tokenizer_config.json", config);
  return f;
}

TEST(BpeMalformed, TheBaseFileIsValid) {
  const Folder f = folder_with(valid_tokenizer(), R"({"bos_token": "<s>", "eos_token": {"content": "</s>"}})");
  const BpeTokenizer t = BpeTokenizer::load(f.path());
  EXPECT_EQ(t.encode("ab ab", true), (std::vector<int32_t>{4, 2, 3, 2}));
  EXPECT_EQ(t.bos_id(), 4);
  EXPECT_EQ(t.eos_id(), 5);
  EXPECT_EQ(t.vocab_size(), 6);
  EXPECT_EQ(BpeTokenizer::load(f.json()).encode("ba", false), (std::vector<int32_t>{1, 0}));
}

// Breaks the valid tokenizer with `edit` and expects an error mentioning every part.
void expect_broken(const std::function<void(io::Json&)>& edit, std::initializer_list<std::string> parts,
                   const std::string& config = "") {
  io::Json j = valid_tokenizer();
  edit(j);
  const Folder f = folder_with(j, config);
  std::vector<std::string> all(parts);
  if (config.empty()) all.push_back("tokenizer.json");  // the file at fault
  for (const std::string& p : all) expect_error([&] { BpeTokenizer::load(f.path()); }, {p});
}

TEST(BpeMalformed, ModelFields) {
  expect_broken([](io::Json& j) { j.erase("model"); }, {"'model' is missing"});
  expect_broken([](io::Json& j) { j["model"]["type"] = "WordPiece"; }, {"WordPiece", "not supported"});
  expect_broken([](io::Json& j) { j["model"]["vocab"] = io::Json::array(); }, {"vocab"});
  expect_broken([](io::Json& j) { j["model"].erase("vocab"); }, {"'vocab' is missing"});
  expect_broken([](io::Json& j) { j["model"].erase("merges"); }, {"'merges' is missing"});
  expect_broken([](io::Json& j) { j["model"]["vocab"]["c"] = -3; }, {"vocab['c']", "not a valid token id"});
  expect_broken([](io::Json& j) { j["model"]["vocab"]["c"] = "7"; }, {"vocab['c']"});
  expect_broken([](io::Json& j) { j["model"]["vocab"]["c"] = 1; }, {"id 1"});
  expect_broken([](io::Json& j) { j["model"]["vocab"]["c"] = 2000000000; }, {"far beyond"});
  expect_broken([](io::Json& j) { j["model"]["merges"] = {"ab"}; }, {"merges[0]", "two tokens"});
  expect_broken([](io::Json& j) { j["model"]["merges"] = {"a b c"}; }, {"merges[0]"});
  expect_broken([](io::Json& j) { j["model"]["merges"] = io::Json::parse(R"([["a"]])"); }, {"merges[0]"});
  expect_broken([](io::Json& j) { j["model"]["merges"] = {"a z"}; }, {"merges[0]", "not in the vocabulary"});
  expect_broken([](io::Json& j) { j["model"]["merges"] = {"b a"}; }, {"makes 'ba'"});
  expect_broken([](io::Json& j) { j["model"]["dropout"] = 0.1; }, {"dropout"});
  expect_broken([](io::Json& j) { j["model"]["unk_token"] = "<unk>"; }, {"unk_token", "<unk>"});
  expect_broken([](io::Json& j) { j["model"]["ignore_merges"] = "yes"; }, {"ignore_merges"});
}

TEST(BpeMalformed, PipelineComponents) {
  expect_broken([](io::Json& j) { j["normalizer"] = {{"type", "Precompiled"}}; }, {"normalizer", "Precompiled"});
  expect_broken([](io::Json& j) { j["normalizer"] = "NFC"; }, {"type"});
  expect_broken([](io::Json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; }, {"pre_tokenizer", "Whitespace"});
  expect_broken([](io::Json& j) { j["pre_tokenizer"] = io::Json::parse(R"({"type":"Split","pattern":{"Regex":"(["},"behavior":"Isolated"})"); },
                {"invalid regex"});
  expect_broken([](io::Json& j) { j["decoder"] = {{"type", "Metaspace"}}; }, {"decoder", "Metaspace"});
  expect_broken([](io::Json& j) { j["post_processor"]["special_tokens"]["<s>"]["ids"] = {99}; },
                {"post_processor adds id 99"});
  expect_broken([](io::Json& j) { j["post_processor"]["single"] = io::Json::array(); }, {"Sequence A"});
}

TEST(BpeMalformed, AddedTokens) {
  expect_broken([](io::Json& j) { j["added_tokens"][1]["id"] = 4; }, {"id 4"});
  expect_broken([](io::Json& j) { j["added_tokens"][1]["content"] = "<s>"; }, {"'<s>'", "two ids"});
  expect_broken([](io::Json& j) { j["added_tokens"][0]["content"] = "ab"; }, {"'ab'", "vocabulary gives it id 2"});
  expect_broken([](io::Json& j) { j["added_tokens"][0].erase("id"); }, {"added_tokens[0]", "'id'"});
  expect_broken([](io::Json& j) { j["added_tokens"] = {{"id", 9}}; }, {"added_tokens"});
}

TEST(BpeMalformed, TokenizerConfig) {
  const auto nothing = [](io::Json&) {};
  expect_broken(nothing, {"tokenizer_config.json", "bos_token", "<bos>"}, R"({"bos_token": "<bos>"})");
  expect_broken(nothing, {"tokenizer_config.json", "model_max_length"}, R"({"model_max_length": -1})");
  expect_broken(nothing, {"tokenizer_config.json", "added_tokens_decoder"},
                R"({"added_tokens_decoder": {"x": {"content": "<q>"}}})");
  expect_broken(nothing, {"tokenizer_config.json", "added_tokens_decoder", "id 4"},
                R"({"added_tokens_decoder": {"4": {"content": "<other>"}}})");
  expect_broken(nothing, {"tokenizer_config.json", "invalid JSON"}, R"({"bos_token": )");
  expect_broken(nothing, {"tokenizer_config.json", "pad_token"}, R"({"pad_token": 3})");
  expect_broken(nothing, {"tokenizer_config.json", "add_bos_token"}, R"({"add_bos_token": "true"})");
}

TEST(BpeMalformed, ConfigAddsBosWhenTheFileHasNoPostProcessor) {
  io::Json j = valid_tokenizer();
  j["post_processor"] = nullptr;
  const Folder f = folder_with(j, R"({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true,
                                      "add_eos_token": true})");
  EXPECT_EQ(BpeTokenizer::load(f.path()).encode("a", true), (std::vector<int32_t>{4, 0, 5}));
  const Folder no_bos = folder_with(j, R"({"add_bos_token": true})");
  expect_error([&] { BpeTokenizer::load(no_bos.path()); }, {"add_bos_token", "no bos_token"});
}

TEST(BpeMalformed, FilesAndFolders) {
  ScratchDir dir;
  expect_error([&] { BpeTokenizer::load(dir / "missing"); }, {"missing", "no such tokenizer"});
  expect_error([&] { BpeTokenizer::load(dir.path()); }, {"no tokenizer.json"});
  write_text(dir / "tokenizer.json", "{\"model\": ");
  expect_error([&] { BpeTokenizer::load(dir.path()); }, {"tokenizer.json", "invalid JSON"});
  write_text(dir / "tokenizer.json", "");
  expect_error([&] { BpeTokenizer::load(dir.path()); }, {"tokenizer.json", "invalid JSON"});
  write_text(dir / "tokenizer.json", "[1, 2]");
  expect_error([&] { BpeTokenizer::load(dir.path()); }, {"tokenizer.json", "JSON object"});
}

// A CLIP vocab.json + merges.txt folder with its config.
struct ClipFolder {
  ScratchDir dir;
  ClipFolder(const std::string& merges, const std::string& config) {
    write_text(dir / "vocab.json", R"({"a</w>": 0, "a": 1, "b</w>": 2, "b": 3, "ab</w>": 4,
                                        "<|startoftext|>": 5, "<|endoftext|>": 6})");
    write_text(dir / "merges.txt", merges);
    if (!config.empty()) write_text(dir / "tokenizer_config.json", config);
  }
};

const char* kClipConfig = R"({"tokenizer_class": "CLIPTokenizer", "bos_token": "<|startoftext|>",
                              "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                              "pad_token": "<|endoftext|>", "model_max_length": 77})";

TEST(BpeMalformed, ClipVocabFiles) {
  const ClipFolder good("#version: 0.2\na b</w>\n", kClipConfig);
  EXPECT_EQ(BpeTokenizer::load(good.dir.path()).encode("AB", true), (std::vector<int32_t>{5, 4, 6}));
  const ClipFolder no_header("a b</w>\n", kClipConfig);
  expect_error([&] { BpeTokenizer::load(no_header.dir.path()); }, {"merges.txt", "#version"});
  const ClipFolder bad_line("#version: 0.2\na b</w> c\n", kClipConfig);
  expect_error([&] { BpeTokenizer::load(bad_line.dir.path()); }, {"merges.txt", "line 2"});
  const ClipFolder no_config("#version: 0.2\n", "");
  expect_error([&] { BpeTokenizer::load(no_config.dir.path()); }, {"without tokenizer_config.json"});
  const ClipFolder gpt2("#version: 0.2\n", R"({"tokenizer_class": "GPT2Tokenizer"})");
  expect_error([&] { BpeTokenizer::load(gpt2.dir.path()); }, {"tokenizer_config.json", "GPT2Tokenizer"});
  const ClipFolder no_bos("#version: 0.2\n", R"({"tokenizer_class": "CLIPTokenizer"})");
  expect_error([&] { BpeTokenizer::load(no_bos.dir.path()); }, {"bos_token"});
  const ClipFolder unknown_bos("#version: 0.2\n", R"({"tokenizer_class": "CLIPTokenizer", "bos_token": "<s>",
                                                      "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"})");
  expect_error([&] { BpeTokenizer::load(unknown_bos.dir.path()); }, {"bos_token '<s>'"});
  ClipFolder bad_vocab("#version: 0.2\n", kClipConfig);
  write_text(bad_vocab.dir / "vocab.json", "[\"a\"]");
  expect_error([&] { BpeTokenizer::load(bad_vocab.dir.path()); }, {"vocab.json"});
}

TEST(BpeMalformed, RandomMutationsNeverCrash) {
  // Byte-level mutations of a valid file: each must load or fail with diffuse::Error.
  const std::string base = valid_tokenizer().dump();
  std::mt19937 rng(99);
  const std::string alphabet = "{}[]\":,0123456789-abAB \\u";
  ScratchDir dir;
  int loaded = 0, rejected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string text = base;
    for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits) {
      const size_t pos = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(pos, 1 + rng() % 8); break;
        default: text.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
      }
    }
    write_text(dir / "tokenizer.json", text);
    try {
      const BpeTokenizer t = BpeTokenizer::load(dir.path());
      t.decode(t.encode("ab a\xC3\xA9 <s>", true), false);
      ++loaded;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
  EXPECT_GT(loaded, 0);
}

}  // namespace
}  // namespace diffuse::text
