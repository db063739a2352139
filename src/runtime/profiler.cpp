#include "runtime/profiler.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

namespace diffuse {

namespace {

// Deeper nesting than this is counted in the deepest recorded scope (no real call chain gets near).
constexpr int kMaxDepth = 32;

// The names of the scopes open on this thread, outermost first.
struct ScopeStack {
  const char* names[kMaxDepth];
  int depth = 0;
};
thread_local ScopeStack stack;

struct Accumulated {
  double seconds = 0;
  int64_t calls = 0;
};

struct Store {
  std::mutex mutex;
  std::map<std::vector<std::string>, Accumulated> by_path;
  std::vector<std::string> component_order;  // top-level names, first recorded first
};

Store& store() {
  static Store s;
  return s;
}

}  // namespace

void set_profiling(bool on) { profiler_detail::enabled.store(on, std::memory_order_relaxed); }

void reset_profile() {
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.by_path.clear();
  s.component_order.clear();
}

void ProfileScope::open(const char* name) noexcept {
  if (omp_in_parallel()) return;  // a worker inside an op: the op's caller counts the time
  ScopeStack& st = stack;
  if (st.depth == kMaxDepth) return;
  if (st.depth > 0 && std::strcmp(st.names[st.depth - 1], name) == 0) return;  // transparent
  st.names[st.depth++] = name;
  open_ = true;
  start_ = std::chrono::steady_clock::now();
}

void ProfileScope::close() noexcept {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  ScopeStack& st = stack;
  try {
    std::vector<std::string> path(st.names, st.names + st.depth);
    Store& s = store();
    std::lock_guard<std::mutex> lock(s.mutex);
    if (std::find(s.component_order.begin(), s.component_order.end(), path.front()) == s.component_order.end()) {
      s.component_order.push_back(path.front());
    }
    Accumulated& a = s.by_path[std::move(path)];
    a.seconds += seconds;
    ++a.calls;
  } catch (...) {
    // Out of memory while recording: the sample is lost, the computation is not disturbed.
  }
  --st.depth;
}

std::vector<ProfileRecord> profile_records() {
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mutex);
  std::vector<ProfileRecord> out;
  for (const std::string& component : s.component_order) {
    // Paths are ordered lexicographically, so a component's own path comes first, then its
    // sub-paths, contiguously.
    for (auto it = s.by_path.lower_bound({component}); it != s.by_path.end() && it->first.front() == component;
         ++it) {
      out.push_back({it->first, it->second.seconds, it->second.calls});
    }
  }
  return out;
}

ProfileTable profile_table(const std::vector<ProfileRecord>& records) {
  ProfileTable table;
  for (const ProfileRecord& r : records) {
    if (r.path.empty() || r.path.size() > 2) continue;  // deeper paths are inside their level-2 part
    auto it = std::find_if(table.components.begin(), table.components.end(),
                           [&](const ProfileComponent& c) { return c.total.name == r.path[0]; });
    if (it == table.components.end()) {
      table.components.emplace_back();
      it = table.components.end() - 1;
      it->total.name = r.path[0];
    }
    if (r.path.size() == 1) {
      it->total.seconds += r.seconds;
      it->total.calls += r.calls;
    } else {
      it->parts.push_back({r.path[1], r.seconds, r.calls, 0, 0});
    }
  }
  for (ProfileComponent& c : table.components) {
    double in_parts = 0;
    for (const ProfileRow& p : c.parts) in_parts += p.seconds;
    // A component still open when the records were taken has parts but no (or a partial) total.
    c.total.seconds = std::max(c.total.seconds, in_parts);
    std::stable_sort(c.parts.begin(), c.parts.end(),
                     [](const ProfileRow& a, const ProfileRow& b) { return a.seconds > b.seconds; });
    if (!c.parts.empty()) c.parts.push_back({"other", std::max(0.0, c.total.seconds - in_parts), 0, 0, 0});
    table.total_seconds += c.total.seconds;
  }
  const auto percent = [](double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; };
  for (ProfileComponent& c : table.components) {
    c.total.percent_of_component = 100.0;
    c.total.percent_of_total = percent(c.total.seconds, table.total_seconds);
    for (ProfileRow& p : c.parts) {
      p.percent_of_component = percent(p.seconds, c.total.seconds);
      p.percent_of_total = percent(p.seconds, table.total_seconds);
    }
  }
  return table;
}

std::string format_profile_table(const ProfileTable& table) {
  if (table.components.empty()) return "(no profiled scopes ran)\n";
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%-26s %10s %9s %8s %8s\n", "scope", "time (s)", "calls", "% comp", "% total");
  out += line;
  const auto row = [&](const ProfileRow& r, const char* indent) {
    const std::string name = indent + r.name;
    if (r.calls > 0) {
      std::snprintf(line, sizeof line, "%-26s %10.3f %9lld %8.1f %8.1f\n", name.c_str(), r.seconds,
                    static_cast<long long>(r.calls), r.percent_of_component, r.percent_of_total);
    } else {
      std::snprintf(line, sizeof line, "%-26s %10.3f %9s %8.1f %8.1f\n", name.c_str(), r.seconds, "-",
                    r.percent_of_component, r.percent_of_total);
    }
    out += line;
  };
  for (const ProfileComponent& c : table.components) {
    row(c.total, "");
    for (const ProfileRow& p : c.parts) row(p, "  ");
  }
  std::snprintf(line, sizeof line, "%-26s %10.3f %9s %8s %8.1f\n", "total", table.total_seconds, "", "", 100.0);
  out += line;
  return out;
}

}  // namespace diffuse
