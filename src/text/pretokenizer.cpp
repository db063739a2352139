#include "text/pretokenizer.h"

#include <algorithm>

#include "io/printable.h"
#include "runtime/error.h"
#include "text/byte_unicode.h"
#include "text/tokenizer_json_fields.h"

namespace diffuse::text {

namespace {

// The GPT-2 pre-tokenization pattern that ByteLevel applies when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Range {
  size_t begin, end;
  bool is_match;
};

}  // namespace

void PreTokenizer::append_steps(const io::Json& spec, const std::string& context, std::vector<Step>& out) {
  const std::string type = component_type(spec, context);
  const std::string where = str_cat(context, ": pre_tokenizer ", type);
  if (type == "Sequence") {
    for (const io::Json& item : required_array(spec, "pretokenizers", where)) append_steps(item, context, out);
  } else if (type == "Split") {
    Step step{Kind::kSplit, {}};
    step.regex.push_back(pattern_field(spec, where));
    const std::string behavior = io::require_string(spec, "behavior", where);
    if (behavior == "Removed") {
      step.behavior = Behavior::kRemoved;
    } else if (behavior == "Isolated") {
      step.behavior = Behavior::kIsolated;
    } else if (behavior == "MergedWithPrevious") {
      step.behavior = Behavior::kMergedWithPrevious;
    } else if (behavior == "MergedWithNext") {
      step.behavior = Behavior::kMergedWithNext;
    } else if (behavior == "Contiguous") {
      step.behavior = Behavior::kContiguous;
    } else {
      fail(where, ": behavior '", io::printable(behavior), "' is not one of Removed, Isolated, MergedWithPrevious, ",
           "MergedWithNext, Contiguous");
    }
    step.invert = io::get_bool(spec, "invert", false, where);
    out.push_back(std::move(step));
  } else if (type == "ByteLevel") {
    Step step{Kind::kByteLevel, {}};
    step.add_prefix_space = io::get_bool(spec, "add_prefix_space", true, where);
    if (io::get_bool(spec, "use_regex", true, where)) step.regex.push_back(TextRegex::compile(kGpt2Pattern, where));
    out.push_back(std::move(step));
  } else {
    fail(context, ": pre_tokenizer type '", io::printable(type),
         "' is not supported (supported: Split, ByteLevel, Sequence)");
  }
}

PreTokenizer PreTokenizer::from_json(const io::Json& spec, const std::string& context) {
  PreTokenizer p;
  if (!spec.is_null()) append_steps(spec, context, p.steps_);
  return p;
}

bool PreTokenizer::byte_level() const {
  for (const Step& s : steps_)
    if (s.kind == Kind::kByteLevel) return true;
  return false;
}

void PreTokenizer::split_piece(const std::string& piece, const TextRegex& regex, Behavior behavior, bool invert,
                               std::vector<std::string>& out) {
  // The piece as alternating non-match / match ranges covering all of it.
  std::vector<Range> ranges;
  size_t done = 0;
  for (const MatchSpan& m : regex.find_all(piece)) {
    if (m.begin > done) ranges.push_back({done, m.begin, invert});
    ranges.push_back({m.begin, m.end, !invert});
    done = m.end;
  }
  if (done < piece.size()) ranges.push_back({done, piece.size(), invert});

  // Merge the delimiters (is_match ranges) into pieces according to the behavior. The
  // merge rules follow the reference: a delimiter joins its neighbour only when that
  // neighbour is not itself a delimiter.
  std::vector<Range> merged;
  bool previous_match = false;
  switch (behavior) {
    case Behavior::kRemoved:
      for (const Range& r : ranges)
        if (!r.is_match) merged.push_back(r);
      break;
    case Behavior::kIsolated:
      merged = ranges;
      break;
    case Behavior::kMergedWithPrevious:
      for (const Range& r : ranges) {
        if (r.is_match && !previous_match && !merged.empty()) {
          merged.back().end = r.end;
        } else {
          merged.push_back(r);
        }
        previous_match = r.is_match;
      }
      break;
    case Behavior::kMergedWithNext:
      for (size_t i = ranges.size(); i-- > 0;) {
        const Range& r = ranges[i];
        if (r.is_match && !previous_match && !merged.empty()) {
          merged.back().begin = r.begin;
        } else {
          merged.push_back(r);
        }
        previous_match = r.is_match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    case Behavior::kContiguous:
      for (const Range& r : ranges) {
        if (r.is_match == previous_match && !merged.empty()) {
          merged.back().end = r.end;
        } else {
          merged.push_back(r);
        }
        previous_match = r.is_match;
      }
      break;
  }
  for (const Range& r : merged)
    if (r.end > r.begin) out.push_back(piece.substr(r.begin, r.end - r.begin));
}

void PreTokenizer::split(const std::string& text, std::vector<std::string>& out) const {
  // Empty text has no pieces (the reference drops empty splits before any step sees them,
  // so ByteLevel's prefix space never turns "" into " ").
  if (text.empty()) return;
  std::vector<std::string> pieces{text}, next;
  for (const Step& step : steps_) {
    next.clear();
    for (std::string& piece : pieces) {
      if (step.kind == Kind::kSplit) {
        split_piece(piece, step.regex.front(), step.behavior, step.invert, next);
        continue;
      }
      if (step.add_prefix_space && piece.front() != ' ') piece.insert(piece.begin(), ' ');
      if (step.regex.empty()) {
        next.push_back(bytes_to_unicode(piece));
      } else {
        std::vector<std::string> words;
        split_piece(piece, step.regex.front(), Behavior::kIsolated, false, words);
        for (const std::string& w : words) next.push_back(bytes_to_unicode(w));
      }
    }
    pieces.swap(next);
  }
  for (std::string& piece : pieces)
    if (!piece.empty()) out.push_back(std::move(piece));
}

}  // namespace diffuse::text
