// diffuse parity <case-dir>...: runs golden fixture cases through the engine and compares.
#include <cstdio>

#include "args.h"
#include "command.h"
#include "parity/case_runner.h"
#include "runtime/parallel.h"

namespace diffuse::cli {
namespace {

int run_parity(int argc, char** argv) {
  Args args;
  args.positional("case-dir", "fixture case folder (case.json + io.safetensors + weights)");
  args.option("dtype", "engine compute precision: f32 or bf16", "", "f32");
  args.option("quantize", "pipeline cases: quantize Linear weights at load (int8, q4 or w8a8)", "", "none");
  args.option("tol-cos", "override the minimum cosine similarity of every output");
  args.option("tol-abs", "override the maximum absolute error of every output");
  args.option("flag", "component-specific switch (repeatable as comma list)");
  args.option("threads", "worker threads (default: all cores)");
  args.flag("dumps", "also print every intermediate dump comparison");
  if (!args.parse(argc, argv, "diffuse parity <case-dir> [options]")) return 0;

  parity::RunOptions opts;
  const std::string dtype = args.get("dtype");
  DIFFUSE_CHECK(dtype == "f32" || dtype == "bf16", "--dtype must be f32 or bf16, got '", dtype, "'");
  opts.bf16 = dtype == "bf16";
  opts.quantization = ops::quant_mode_from_name(args.get("quantize"), "--quantize");
  if (args.has("tol-cos")) opts.tol_cos = args.get_double("tol-cos");
  if (args.has("tol-abs")) opts.tol_abs = args.get_double("tol-abs");
  if (args.has("threads")) set_num_threads(args.get_int("threads"));
  if (args.has("flag")) {
    std::string flags = args.get("flag");
    size_t pos = 0;
    while (pos <= flags.size()) {
      const size_t comma = flags.find(',', pos);
      const std::string f = flags.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (!f.empty()) opts.flags.push_back(f);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  const auto case_dir = args.positionals().at(0);
  const parity::FixtureCase c = parity::FixtureCase::open(case_dir);
  const parity::CaseResult r = parity::run_case(c, opts);
  std::printf("%s", parity::format_result(c, r, args.has("dumps")).c_str());
  return r.pass ? 0 : 1;
}

const Command reg("parity", "compare the engine with a golden fixture case", run_parity);

}  // namespace
}  // namespace diffuse::cli
