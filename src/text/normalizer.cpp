#include "text/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

#include "io/printable.h"
#include "runtime/error.h"
#include "text/tokenizer_json_fields.h"
#include "text/utf8_codec.h"

namespace diffuse::text {

namespace {

std::string unicode_form(const std::string& text, int options, const char* name) {
  if (text.empty()) return text;
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                          static_cast<utf8proc_ssize_t>(text.size()), &out,
                                          static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  if (n < 0) {
    std::free(out);
    fail("normalizer ", name, ": ", utf8proc_errmsg(n));
  }
  std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

bool is_cased(char32_t cp) {
  const auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

// Unicode Case_Ignorable: marks, format characters, modifiers and the word-internal
// punctuation of Word_Break MidLetter / MidNumLet / Single_Quote.
bool is_case_ignorable(char32_t cp) {
  switch (cp) {
    case U'\'': case U'.': case U':': case 0xB7: case 0x2018: case 0x2019: case 0x2024: case 0x2027:
    case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
      return true;
    default:
      break;
  }
  const auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_ME || c == UTF8PROC_CATEGORY_CF ||
         c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_SK;
}

// Final_Sigma (Unicode SpecialCasing): a cased letter before (skipping case-ignorables)
// and none after.
bool is_final_sigma(const std::vector<char32_t>& cps, size_t i) {
  bool cased_before = false;
  for (size_t j = i; j-- > 0;) {
    if (is_case_ignorable(cps[j])) continue;
    cased_before = is_cased(cps[j]);
    break;
  }
  if (!cased_before) return false;
  for (size_t j = i + 1; j < cps.size(); ++j) {
    if (is_case_ignorable(cps[j])) continue;
    return !is_cased(cps[j]);
  }
  return true;
}

std::string strip_whitespace(const std::string& text, bool left, bool right) {
  std::vector<size_t> starts;  // character starts, for stripping from the right
  size_t begin = 0, end = text.size();
  if (left) {
    while (begin < end) {
      const CodePoint cp = decode_utf8_at(text, begin);
      if (!is_unicode_whitespace(cp.value)) break;
      begin += cp.length;
    }
  }
  if (right) {
    for (size_t pos = begin; pos < end;) {
      starts.push_back(pos);
      pos += decode_utf8_at(text, pos).length;
    }
    while (!starts.empty() && is_unicode_whitespace(decode_utf8_at(text, starts.back()).value)) {
      end = starts.back();
      starts.pop_back();
    }
  }
  return text.substr(begin, end - begin);
}

std::string replace_all(const std::string& text, const TextRegex& pattern, const std::string& content) {
  std::string out;
  size_t done = 0;
  for (const MatchSpan& m : pattern.find_all(text)) {
    out.append(text, done, m.begin - done);
    out += content;
    done = m.end;
  }
  out.append(text, done, std::string::npos);
  return out;
}

}  // namespace

std::string unicode_lowercase(const std::string& text) {
  std::vector<char32_t> cps;
  cps.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const CodePoint cp = decode_utf8_at(text, pos);
    cps.push_back(cp.value);
    pos += cp.length;
  }
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t cp = cps[i];
    if (cp == 0x130) {  // the one unconditional one-to-many lowercase mapping
      out += 'i';
      append_utf8(out, 0x307);
    } else if (cp == 0x3A3) {
      append_utf8(out, is_final_sigma(cps, i) ? 0x3C2 : 0x3C3);
    } else {
      append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
    }
  }
  return out;
}

void Normalizer::append_steps(const io::Json& spec, const std::string& context, std::vector<Step>& out) {
  const std::string type = component_type(spec, context);
  const std::string where = str_cat(context, ": normalizer ", type);
  if (type == "Sequence") {
    const io::Json& list = required_array(spec, "normalizers", where);
    for (const io::Json& item : list) append_steps(item, context, out);
  } else if (type == "NFC") {
    out.push_back({Kind::kNfc, {}, {}});
  } else if (type == "NFD") {
    out.push_back({Kind::kNfd, {}, {}});
  } else if (type == "NFKC") {
    out.push_back({Kind::kNfkc, {}, {}});
  } else if (type == "NFKD") {
    out.push_back({Kind::kNfkd, {}, {}});
  } else if (type == "Lowercase") {
    out.push_back({Kind::kLowercase, {}, {}});
  } else if (type == "Replace") {
    Step step{Kind::kReplace, {}, io::require_string(spec, "content", where)};
    step.pattern.push_back(pattern_field(spec, where));
    out.push_back(std::move(step));
  } else if (type == "Strip") {
    Step step{Kind::kStrip, {}, {}};
    step.strip_left = io::get_bool(spec, "strip_left", true, where);
    step.strip_right = io::get_bool(spec, "strip_right", true, where);
    out.push_back(std::move(step));
  } else {
    fail(context, ": normalizer type '", io::printable(type),
         "' is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, Replace, Strip, Sequence)");
  }
}

Normalizer Normalizer::from_json(const io::Json& spec, const std::string& context) {
  Normalizer n;
  if (!spec.is_null()) append_steps(spec, context, n.steps_);
  return n;
}

std::string Normalizer::apply(std::string text) const {
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::kNfc: text = unicode_form(text, UTF8PROC_COMPOSE, "NFC"); break;
      case Kind::kNfd: text = unicode_form(text, UTF8PROC_DECOMPOSE, "NFD"); break;
      case Kind::kNfkc: text = unicode_form(text, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, "NFKC"); break;
      case Kind::kNfkd: text = unicode_form(text, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, "NFKD"); break;
      case Kind::kLowercase: text = unicode_lowercase(text); break;
      case Kind::kReplace: text = replace_all(text, step.pattern.front(), step.content); break;
      case Kind::kStrip: text = strip_whitespace(text, step.strip_left, step.strip_right); break;
    }
  }
  return text;
}

}  // namespace diffuse::text
