#include "io/weight_binder.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "io/quantized_tensors.h"
#include "runtime/error.h"

namespace diffuse::io {

struct WeightBinder::Ledger {
  std::optional<WeightSource> source;  // empty in expected-only mode
  std::vector<Expected> expected;
  std::map<std::string, size_t> taken;  // name -> index in expected
  std::set<std::string> counted;        // names in the expected count (present, or required)
  std::set<std::string> matched;
  std::set<std::string> companions;  // scales / biases of quantized weights that were taken
  std::vector<Mismatch> missing, wrong_shape;
  std::vector<std::string> unexpected;
  std::vector<std::string> ignore_patterns;
};

bool glob_match(const std::string& pattern, const std::string& text) {
  // Iterative matcher: on a mismatch, retry from the last '*' one character further.
  size_t p = 0, t = 0, star = std::string::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

WeightBinder::WeightBinder(WeightSource source) : ledger_(std::make_shared<Ledger>()) {
  ledger_->source = std::move(source);
}

WeightBinder::WeightBinder(std::shared_ptr<Ledger> ledger, std::string prefix)
    : ledger_(std::move(ledger)), prefix_(std::move(prefix)) {}

WeightBinder WeightBinder::expected_only() { return WeightBinder(std::make_shared<Ledger>(), ""); }

WeightBinder WeightBinder::scope(const std::string& prefix) const {
  std::string p = prefix_ + prefix;
  if (!p.empty() && p.back() != '.') p += '.';
  return WeightBinder(ledger_, p);
}

bool WeightBinder::binding() const { return ledger_->source.has_value(); }

bool WeightBinder::has(const std::string& name) const {
  return binding() && ledger_->source->contains(prefix_ + name);
}

Tensor WeightBinder::take(const std::string& name, const Shape& shape) {
  return take_impl(name, shape, false);
}

Tensor WeightBinder::take_optional(const std::string& name, const Shape& shape) {
  return take_impl(name, shape, true);
}

Tensor WeightBinder::take_impl(const std::string& name, const Shape& shape, bool optional) {
  Ledger& l = *ledger_;
  const std::string full = prefix_ + name;
  auto [it, first_take] = l.taken.emplace(full, l.expected.size());
  if (first_take) {
    l.expected.push_back({full, shape, optional, false});
  } else if (!optional) {
    l.expected[it->second].optional = false;  // required by at least one taker
  }
  if (!binding()) return Tensor();

  const TensorInfo* info =
      l.source->contains(full) ? &l.source->info(full) : nullptr;
  if (!info) {
    if (optional) return Tensor();
    if (l.counted.insert(full).second) l.missing.push_back({full, shape, {}, {}});
    return Tensor();
  }
  l.counted.insert(full);
  if (info->shape != shape) {
    const bool known = std::any_of(l.wrong_shape.begin(), l.wrong_shape.end(), [&](const Mismatch& m) {
      return m.name == full && m.expected == shape;
    });
    if (!known) l.wrong_shape.push_back({full, shape, info->shape, {}});
    return Tensor();
  }
  l.matched.insert(full);
  return l.source->tensor(full);
}

WeightBinder::LinearWeight WeightBinder::take_linear_weight(const std::string& name, const Shape& shape) {
  Ledger& l = *ledger_;
  const std::string full = prefix_ + name;
  const bool quantized =
      binding() && stored_weight_kind(*l.source, full) != StoredWeightKind::Float;
  LinearWeight out;
  if (!quantized) {
    out.weight = take_impl(name, shape, false);
  } else {
    auto [it, first_take] = l.taken.emplace(full, l.expected.size());
    if (first_take) l.expected.push_back({full, shape, false, true});
    l.expected[it->second].optional = false;
    l.counted.insert(full);
    const StoredWeightKind kind = stored_weight_kind(*l.source, full);
    for (const std::string& c : companion_names(full, kind)) l.companions.insert(c);
    try {
      out.quantized = read_quantized_weight(*l.source, full, shape);
      l.matched.insert(full);
    } catch (const Error& e) {
      const bool known = std::any_of(l.wrong_shape.begin(), l.wrong_shape.end(),
                                     [&](const Mismatch& m) { return m.name == full; });
      const Shape actual = l.source->contains(full) ? l.source->info(full).shape : Shape{};
      if (!known) l.wrong_shape.push_back({full, shape, actual, e.what()});
    }
  }
  l.expected[l.taken.at(full)].linear_weight = true;
  return out;
}

void WeightBinder::release(const std::string& name) const {
  if (binding() && ledger_->source->contains(prefix_ + name)) ledger_->source->release_pages(prefix_ + name);
}

void WeightBinder::ignore(const std::string& pattern) { ledger_->ignore_patterns.push_back(pattern); }

void WeightBinder::finish() {
  Ledger& l = *ledger_;
  l.unexpected.clear();
  if (!binding()) return;
  for (const std::string& name : l.source->names()) {
    if (l.taken.count(name) || l.companions.count(name)) continue;
    const bool ignored = std::any_of(l.ignore_patterns.begin(), l.ignore_patterns.end(),
                                     [&](const std::string& p) { return glob_match(p, name); });
    if (!ignored) l.unexpected.push_back(name);
  }
}

size_t WeightBinder::matched_count() const {
  // A name taken twice with different shapes is matched once and mismatched once: it
  // does not count as matched.
  size_t n = 0;
  for (const auto& name : ledger_->matched) {
    const bool also_wrong = std::any_of(ledger_->wrong_shape.begin(), ledger_->wrong_shape.end(),
                                        [&](const Mismatch& m) { return m.name == name; });
    n += also_wrong ? 0 : 1;
  }
  return n;
}

size_t WeightBinder::expected_count() const {
  return binding() ? ledger_->counted.size() : ledger_->expected.size();
}

const std::vector<WeightBinder::Expected>& WeightBinder::expected() const { return ledger_->expected; }
const std::vector<WeightBinder::Mismatch>& WeightBinder::missing() const { return ledger_->missing; }
const std::vector<WeightBinder::Mismatch>& WeightBinder::wrong_shape() const {
  return ledger_->wrong_shape;
}
const std::vector<std::string>& WeightBinder::unexpected() const { return ledger_->unexpected; }

bool WeightBinder::ok() const {
  const_cast<WeightBinder*>(this)->finish();
  return binding() && ledger_->missing.empty() && ledger_->wrong_shape.empty() &&
         ledger_->unexpected.empty();
}

std::string WeightBinder::report() const {
  const_cast<WeightBinder*>(this)->finish();
  const Ledger& l = *ledger_;
  if (!binding()) return str_cat(l.expected.size(), " tensors expected (no weights bound)\n");
  std::string out = str_cat(matched_count(), "/", expected_count(), " tensors matched\n");
  auto sorted = [](std::vector<Mismatch> v) {
    std::stable_sort(v.begin(), v.end(), [](const Mismatch& a, const Mismatch& b) { return a.name < b.name; });
    return v;
  };
  for (const auto& m : sorted(l.missing))
    out += str_cat("missing: ", printable(m.name), " (expected ", shape_str(m.expected), ")\n");
  for (const auto& m : sorted(l.wrong_shape))
    out += m.problem.empty() ? str_cat("wrong shape: ", printable(m.name), " is ", shape_str(m.actual), ", expected ",
                                       shape_str(m.expected), "\n")
                             : str_cat("wrong shape: ", m.problem, "\n");
  for (const auto& name : l.unexpected) out += str_cat("unexpected: ", printable(name), "\n");
  return out;
}

void WeightBinder::check() const {
  if (ok()) return;
  DIFFUSE_CHECK(binding(), "weights were not bound (expected-only binder)");
  // One line: the counts, then the first few problems.
  std::string text = report();
  std::vector<std::string> lines;
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::string msg = str_cat(ledger_->source->origin(), ": weights do not match the model: ", lines[0]);
  const size_t shown = std::min<size_t>(lines.size(), 4);
  for (size_t i = 1; i < shown; ++i) msg += "; " + lines[i];
  if (lines.size() > shown) msg += str_cat("; and ", lines.size() - shown, " more");
  fail(msg);
}

}  // namespace diffuse::io
