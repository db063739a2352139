#include "parity/case_runner.h"

#include <algorithm>
#include <cstdio>

namespace diffuse::parity {

bool RunOptions::has_flag(const std::string& f) const {
  return std::find(flags.begin(), flags.end(), f) != flags.end();
}

namespace {

OutputResult check(const FixtureCase& c, const Produced& p, const RunOptions& o) {
  OutputResult r;
  r.name = p.name;
  r.tol = p.tolerance.value_or(c.suggested_tolerance(o.bf16));
  if (o.tol_cos) r.tol.min_cos = *o.tol_cos;
  if (o.tol_abs) {
    r.tol.max_abs = *o.tol_abs;
    r.tol.max_rel = -1;
  }
  r.cmp = compare(p.actual, c.tensor(p.name));
  r.pass = within(r.cmp, r.tol);
  return r;
}

}  // namespace

CaseResult run_case(const FixtureCase& c, const RunOptions& options) {
  const CaseFn* fn = find_case_runner(c);
  DIFFUSE_CHECK(fn, c.dir(), ": no runner for case class '", c.class_name(), "' / kind '", c.kind(),
                "'");
  const ProducedSet produced = (*fn)(c, options);
  DIFFUSE_CHECK(!produced.outputs.empty(), c.dir(), ": the runner produced no outputs");
  CaseResult result;
  result.pass = true;
  for (const auto& p : produced.outputs) {
    result.outputs.push_back(check(c, p, options));
    result.pass = result.pass && result.outputs.back().pass;
  }
  for (const auto& p : produced.dumps) {
    result.dumps.push_back(check(c, p, options));
    if (!result.dumps.back().pass && !result.first_drifting_dump) {
      result.first_drifting_dump = p.name;
      result.pass = false;  // parity covers the intermediate layers, not only the outputs
    }
  }
  return result;
}

namespace {

std::string line(const OutputResult& r) {
  char buf[512];
  if (!r.cmp.shape_ok) {
    std::snprintf(buf, sizeof buf, "  %-48s shape mismatch  FAIL\n", r.name.c_str());
  } else {
    const std::string ulp = r.tol.max_ulp >= 0 ? " ulp " + std::to_string(r.cmp.max_ulp) : "";
    std::snprintf(buf, sizeof buf, "  %-40s cos %.8f  max_abs %.3e%s  (limit cos>=%.7g abs<=%.2e)%s  %s\n",
                  r.name.c_str(), r.cmp.cos, r.cmp.max_abs, ulp.c_str(), r.tol.min_cos,
                  r.tol.abs_limit(r.cmp.ref_absmax), r.cmp.finite ? "" : "  NON-FINITE",
                  r.pass ? "ok" : "FAIL");
  }
  return buf;
}

}  // namespace

std::string format_result(const FixtureCase& c, const CaseResult& r, bool all_dumps) {
  std::string s = c.dir() + " (" + (c.class_name().empty() ? c.kind() : c.class_name()) + ")\n";
  for (const auto& o : r.outputs) s += line(o);
  if (all_dumps) {
    if (!r.dumps.empty()) s += " dumps:\n";
    for (const auto& d : r.dumps) s += line(d);
  }
  if (!r.pass && r.first_drifting_dump) {
    s += " first drifting dump: " + *r.first_drifting_dump + "\n";
  }
  s += r.pass ? "PASS\n" : "FAIL\n";
  return s;
}

}  // namespace diffuse::parity
