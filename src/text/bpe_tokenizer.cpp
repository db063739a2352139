#include "text/bpe_tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "io/json_config.h"
#include "io/printable.h"
#include "runtime/error.h"
#include "text/tokenizer_config.h"
#include "text/utf8_codec.h"
#include "text/vocab_files.h"

namespace diffuse::text {

namespace {

namespace fs = std::filesystem;

struct Source {
  std::string folder;     // where the config files are looked for
  std::string json_path;  // tokenizer.json, or "" for a vocab.json + merges.txt folder
};

Source locate(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) {
    if (fs::is_regular_file(p / "tokenizer.json", ec)) return {path, (p / "tokenizer.json").string()};
    DIFFUSE_CHECK(fs::is_regular_file(p / "vocab.json", ec) && fs::is_regular_file(p / "merges.txt", ec), path,
                  ": no tokenizer.json (nor vocab.json + merges.txt) in this folder");
    return {path, ""};
  }
  DIFFUSE_CHECK(fs::is_regular_file(p, ec), path, ": no such tokenizer file or folder");
  const fs::path parent = p.parent_path();
  return {parent.empty() ? std::string(".") : parent.string(), path};
}

}  // namespace

BpeTokenizer BpeTokenizer::load(const std::string& path) {
  const Source source = locate(path);
  const TokenizerConfig config = read_tokenizer_config(source.folder);
  const std::string label =
      source.json_path.empty() ? source.folder + " (vocab.json + merges.txt)" : source.json_path;
  BpeTokenizer t(source.json_path.empty()
                     ? parse_tokenizer_json(tokenizer_json_from_vocab_files(source.folder, config), label)
                     : load_tokenizer_json(source.json_path));
  t.origin_ = label;
  TokenizerParts& parts = t.parts_;

  const std::string config_label = config.path.empty() ? source.folder + "/tokenizer_config.json" : config.path;
  for (const AddedToken& a : config.added_tokens_decoder)
    parts.added.add(a, str_cat(config_label, ": added_tokens_decoder"));
  for (const AddedToken& a : parts.added.tokens()) {
    const auto in_vocab = parts.model.token_to_id(a.content);
    DIFFUSE_CHECK(!in_vocab || *in_vocab == a.id, label, ": added token '", io::printable(a.content), "' has id ",
                  a.id, " but the vocabulary gives it id ", *in_vocab);
  }
  t.vocab_size_ = std::max(parts.model.max_id(), parts.added.max_id()) + 1;
  DIFFUSE_CHECK(t.vocab_size_ > 0, label, ": the vocabulary is empty");

  const auto special_id = [&](const std::optional<std::string>& token, const char* field) -> std::optional<int32_t> {
    if (!token) return std::nullopt;
    const auto id = t.token_to_id(*token);
    DIFFUSE_CHECK(id.has_value(), config_label, ": ", field, " '", io::printable(*token),
                  "' is not in the vocabulary of ", label);
    return id;
  };
  t.bos_id_ = special_id(config.bos_token, "bos_token");
  t.eos_id_ = special_id(config.eos_token, "eos_token");
  t.pad_id_ = special_id(config.pad_token, "pad_token");
  t.unk_id_ = special_id(config.unk_token ? config.unk_token : parts.model.options().unk_token, "unk_token");
  t.model_max_length_ = config.model_max_length;

  if (!parts.has_post_processor && (config.add_bos_token.value_or(false) || config.add_eos_token.value_or(false))) {
    const bool bos = config.add_bos_token.value_or(false), eos = config.add_eos_token.value_or(false);
    DIFFUSE_CHECK(!bos || t.bos_id_, config_label, ": add_bos_token is true but there is no bos_token");
    DIFFUSE_CHECK(!eos || t.eos_id_, config_label, ": add_eos_token is true but there is no eos_token");
    parts.post_processor = PostProcessor::wrap(bos ? t.bos_id_ : std::nullopt, eos ? t.eos_id_ : std::nullopt);
  }
  for (const auto* list : {&parts.post_processor.prefix(), &parts.post_processor.suffix()})
    for (int32_t id : *list)
      DIFFUSE_CHECK(t.id_to_token(id).has_value(), label, ": post_processor adds id ", id,
                    ", which is not in the vocabulary");
  return t;
}

void BpeTokenizer::encode_plain(const std::string& text, std::vector<int32_t>& out) const {
  std::vector<std::string> pieces;
  parts_.pre_tokenizer.split(text, pieces);
  for (const std::string& piece : pieces) parts_.model.encode_word(piece, out);
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (const auto bad = find_invalid_utf8(text))
    fail(origin_, ": the text to encode is not valid UTF-8 (byte ", *bad, ")");
  std::vector<int32_t> ids;
  for (const TextSegment& raw : parts_.added.split(text, /*normalized=*/false)) {
    if (raw.token_id >= 0) {
      ids.push_back(raw.token_id);
      continue;
    }
    const std::string normalized = parts_.normalizer.apply(std::string(text.substr(raw.begin, raw.end - raw.begin)));
    for (const TextSegment& seg : parts_.added.split(normalized, /*normalized=*/true)) {
      if (seg.token_id >= 0) {
        ids.push_back(seg.token_id);
      } else {
        encode_plain(normalized.substr(seg.begin, seg.end - seg.begin), ids);
      }
    }
  }
  return add_special_tokens ? parts_.post_processor.apply(ids) : ids;
}

std::vector<int32_t> BpeTokenizer::encode_truncated(std::string_view text, size_t max_length,
                                                    bool add_special_tokens) const {
  const size_t specials = add_special_tokens ? num_special_tokens_to_add() : 0;
  DIFFUSE_CHECK(max_length >= specials, origin_, ": max_length ", max_length, " leaves no room for the ", specials,
                " special tokens");
  std::vector<int32_t> ids = encode(text, false);
  if (ids.size() > max_length - specials) ids.resize(max_length - specials);
  return add_special_tokens ? parts_.post_processor.apply(ids) : ids;
}

PaddedTokens BpeTokenizer::encode_padded(std::string_view text, size_t max_length, bool add_special_tokens) const {
  DIFFUSE_CHECK(pad_id_.has_value(), origin_, ": cannot pad, the tokenizer config names no pad_token");
  PaddedTokens out;
  out.ids = encode_truncated(text, max_length, add_special_tokens);
  out.attention_mask.assign(out.ids.size(), 1);
  out.ids.resize(max_length, *pad_id_);
  out.attention_mask.resize(max_length, 0);
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::vector<std::string_view> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const AddedToken* added = parts_.added.find_id(id)) {
      if (!(skip_special && added->special)) tokens.push_back(added->content);
    } else if (const std::string* token = parts_.model.id_to_token(id)) {
      tokens.push_back(*token);
    } else {
      fail(origin_, ": cannot decode id ", id, ", it is not in the vocabulary (size ", vocab_size_, ")");
    }
  }
  std::string text = parts_.decoder.decode(tokens);
  // End-of-word suffixes (CLIP's "</w>") mark word ends: they become spaces and the ends are
  // trimmed, as transformers' CLIP tokenizers do after byte-level decoding.
  const std::string& suffix = parts_.model.options().end_of_word_suffix;
  if (!suffix.empty()) {
    std::string spaced;
    for (size_t pos = 0;;) {
      const size_t hit = text.find(suffix, pos);
      spaced.append(text, pos, hit == std::string::npos ? std::string::npos : hit - pos);
      if (hit == std::string::npos) break;
      spaced += ' ';
      pos = hit + suffix.size();
    }
    const size_t first = spaced.find_first_not_of(" \t\n\r\f\v");
    const size_t last = spaced.find_last_not_of(" \t\n\r\f\v");
    text = first == std::string::npos ? std::string() : spaced.substr(first, last - first + 1);
  }
  return text;
}

std::optional<int32_t> BpeTokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* added = parts_.added.find_content(token)) return added->id;
  return parts_.model.token_to_id(token);
}

std::optional<std::string> BpeTokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* added = parts_.added.find_id(id)) return added->content;
  if (const std::string* token = parts_.model.id_to_token(id)) return *token;
  return std::nullopt;
}

bool BpeTokenizer::is_special(int32_t id) const {
  const AddedToken* added = parts_.added.find_id(id);
  return added != nullptr && added->special;
}

}  // namespace diffuse::text
