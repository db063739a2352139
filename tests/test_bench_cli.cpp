// `diffuse bench block` and `diffuse bench step` run as a user would run them, at tiny widths: one
// JSON line with the required keys, a FLOP count equal to the sum of the block's Linear shapes plus
// the attention core (counted here layer by layer, independently of the formula in bench_support),
// weight bytes counted tensor by tensor, figures that agree with each other, and clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_safetensors_helpers.h"

namespace diffuse::testing {
namespace {

using nlohmann::json;

const char* kTiny = " --heads 2 --head-dim 16 --image-tokens 16 --text-tokens 8 --repeat 1";

// stdout must be exactly one line, and that line one JSON object.
json single_json_line(const CliResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "more than one line: " << r.out;
  return json::parse(r.out);
}

struct Linear {
  double tokens, in, out;
};

// 2 * tokens * in * out per Linear + 4 * L^2 * D for QK^T and PV.
double flops_of(const std::vector<Linear>& linears, double joint_tokens, double dim) {
  double f = 4.0 * joint_tokens * joint_tokens * dim;
  for (const Linear& l : linears) f += 2.0 * l.tokens * l.in * l.out;
  return f;
}

double double_block_flops(double txt, double img, double d) {
  std::vector<Linear> linears;
  for (double tokens : {txt, img}) {  // each stream has its own weights
    for (int i = 0; i < 4; ++i) linears.push_back({tokens, d, d});  // q, k, v, attention out
    linears.push_back({tokens, d, 4 * d});                         // MLP in
    linears.push_back({tokens, 4 * d, d});                         // MLP out
  }
  return flops_of(linears, txt + img, d);
}

double single_block_flops(double txt, double img, double d) {
  const double l = txt + img;
  return flops_of({{l, d, d}, {l, d, d}, {l, d, d}, {l, d, 4 * d}, {l, 5 * d, d}}, l, d);
}

// <prefix>_fraction = gflops / <prefix>_gflops, or null when <prefix>_kind is "none".
void expect_fraction_of_peak(const json& j, const std::string& prefix) {
  if (j[prefix + "_kind"] == "none") {
    EXPECT_TRUE(j[prefix + "_fraction"].is_null()) << prefix;
    return;
  }
  const double peak = j[prefix + "_gflops"].get<double>();
  ASSERT_GT(peak, 0.0) << prefix;
  EXPECT_NEAR(j[prefix + "_fraction"].get<double>(), j["gflops"].get<double>() / peak, 1e-9) << prefix;
}

void expect_consistent(const json& j, const std::string& dtype) {
  for (const char* key : {"arch", "image_tokens", "text_tokens", "dtype", "threads", "peak_gflops", "peak_kind",
                          "gflops", "gflop", "ms_min", "ms_median", "cpu_ms_median", "peak_fraction", "minor_faults",
                          "vector_peak_kind", "vector_peak_gflops", "vector_peak_fraction"})
    ASSERT_TRUE(j.contains(key)) << key << " missing in " << j.dump();
  EXPECT_GE(j["minor_faults"].get<double>(), 0.0);
  EXPECT_EQ(j["dtype"], dtype);
  EXPECT_GE(j["threads"].get<int>(), 1);
  EXPECT_GT(j["ms_min"].get<double>(), 0.0);
  EXPECT_LE(j["ms_min"].get<double>(), j["ms_median"].get<double>());
  EXPECT_GT(j["cpu_ms_median"].get<double>(), 0.0);
  const double gflops = j["gflops"].get<double>();
  EXPECT_NEAR(gflops, j["gflop"].get<double>() / (j["cpu_ms_median"].get<double>() / 1e3), 1e-9 * gflops);
  const std::string kind = j["peak_kind"];
  if (dtype == "bf16")
    EXPECT_TRUE(kind == "amx_bf16" || kind == "avx512_bf16_dot" || kind == "none") << kind;
  else if (dtype == "w8a8")  // the Linear layers run int8 x int8: the int8 instruction peak
    EXPECT_TRUE(kind == "amx_int8" || kind == "avx512_vnni_int8" || kind == "none") << kind;
  else
    EXPECT_TRUE(kind == "fma_f32" || kind == "none") << kind;
  expect_fraction_of_peak(j, "peak");
  // The AVX-512 instruction of the same type, reported beside the tile peak.
  const std::string vector_kind = j["vector_peak_kind"];
  const char* want = dtype == "bf16" ? "avx512_bf16_dot" : dtype == "w8a8" ? "avx512_vnni_int8" : "fma_f32";
  EXPECT_TRUE(vector_kind == want || vector_kind == "none") << vector_kind;
  expect_fraction_of_peak(j, "vector_peak");
}

TEST(BenchBlockCli, DoubleBlockJsonLineCountsEveryLinearAndAttention) {
  const json j = single_json_line(run_cli(std::string("bench block --arch flux-double") + kTiny));
  expect_consistent(j, "bf16");
  EXPECT_EQ(j["arch"], "flux-double");
  EXPECT_EQ(j["image_tokens"], 16);
  EXPECT_EQ(j["text_tokens"], 8);
  const double expected = double_block_flops(8, 16, 32) / 1e9;
  EXPECT_NEAR(j["gflop"].get<double>(), expected, 1e-12 * expected);
}

TEST(BenchBlockCli, SingleBlockF32BatchTwoScalesTheCount) {
  const json j = single_json_line(
      run_cli(std::string("bench block --arch flux-single --dtype f32 --batch 2 --threads 1") + kTiny));
  expect_consistent(j, "f32");
  EXPECT_EQ(j["arch"], "flux-single");
  EXPECT_EQ(j["threads"], 1);
  const double expected = 2 * single_block_flops(8, 16, 32) / 1e9;
  EXPECT_NEAR(j["gflop"].get<double>(), expected, 1e-12 * expected);
}

TEST(BenchBlockCli, W8A8Runs) {
  // 64 wide: the block's Linear layers reach the W8A8 minimum K (ops::kW8A8MinInFeatures).
  const json j = single_json_line(
      run_cli("bench block --dtype w8a8 --heads 2 --head-dim 32 --image-tokens 16 --text-tokens 8 --repeat 1"));
  expect_consistent(j, "w8a8");
}

TEST(BenchBlockCli, RejectsUnknownChoices) {
  const CliResult arch = run_cli(std::string("bench block --arch sd3") + kTiny);
  EXPECT_NE(arch.exit_code, 0);
  EXPECT_NE(arch.err.find("'sd3'"), std::string::npos) << arch.err;

  const CliResult what = run_cli("bench model");
  EXPECT_NE(what.exit_code, 0);
  EXPECT_NE(what.err.find("bench block"), std::string::npos) << what.err;

  const CliResult odd = run_cli("bench block --heads 2 --head-dim 7 --image-tokens 4 --text-tokens 2 --repeat 1");
  EXPECT_NE(odd.exit_code, 0);
  EXPECT_NE(odd.err.find("head_dim"), std::string::npos) << odd.err;
}

// --profile: the JSON line on stdout as before, and on stderr the timed forwards by op category,
// each part called as often as the block calls it (6 q / k / v projections per double forward).
TEST(BenchBlockCli, ProfileCountsTheTimedForwardsPerOpCategory) {
  const CliResult r = run_cli("bench block --arch flux-double --heads 2 --head-dim 16 --image-tokens 16 "
                              "--text-tokens 8 --repeat 3 --profile");
  single_json_line(r);
  std::map<std::string, std::pair<double, int64_t>> rows;  // name -> (seconds, calls)
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string name;
    double seconds;
    int64_t calls;
    if (fields >> name >> seconds >> calls) rows[name] = {seconds, calls};
  }
  const std::map<std::string, int64_t> want_calls = {{"transformer", 3},   {"gemm.qkv", 18},      {"gemm.out_proj", 6},
                                                     {"gemm.ffn_up", 6},   {"gemm.ffn_down", 6},  {"attention", 3}};
  double parts = 0;
  for (const auto& [name, calls] : want_calls) {
    ASSERT_TRUE(rows.count(name)) << name << " missing in\n" << r.err;
    EXPECT_EQ(rows[name].second, calls) << name;
    if (name != "transformer") parts += rows[name].first;
  }
  EXPECT_LE(parts, rows["transformer"].first + 1e-3);
}

// bf16 bytes of one double block (two streams) and one single block without adaLN linears, tensor by
// tensor: D x D q / k / v / out with biases, QK-norm scales, the D -> 4D -> D MLP with biases; single:
// q / k / v, proj_mlp D -> 4D, proj_out 5D -> D, all with biases, and its QK-norm scales.
double step_weight_bytes(double d, double head_dim) {
  const double stream = 4 * (d * d + d) + 2 * head_dim + (4 * d * d + 4 * d) + (4 * d * d + d);
  const double single = 3 * (d * d + d) + 2 * head_dim + (4 * d * d + 4 * d) + (5 * d * d + d);
  return 2 * (2 * stream + single);
}

TEST(BenchStepCli, JsonLineCountsTheStepsBlocksAndMemory) {
  // Tokens enough for activations above the buffer pool's threshold, width tiny for speed.
  const json j = single_json_line(run_cli(
      "bench step --heads 2 --head-dim 16 --image-tokens 4096 --text-tokens 512 --batch 2 --double-blocks 2 "
      "--single-blocks 3 --repeat 2 --threads 2"));
  for (const char* key : {"ms_min", "ms_median", "cpu_ms_min", "cpu_ms_median", "gflop", "gflops", "weights_mib",
                          "peak_rss_mib", "activation_rss_mib"}) {
    ASSERT_TRUE(j.contains(key)) << key << " missing in " << j.dump();
    EXPECT_GT(j[key].get<double>(), 0.0) << key;
  }
  for (const char* key : {"minor_faults", "buffer_hits", "buffer_misses"}) {
    ASSERT_TRUE(j.contains(key)) << key << " missing in " << j.dump();
    EXPECT_GE(j[key].get<double>(), 0.0) << key;
  }
  EXPECT_EQ(j["double_blocks"], 2);
  EXPECT_EQ(j["single_blocks"], 3);
  EXPECT_EQ(j["batch"], 2);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_LE(j["ms_min"].get<double>(), j["ms_median"].get<double>());
  EXPECT_LT(j["activation_rss_mib"].get<double>(), j["peak_rss_mib"].get<double>());
  const double expected_gflop = 2 * (2 * double_block_flops(512, 4096, 32) + 3 * single_block_flops(512, 4096, 32)) / 1e9;
  EXPECT_NEAR(j["gflop"].get<double>(), expected_gflop, 1e-12 * expected_gflop);
  EXPECT_DOUBLE_EQ(j["weights_mib"].get<double>(), step_weight_bytes(32, 16) / (1 << 20));
}

TEST(BenchStepCli, RejectsAStepWithoutBlocks) {
  const CliResult r =
      run_cli("bench step --heads 2 --head-dim 16 --image-tokens 16 --text-tokens 8 --double-blocks 0 --single-blocks 0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("at least one block"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace diffuse::testing
