#include "text/qwen2_vocab_files.h"

#include <filesystem>

#include "runtime/error.h"
#include "text/vocab_files.h"

namespace diffuse::text {

namespace {

// Qwen2Tokenizer's PRETOKENIZE_REGEX: contractions, letter runs with one optional leading
// non-letter, single digits, punctuation runs with their trailing newlines, newline runs,
// and whitespace (a trailing space run stays separate from the word that follows).
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

io::Json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", use_regex}};
}

}  // namespace

io::Json qwen2_tokenizer_json_from_files(const std::string& folder, const TokenizerConfig& config) {
  namespace fs = std::filesystem;
  const std::string label = config_label(folder, config);
  DIFFUSE_CHECK(!config.added_tokens_decoder.empty(), label,
                ": a Qwen2 tokenizer folder must declare its special tokens in added_tokens_decoder");
  io::Json doc;
  doc["version"] = "1.0";
  doc["added_tokens"] = io::Json::array();  // the loader adds the added_tokens_decoder entries
  doc["normalizer"] = {{"type", "NFC"}};
  doc["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       io::Json::array({{{"type", "Split"}, {"pattern", {{"Regex", kQwen2Pattern}}}, {"behavior", "Isolated"},
                         {"invert", false}},
                        byte_level(false)})}};
  doc["post_processor"] = byte_level(false);
  doc["decoder"] = byte_level(false);
  doc["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"continuing_subword_prefix", ""},
                  {"end_of_word_suffix", ""},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"vocab", read_vocab_json((fs::path(folder) / "vocab.json").string())},
                  {"merges", read_merges_txt((fs::path(folder) / "merges.txt").string())}};
  return doc;
}

}  // namespace diffuse::text
