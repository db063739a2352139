#include "text/clip_vocab_files.h"

#include <filesystem>
#include <string_view>

#include "io/mapped_file.h"
#include "io/printable.h"
#include "runtime/error.h"

namespace diffuse::text {

namespace {

namespace fs = std::filesystem;

// CLIPTokenizer reads only the first 49152 - 256 - 2 merges of merges.txt (the vocabulary is
// 256 bytes + 256 end-of-word bytes + merges + 2 special tokens = 49408).
constexpr size_t kClipMaxMerges = 49152 - 256 - 2;
constexpr size_t kMaxMergesFileBytes = size_t{256} << 20;

// The CLIP pattern as the converter writes it. The special tokens the original pattern
// also lists are cut out before pre-tokenization, so they need no alternative here.
constexpr const char* kClipPattern = R"('s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

io::Json read_merges_txt(const std::string& path) {
  const auto file = io::MappedFile::open(path);
  DIFFUSE_CHECK(file->size() <= kMaxMergesFileBytes, path, ": ", file->size(), " bytes is too large for merges.txt");
  const std::string_view text(reinterpret_cast<const char*>(file->data()), file->size());
  io::Json merges = io::Json::array();
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size() && merges.size() < kClipMaxMerges; ++line_no) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line_no == 0) {
      DIFFUSE_CHECK(line.rfind("#version", 0) == 0, path, ": line 1 must be the '#version: ...' header");
      continue;
    }
    // Whitespace-separated pair, as the reference's str.split() reads it.
    std::vector<std::string_view> parts;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && is_space(line[i])) ++i;
      size_t j = i;
      while (j < line.size() && !is_space(line[j])) ++j;
      if (j > i) parts.push_back(line.substr(i, j - i));
      i = j;
    }
    if (parts.empty() && pos >= text.size()) break;  // trailing newline
    DIFFUSE_CHECK(parts.size() == 2, path, ": line ", line_no + 1, " ('", io::printable(line),
                  "') is not two tokens separated by a space");
    merges.push_back(io::Json::array({std::string(parts[0]), std::string(parts[1])}));
  }
  return merges;
}

io::Json added_token_json(int32_t id, const std::string& content) {
  // Special tokens of the slow tokenizer match the raw text (normalized = false).
  return {{"id", id},         {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},  {"normalized", false}, {"special", true}};
}

}  // namespace

io::Json clip_tokenizer_json_from_files(const std::string& folder, const TokenizerConfig& config) {
  const std::string vocab_path = (fs::path(folder) / "vocab.json").string();
  const std::string merges_path = (fs::path(folder) / "merges.txt").string();
  const std::string config_label = config.path.empty() ? folder + "/tokenizer_config.json" : config.path;
  DIFFUSE_CHECK(!config.path.empty(), folder,
                ": vocab.json + merges.txt without tokenizer_config.json; cannot tell which tokenizer they belong to");
  DIFFUSE_CHECK(config.tokenizer_class.rfind("CLIPTokenizer", 0) == 0, config_label, ": tokenizer_class '",
                io::printable(config.tokenizer_class),
                "': vocab.json + merges.txt folders are supported for CLIPTokenizer only (other tokenizers need "
                "tokenizer.json)");
  DIFFUSE_CHECK(config.bos_token && config.eos_token && config.unk_token, config_label,
                ": a CLIP tokenizer needs bos_token, eos_token and unk_token");

  io::Json vocab = io::load_json(vocab_path);
  DIFFUSE_CHECK(vocab.is_object(), vocab_path, ": expected an object {token: id}");
  const auto id_of = [&](const std::string& token, const char* field) -> int32_t {
    const auto it = vocab.find(token);
    DIFFUSE_CHECK(it != vocab.end() && it->is_number_integer() && it->get<int64_t>() >= 0 &&
                      it->get<int64_t>() <= INT32_MAX,
                  config_label, ": ", field, " '", io::printable(token), "' has no valid id in ", vocab_path);
    return static_cast<int32_t>(it->get<int64_t>());
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
                  {"merges", read_merges_txt(merges_path)}};
  return doc;
}

}  // namespace diffuse::text
