// Running a fixture case: each component kind registers a function that computes the
// case's outputs (and, for models, its intermediate dumps) with the engine; the runner
// compares them with the golden tensors and reports.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ops/quantized_weight.h"
#include "parity/fixture_case.h"

namespace diffuse::parity {

struct RunOptions {
  bool bf16 = false;                // engine compute precision: bf16 GEMMs / attention
  // Linear weight quantization of the models loaded by cases that support it (the pipeline
  // cases): the end-to-end effect of int8 / q4 / w8a8 on the golden outputs.
  ops::QuantMode quantization = ops::QuantMode::None;
  std::optional<double> tol_cos;    // override every output's cosine bound
  std::optional<double> tol_abs;    // override every output's max-abs bound
  std::vector<std::string> flags;   // component-specific switches (e.g. a mask mode)
  bool has_flag(const std::string& f) const;
};

// One engine tensor to compare with the golden tensor of the same name.
struct Produced {
  std::string name;  // e.g. "out.sample", "dump.transformer_blocks.0.1"
  Tensor actual;
  std::optional<Tolerance> tolerance;  // default: the case's suggested tolerance
};

// Outputs in a stable order; dumps in the order the forward pass produced them.
struct ProducedSet {
  std::vector<Produced> outputs;
  std::vector<Produced> dumps;
};

using CaseFn = std::function<ProducedSet(const FixtureCase&, const RunOptions&)>;

// Finds the runner for a case: by its "class" first, then by its "kind". Null if none.
const CaseFn* find_case_runner(const FixtureCase& c);
std::vector<std::string> registered_case_runners();

struct OutputResult {
  std::string name;
  Comparison cmp;
  Tolerance tol;
  bool pass = false;
};

struct CaseResult {
  std::vector<OutputResult> outputs;
  std::vector<OutputResult> dumps;
  std::optional<std::string> first_drifting_dump;
  bool pass = false;
};

CaseResult run_case(const FixtureCase& c, const RunOptions& options);

// Human-readable table: one line per output (name, cos, max-abs, limit, PASS/FAIL), and
// for a failure the first dump that drifts. A case passes only if every output and every
// dump is within its tolerance.
std::string format_result(const FixtureCase& c, const CaseResult& r, bool all_dumps);

}  // namespace diffuse::parity
