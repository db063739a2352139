// diffuse bench block: times one FLUX transformer block at real width on random weights and
// prints one JSON line, so the same shapes can be compared across engines and machines
// (bench/compare_pytorch.py runs PyTorch on the same block). Times come from two clocks:
// wall (ms_*) and process CPU time / threads (cpu_ms_*); on a shared machine the second is the
// steadier, and rates and the peak fractions are computed from it (the peaks are measured the
// same way, see bench_support/cpu_peak.h): peak_fraction against the fastest unit of the GEMM
// type (AMX tiles where the CPU has them), vector_peak_fraction against the AVX-512 instruction.
// diffuse bench step: one denoising step's 19 + 38 block forwards at the same width, with their
// real data flow and memory (bench_support/flux_step_bench.h); times, resident memory, faults.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "args.h"
#include "bench_support/cpu_peak.h"
#include "bench_support/flux_block_bench.h"
#include "bench_support/flux_step_bench.h"
#include "command.h"
#include "runtime/error.h"
#include "runtime/parallel.h"
#include "runtime/profiler.h"

namespace diffuse::cli {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

// The options both benchmarks take: the block shape, dtype, threads and repetitions.
void add_block_options(Args& args, const std::string& repeat_help) {
  args.option("image-tokens", "image tokens (256 / 1024 / 4096 = 256^2 / 512^2 / 1024^2 images)", "", "1024");
  args.option("text-tokens", "text tokens", "", "512");
  args.option("batch", "batch size (2 = cond + uncond of CFG)", "", "1");
  args.option("heads", "attention heads", "", "24");
  args.option("head-dim", "head width (even, >= 8); the block is heads * head-dim wide", "", "128");
  args.option("dtype", "bf16, f32 or w8a8", "", "bf16");
  args.option("threads", "worker threads (default: all cores)");
  args.option("repeat", repeat_help, "", "5");
  args.option("seed", "seed of the random weights and inputs", "", "1");
  args.flag("profile", "print the time per op category of the timed runs (stderr)");
}

// Reads add_block_options' values and applies --threads.
bench::BlockBenchSpec block_spec(const Args& args) {
  bench::BlockBenchSpec spec;
  spec.image_tokens = args.get_int("image-tokens");
  spec.text_tokens = args.get_int("text-tokens");
  spec.batch = args.get_int("batch");
  spec.heads = args.get_int("heads");
  spec.head_dim = args.get_int("head-dim");
  spec.options = bench::block_dtype_options(args.get("dtype"));
  spec.repeat = args.get_int("repeat");
  spec.seed = static_cast<uint32_t>(args.get_int("seed"));
  spec.profile = args.has("profile");
  if (args.has("threads")) {
    const int threads = args.get_int("threads");
    DIFFUSE_CHECK(threads >= 1, "--threads must be at least 1, got ", threads);
    set_num_threads(threads);
  }
  return spec;
}

void put_shape(nlohmann::ordered_json& j, const bench::BlockBenchSpec& spec, const std::string& dtype) {
  j["image_tokens"] = spec.image_tokens;
  j["text_tokens"] = spec.text_tokens;
  j["batch"] = spec.batch;
  j["heads"] = spec.heads;
  j["head_dim"] = spec.head_dim;
  j["dtype"] = dtype;
}

// The --profile table of the timed runs, summed over them (the "transformer" component is the runs).
void print_profile_if(bool profile, int repeat) {
  if (!profile) return;
  std::fprintf(stderr, "profile of %d timed run(s), wall time summed over them:\n%s", repeat,
               format_profile_table(profile_table(profile_records())).c_str());
}

double mib(size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// <prefix>_kind, <prefix>_gflops (measured now, on `threads` threads) and <prefix>_fraction (null
// when the CPU lacks the instruction) of one instruction peak.
void put_peak(nlohmann::ordered_json& j, const std::string& prefix, bench::PeakKind kind, int threads,
              double gflops) {
  const double peak = bench::measure_peak_gflops(kind, threads);
  j[prefix + "_kind"] = bench::peak_kind_name(kind);
  j[prefix + "_gflops"] = peak;
  j[prefix + "_fraction"] = peak > 0 ? nlohmann::ordered_json(gflops / peak) : nlohmann::ordered_json(nullptr);
}

// The timing fields both benchmarks print; gflops comes from the median CPU time.
void put_timings(nlohmann::ordered_json& j, const bench::BlockTimings& t, int repeat, double gflop) {
  j["threads"] = t.threads;
  j["repeat"] = repeat;
  j["ms_min"] = 1e3 * min_of(t.wall_s);
  j["ms_median"] = 1e3 * median(t.wall_s);
  j["cpu_ms_min"] = 1e3 * min_of(t.cpu_s);
  j["cpu_ms_median"] = 1e3 * median(t.cpu_s);
  j["gflop"] = gflop;
  j["gflops"] = gflop / median(t.cpu_s);
}

int run_block_bench(int argc, char** argv) {
  Args args;
  args.positional("what", "block");
  args.option("arch", "flux-double or flux-single", "", "flux-double");
  add_block_options(args, "timed forwards after one warm-up");
  if (!args.parse(argc, argv, "diffuse bench block [--arch flux-double|flux-single] [options]")) return 0;
  DIFFUSE_CHECK(args.positionals().size() == 1 && args.positionals()[0] == "block",
                "unknown benchmark (expected `diffuse bench block` or `diffuse bench step`)");

  bench::BlockBenchSpec spec = block_spec(args);
  spec.arch = bench::block_arch_from_name(args.get("arch"));
  const std::string dtype = args.get("dtype");

  const bench::BlockTimings t = bench::time_flux_block(spec);
  const bench::GemmType type = spec.options.quantization == ops::QuantMode::W8A8 ? bench::GemmType::Int8
                               : spec.options.precision == models::Precision::BF16 ? bench::GemmType::BF16
                                                                                   : bench::GemmType::F32;
  const double gflop = bench::block_flops(spec) / 1e9;
  const double gflops = gflop / median(t.cpu_s);
  nlohmann::ordered_json j;
  j["arch"] = bench::block_arch_name(spec.arch);
  put_shape(j, spec, dtype);
  put_timings(j, t, spec.repeat, gflop);
  j["gflops_wall"] = gflop / median(t.wall_s);
  // The peaks are measured after the block so the timed forwards do not follow a burst of
  // AVX-512 / AMX loops; they run on the same threads.
  put_peak(j, "peak", bench::gemm_peak_kind(type), t.threads, gflops);
  put_peak(j, "vector_peak", bench::vector_peak_kind(type), t.threads, gflops);
  j["peak_rss_mib"] = mib(t.peak_rss_bytes);
  j["activation_rss_mib"] = mib(t.peak_rss_bytes - t.peak_rss_before_bytes);
  j["minor_faults"] = t.minor_faults;  // per timed forward
  j["engine"] = "diffuse";
  std::printf("%s\n", j.dump().c_str());
  print_profile_if(spec.profile, spec.repeat);
  return 0;
}

int run_step_bench(int argc, char** argv) {
  Args args;
  args.positional("what", "step");
  args.option("double-blocks", "double-stream block forwards per step", "", "19");
  args.option("single-blocks", "single-stream block forwards per step", "", "38");
  add_block_options(args, "timed steps after one warm-up step");
  if (!args.parse(argc, argv, "diffuse bench step [options]")) return 0;

  bench::StepBenchSpec spec;
  spec.blocks = block_spec(args);
  spec.double_blocks = args.get_int("double-blocks");
  spec.single_blocks = args.get_int("single-blocks");
  const std::string dtype = args.get("dtype");

  const bench::StepMeasurement m = bench::time_flux_step(spec);
  const bench::BlockTimings& t = m.timings;
  const double gflop = bench::step_flops(spec) / 1e9;
  nlohmann::ordered_json j;
  j["bench"] = "flux-step";
  put_shape(j, spec.blocks, dtype);
  j["double_blocks"] = spec.double_blocks;
  j["single_blocks"] = spec.single_blocks;
  put_timings(j, t, spec.blocks.repeat, gflop);
  j["weights_mib"] = mib(m.weight_bytes);
  j["peak_rss_mib"] = mib(m.peak_rss_bytes);
  j["activation_rss_mib"] = mib(m.peak_rss_bytes - std::min(m.peak_rss_bytes, m.resident_before_bytes));
  j["peak_reset"] = m.peak_reset;
  j["minor_faults"] = t.minor_faults;  // per timed step
  j["buffer_hits"] = m.buffer_hits;    // per timed step
  j["buffer_misses"] = m.buffer_misses;
  j["engine"] = "diffuse";
  std::printf("%s\n", j.dump().c_str());
  print_profile_if(spec.blocks.profile, spec.blocks.repeat);
  return 0;
}

int run_bench(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "step") == 0) return run_step_bench(argc, argv);
  return run_block_bench(argc, argv);
}

const Command reg("bench", "benchmark one transformer block or one denoising step on random weights (JSON line)",
                  run_bench);

}  // namespace
}  // namespace diffuse::cli
