#include "text/post_processor.h"

#include "io/printable.h"
#include "runtime/error.h"
#include "text/tokenizer_json_fields.h"

namespace diffuse::text {

namespace {

int32_t to_id(const io::Json& v, const std::string& where) {
  DIFFUSE_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= INT32_MAX, where,
                ": expected a token id (non-negative integer), found ", v.dump());
  return static_cast<int32_t>(v.get<int64_t>());
}

// "cls": ["<s>", 0] -> 0
int32_t token_pair_id(const io::Json& spec, const char* key, const std::string& where) {
  const auto it = spec.find(key);
  DIFFUSE_CHECK(it != spec.end() && it->is_array() && it->size() == 2 && (*it)[0].is_string(), where, ": field '",
                key, "' must be [token, id]");
  return to_id((*it)[1], str_cat(where, " ", key));
}

// TemplateProcessing: "single" is a list of {"SpecialToken": {"id": name}} and exactly one
// {"Sequence": {"id": "A"}}; names resolve through "special_tokens": {name: {"ids": [...]}}.
void parse_template(const io::Json& spec, const std::string& where, std::vector<int32_t>& prefix,
                    std::vector<int32_t>& suffix) {
  const io::Json& single = required_array(spec, "single", where);
  const auto specials = spec.find("special_tokens");
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const io::Json& item = single[i];
    const std::string item_where = str_cat(where, " single[", i, "]");
    DIFFUSE_CHECK(item.is_object() && item.size() == 1, item_where,
                  ": expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    if (item.contains("Sequence")) {
      const std::string seq = io::require_string(item["Sequence"], "id", item_where);
      DIFFUSE_CHECK(seq == "A" && !seen_sequence, item_where, ": the single-text template must hold sequence A once");
      seen_sequence = true;
      continue;
    }
    DIFFUSE_CHECK(item.contains("SpecialToken"), item_where, ": expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    const std::string name = io::require_string(item["SpecialToken"], "id", item_where);
    DIFFUSE_CHECK(specials != spec.end() && specials->is_object() && specials->contains(name), item_where,
                  ": special token '", io::printable(name), "' is not defined in special_tokens");
    const io::Json& ids = required_array((*specials)[name], "ids", str_cat(where, " special_tokens['", name, "']"));
    for (const io::Json& id : ids) (seen_sequence ? suffix : prefix).push_back(to_id(id, item_where));
  }
  DIFFUSE_CHECK(seen_sequence, where, ": the single-text template has no Sequence A");
}

}  // namespace

void PostProcessor::wrap_with(const PostProcessor& outer) {
  prefix_.insert(prefix_.begin(), outer.prefix_.begin(), outer.prefix_.end());
  suffix_.insert(suffix_.end(), outer.suffix_.begin(), outer.suffix_.end());
}

PostProcessor PostProcessor::from_json(const io::Json& spec, const std::string& context) {
  PostProcessor p;
  if (spec.is_null()) return p;
  const std::string type = component_type(spec, context);
  const std::string where = str_cat(context, ": post_processor ", type);
  if (type == "Sequence") {
    for (const io::Json& item : required_array(spec, "processors", where)) p.wrap_with(from_json(item, context));
  } else if (type == "TemplateProcessing") {
    parse_template(spec, where, p.prefix_, p.suffix_);
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    p.prefix_ = {token_pair_id(spec, "cls", where)};
    p.suffix_ = {token_pair_id(spec, "sep", where)};
  } else if (type != "ByteLevel") {  // ByteLevel only adjusts offsets
    fail(context, ": post_processor type '", io::printable(type),
         "' is not supported (supported: TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence)");
  }
  return p;
}

PostProcessor PostProcessor::wrap(std::optional<int32_t> bos, std::optional<int32_t> eos) {
  PostProcessor p;
  if (bos) p.prefix_.push_back(*bos);
  if (eos) p.suffix_.push_back(*eos);
  return p;
}

std::vector<int32_t> PostProcessor::apply(const std::vector<int32_t>& ids) const {
  std::vector<int32_t> out;
  out.reserve(ids.size() + added_count());
  out.insert(out.end(), prefix_.begin(), prefix_.end());
  out.insert(out.end(), ids.begin(), ids.end());
  out.insert(out.end(), suffix_.begin(), suffix_.end());
  return out;
}

}  // namespace diffuse::text
