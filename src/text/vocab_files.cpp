#include "text/vocab_files.h"

#include <string_view>
#include <vector>

#include "io/mapped_file.h"
#include "io/printable.h"
#include "runtime/error.h"
#include "text/clip_vocab_files.h"
#include "text/qwen2_vocab_files.h"

namespace diffuse::text {

namespace {

constexpr size_t kMaxMergesFileBytes = size_t{256} << 20;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

std::string config_label(const std::string& folder, const TokenizerConfig& config) {
  return config.path.empty() ? folder + "/tokenizer_config.json" : config.path;
}

io::Json tokenizer_json_from_vocab_files(const std::string& folder, const TokenizerConfig& config) {
  const std::string label = config_label(folder, config);
  DIFFUSE_CHECK(!config.path.empty(), folder,
                ": vocab.json + merges.txt without tokenizer_config.json; cannot tell which tokenizer they belong to");
  const std::string& cls = config.tokenizer_class;
  if (cls.rfind("CLIPTokenizer", 0) == 0) return clip_tokenizer_json_from_files(folder, config);
  if (cls.rfind("Qwen2Tokenizer", 0) == 0) return qwen2_tokenizer_json_from_files(folder, config);
  fail(label, ": tokenizer_class '", io::printable(cls),
       "': vocab.json + merges.txt folders are supported for CLIPTokenizer and Qwen2Tokenizer (other tokenizers "
       "need tokenizer.json)");
}

io::Json read_vocab_json(const std::string& path) {
  io::Json vocab = io::load_json(path);
  DIFFUSE_CHECK(vocab.is_object(), path, ": expected an object {token: id}");
  for (const auto& [token, id] : vocab.items()) {
    DIFFUSE_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() <= INT32_MAX, path,
                  ": token '", io::printable(token), "' has no valid id (need an integer in [0, 2^31))");
  }
  return vocab;
}

int32_t vocab_id(const io::Json& vocab, const std::string& token, const std::string& config_label, const char* what,
                 const std::string& vocab_path) {
  const auto it = vocab.find(token);
  DIFFUSE_CHECK(it != vocab.end(), config_label, ": ", what, " '", io::printable(token), "' is not in ", vocab_path);
  return static_cast<int32_t>(it->get<int64_t>());
}

io::Json read_merges_txt(const std::string& path, size_t max_merges) {
  const auto file = io::MappedFile::open(path);
  DIFFUSE_CHECK(file->size() <= kMaxMergesFileBytes, path, ": ", file->size(), " bytes is too large for merges.txt");
  const std::string_view text(reinterpret_cast<const char*>(file->data()), file->size());
  io::Json merges = io::Json::array();
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size() && merges.size() < max_merges; ++line_no) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line_no == 0) {
      DIFFUSE_CHECK(line.rfind("#version", 0) == 0, path, ": line 1 must be the '#version: ...' header");
      continue;
    }
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

}  // namespace diffuse::text
