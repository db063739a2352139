#include "text/bpe_tables.h"

#include "io/printable.h"
#include "runtime/error.h"
#include "text/utf8_codec.h"

namespace diffuse::text {

namespace {

void add_vocab_entry(const std::string& token, const io::Json& id, const std::string& where, BpeTables& t) {
  DIFFUSE_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() <= INT32_MAX, where,
                ": vocab['", io::printable(token), "'] = ", id.dump(), " is not a valid token id");
  DIFFUSE_CHECK(!find_invalid_utf8(token), where, ": vocab entry ", id.dump(), " is not valid UTF-8");
  t.vocab.emplace_back(token, static_cast<int32_t>(id.get<int64_t>()));
}

// One element of "merges": "left right" or [left, right].
void add_merge(const io::Json& m, const std::string& where, BpeTables& t) {
  const size_t i = t.merges.size();
  if (m.is_string()) {
    const std::string& s = m.get_ref<const std::string&>();
    const size_t space = s.find(' ');
    DIFFUSE_CHECK(space != std::string::npos && space > 0 && space + 1 < s.size() &&
                      s.find(' ', space + 1) == std::string::npos,
                  where, ": merges[", i, "] = '", io::printable(s), "' is not two tokens separated by one space");
    t.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    return;
  }
  DIFFUSE_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), where, ": merges[", i,
                "] must be \"left right\" or [left, right]");
  t.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
}

// nlohmann's parser callback: tracks where in the document the parser is and diverts the
// entries of model.vocab and model.merges into the tables (returning false drops them
// from the document being built).
class TableExtractor {
 public:
  TableExtractor(BpeTables& tables, std::string where) : t_(tables), where_(std::move(where)) {}

  bool operator()(int /*depth*/, io::Json::parse_event_t event, io::Json& parsed) {
    using E = io::Json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start: {
        const Place at = place();
        DIFFUSE_CHECK(at != Place::kVocab, where_, ": vocab['", io::printable(stack_.back().key),
                      "'] is not a valid token id");
        DIFFUSE_CHECK(at != Place::kMergePair && !(at == Place::kMerges && event == E::object_start), where_,
                      ": merges[", t_.merges.size(), "] must be \"left right\" or [left, right]");
        stack_.push_back({event == E::object_start, {}});
        if (place() == Place::kVocab) t_.has_vocab = true;
        if (place() == Place::kMerges) t_.has_merges = true;
        return true;
      }
      case E::key:
        if (!stack_.empty()) stack_.back().key = parsed.get<std::string>();
        return place() != Place::kVocab;
      case E::value:
        switch (place()) {
          case Place::kVocab:
            add_vocab_entry(stack_.back().key, parsed, where_, t_);
            return false;
          case Place::kMerges:
            add_merge(parsed, where_, t_);
            return false;
          default:
            return true;  // including the two strings of a [left, right] pair, taken at its end
        }
      case E::object_end:
      case E::array_end: {
        const bool pair_done = place() == Place::kMergePair;
        if (pair_done) add_merge(parsed, where_, t_);
        if (!stack_.empty()) stack_.pop_back();
        return !pair_done;
      }
    }
    return true;
  }

 private:
  enum class Place { kOther, kVocab, kMerges, kMergePair };
  struct Level {
    bool is_object;
    std::string key;  // the last key read at this level (objects only)
  };

  // Inside root{"model": {"vocab": {...}}} or root{"model": {"merges": [...]}} (or one of
  // the merges' [left, right] arrays).
  Place place() const {
    if (stack_.size() < 3 || stack_.size() > 4) return Place::kOther;
    if (!stack_[0].is_object || stack_[0].key != "model" || !stack_[1].is_object) return Place::kOther;
    if (stack_.size() == 3) {
      if (stack_[1].key == "vocab" && stack_[2].is_object) return Place::kVocab;
      if (stack_[1].key == "merges" && !stack_[2].is_object) return Place::kMerges;
      return Place::kOther;
    }
    if (stack_[1].key == "merges" && !stack_[2].is_object && !stack_[3].is_object) return Place::kMergePair;
    return Place::kOther;
  }

  BpeTables& t_;
  std::string where_;
  std::vector<Level> stack_;
};

}  // namespace

BpeTables read_bpe_tables(const io::Json& model, const std::string& context) {
  const std::string where = context + ": model";
  BpeTables t;
  const auto vocab = model.find("vocab");
  if (vocab != model.end()) {
    DIFFUSE_CHECK(vocab->is_object(), where, ": field 'vocab' must be an object {token: id}");
    t.has_vocab = true;
    t.vocab.reserve(vocab->size());
    for (const auto& [token, id] : vocab->items()) add_vocab_entry(token, id, where, t);
  }
  const auto merges = model.find("merges");
  if (merges != model.end()) {
    DIFFUSE_CHECK(merges->is_array(), where, ": field 'merges' must be an array");
    t.has_merges = true;
    t.merges.reserve(merges->size());
    for (const io::Json& m : *merges) add_merge(m, where, t);
  }
  return t;
}

io::Json parse_json_extracting_bpe_tables(std::string_view text, const std::string& context, BpeTables& tables) {
  TableExtractor extractor(tables, context + ": model");
  try {
    return io::Json::parse(text.begin(), text.end(),
                           [&](int depth, io::Json::parse_event_t event, io::Json& parsed) {
                             return extractor(depth, event, parsed);
                           });
  } catch (const io::Json::parse_error& e) {
    std::string what = e.what();
    const auto pos = what.find("] ");  // drop nlohmann's "[json.exception.parse_error.101] "
    if (pos != std::string::npos) what = what.substr(pos + 2);
    fail(context, ": invalid JSON: ", io::printable(what));
  }
}

}  // namespace diffuse::text
