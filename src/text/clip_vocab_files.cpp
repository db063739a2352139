#include "text/clip_vocab_files.h"

#include <filesystem>

#include "io/printable.h"
#include "runtime/error.h"
#include "text/vocab_files.h"

namespace diffuse::text {

namespace {

namespace fs = std::filesystem;

// CLIPTokenizer reads only the first 49152 - 256 - 2 merges of merges.txt (the vocabulary is
// 256 bytes + 256 end-of-word bytes + merges + 2 special tokens = 49408).
constexpr size_t kClipMaxMerges = 49152 - 256 - 2;

// The CLIP pattern as the converter writes it. The special tokens the original pattern
// also lists are cut out before pre-tokenization, so they need no alternative here.
constexpr const char* kClipPattern = R"('s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)";

io::Json added_token_json(int32_t id, const std::string& content) {
  // Special tokens of the slow tokenizer match the raw text (normalized = false).
  return {{"id", id},         {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},  {"normalized", false}, {"special", true}};
}

}  // namespace

io::Json clip_tokenizer_json_from_files(const std::string& folder, const TokenizerConfig& config) {
  const std::string vocab_path = (fs::path(folder) / "vocab.json").string();
  const std::string merges_path = (fs::path(folder) / "merges.txt").string();
  const std::string label = config_label(folder, config);
  DIFFUSE_CHECK(config.bos_token && config.eos_token && config.unk_token, label,
                ": a CLIP tokenizer needs bos_token, eos_token and unk_token");

  io::Json vocab = read_vocab_json(vocab_path);
  const auto id_of = [&](const std::string& token, const char* field) {
    return vocab_id(vocab, token, label, field, vocab_path);
  };
  const int32_t bos = id_of(*config.bos_token, "bos_token");
  const int32_t eos = id_of(*config.eos_token, "eos_token");
  const int32_t unk = id_of(*config.unk_token, "unk_token");

  io::Json added = io::Json::array();
  if (config.added_tokens_decoder.empty()) {  // otherwise the loader adds those declarations
    added.push_back(added_token_json(bos, *config.bos_token));
    added.push_back(added_token_json(eos, *config.eos_token));
    if (unk != eos && unk != bos) added.push_back(added_token_json(unk, *config.unk_token));
    if (config.pad_token && vocab.contains(*config.pad_token)) {
      const int32_t pad = id_of(*config.pad_token, "pad_token");
      if (pad != bos && pad != eos && pad != unk) added.push_back(added_token_json(pad, *config.pad_token));
    }
  }

  io::Json doc;
  doc["version"] = "1.0";
  doc["added_tokens"] = std::move(added);
  doc["normalizer"] = {{"type", "Sequence"},
                       {"normalizers",
                        io::Json::array({{{"type", "NFC"}},
                                         {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}},
                                         {{"type", "Lowercase"}}})}};
  doc["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       io::Json::array(
           {{{"type", "Split"}, {"pattern", {{"Regex", kClipPattern}}}, {"behavior", "Removed"}, {"invert", true}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}})}};
  doc["post_processor"] = {{"type", "RobertaProcessing"},
                           {"sep", io::Json::array({*config.eos_token, eos})},
                           {"cls", io::Json::array({*config.bos_token, bos})},
                           {"trim_offsets", false},
                           {"add_prefix_space", false}};
  doc["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  doc["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", *config.unk_token},
                  {"continuing_subword_prefix", ""},
                  {"end_of_word_suffix", "</w>"},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"vocab", std::move(vocab)},
                  {"merges", read_merges_txt(merges_path, kClipMaxMerges)}};
  return doc;
}

}  // namespace diffuse::text
