#include "text/tokenizer_json.h"

#include "io/mapped_file.h"
#include "io/printable.h"
#include "runtime/error.h"
#include "text/bpe_tables.h"

namespace diffuse::text {

namespace {

const io::Json& member_or_null(const io::Json& root, const char* key) {
  static const io::Json null_value;
  const auto it = root.find(key);
  return it == root.end() ? null_value : *it;
}

// null / absent -> "" (the reference treats both as "no prefix / suffix").
std::string optional_string(const io::Json& obj, const char* key, const std::string& where) {
  return io::get_optional_string(obj, key, where).value_or("");
}

BpeModel parse_model(const io::Json& model, BpeTables tables, const std::string& context) {
  const std::string where = str_cat(context, ": model");
  DIFFUSE_CHECK(model.is_object(), where, " must be an object");
  const std::string type = io::get_string(model, "type", "BPE", where);
  DIFFUSE_CHECK(type == "BPE", context, ": model type '", io::printable(type), "' is not supported (only BPE)");
  // BPE dropout samples merges at random; an inference engine must be deterministic.
  const auto dropout = io::get_optional_double(model, "dropout", where);
  DIFFUSE_CHECK(!dropout || *dropout == 0.0, where, ": dropout ", *dropout, " is not supported (not deterministic)");
  BpeOptions options;
  options.unk_token = io::get_optional_string(model, "unk_token", where);
  options.continuing_subword_prefix = optional_string(model, "continuing_subword_prefix", where);
  options.end_of_word_suffix = optional_string(model, "end_of_word_suffix", where);
  options.fuse_unk = io::get_bool(model, "fuse_unk", false, where);
  options.byte_fallback = io::get_bool(model, "byte_fallback", false, where);
  options.ignore_merges = io::get_bool(model, "ignore_merges", false, where);
  DIFFUSE_CHECK(tables.has_vocab, where, ": field 'vocab' is missing");
  DIFFUSE_CHECK(tables.has_merges, where, ": field 'merges' is missing");
  return BpeModel::build(std::move(tables.vocab), tables.merges, std::move(options), where);
}

void read_added_tokens(const io::Json& list, const std::string& context, AddedVocabulary& out) {
  if (list.is_null()) return;
  DIFFUSE_CHECK(list.is_array(), context, ": field 'added_tokens' must be an array");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = str_cat(context, ": added_tokens[", i, "]");
    const io::Json& item = list[i];
    AddedToken t;
    const int64_t id = io::require_int(item, "id", where);
    DIFFUSE_CHECK(id >= 0 && id <= INT32_MAX, where, ": id ", id, " is out of range");
    t.id = static_cast<int32_t>(id);
    t.content = io::require_string(item, "content", where);
    t.special = io::get_bool(item, "special", false, where);
    t.single_word = io::get_bool(item, "single_word", false, where);
    t.lstrip = io::get_bool(item, "lstrip", false, where);
    t.rstrip = io::get_bool(item, "rstrip", false, where);
    t.normalized = io::get_bool(item, "normalized", !t.special, where);
    out.add(t, where);
  }
}

TokenizerParts build_parts(const io::Json& root, BpeTables tables, const std::string& context) {
  TokenizerParts parts{
      Normalizer::from_json(member_or_null(root, "normalizer"), context),
      PreTokenizer::from_json(member_or_null(root, "pre_tokenizer"), context),
      parse_model(root.at("model"), std::move(tables), context),
      AddedVocabulary{},
      PostProcessor::from_json(member_or_null(root, "post_processor"), context),
      !member_or_null(root, "post_processor").is_null(),
      TokenDecoder::from_json(member_or_null(root, "decoder"), context),
  };
  read_added_tokens(member_or_null(root, "added_tokens"), context, parts.added);
  return parts;
}

void check_root(const io::Json& root, const std::string& context) {
  DIFFUSE_CHECK(root.is_object(), context, ": expected a JSON object");
  const auto model = root.find("model");
  DIFFUSE_CHECK(model != root.end(), context, ": field 'model' is missing");
  DIFFUSE_CHECK(model->is_object(), context, ": field 'model' must be an object");
}

}  // namespace

TokenizerParts load_tokenizer_json(const std::string& path) {
  io::Json root;
  BpeTables tables;
  {
    const auto file = io::MappedFile::open(path);
    const std::string_view text(reinterpret_cast<const char*>(file->data()), file->size());
    root = parse_json_extracting_bpe_tables(text, path, tables);
  }
  check_root(root, path);
  return build_parts(root, std::move(tables), path);
}

TokenizerParts parse_tokenizer_json(const io::Json& root, const std::string& context) {
  check_root(root, context);
  return build_parts(root, read_bpe_tables(root.at("model"), context), context);
}

}  // namespace diffuse::text
