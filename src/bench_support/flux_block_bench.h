// One FLUX.1 transformer block (double- or single-stream) at any width on random bf16 weights,
// timed forward by forward: the measurement behind `diffuse bench block`, shaped so that other
// engines can run the same block (bench/pytorch_flux_block.py does so for PyTorch).
//
// The block is the Chroma form of the FLUX block (no per-block adaLN linear): its modulation rows
// are given as random inputs, so the timed work is exactly what runs per block and per step of a
// FLUX / Chroma forward apart from the tiny [B, D] x [D, 6D] modulation GEMV.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/common/model_options.h"
#include "models/dit/flux_blocks.h"

namespace diffuse::bench {

enum class BlockArch { FluxDouble, FluxSingle };

// "flux-double" / "flux-single" and back (throws on anything else).
const char* block_arch_name(BlockArch arch);
BlockArch block_arch_from_name(const std::string& name);

// The ModelOptions a benchmark dtype selects: "bf16" (bf16 GEMMs and attention), "f32", "w8a8"
// (Linear layers on int8 weights x per-token int8 activations, the rest bf16).
models::ModelOptions block_dtype_options(const std::string& dtype);

struct BlockBenchSpec {
  BlockArch arch = BlockArch::FluxDouble;
  int64_t image_tokens = 1024;
  int64_t text_tokens = 512;
  int64_t batch = 1;
  int64_t heads = 24;
  int64_t head_dim = 128;  // even, >= 8 (RoPE axes split it as FLUX's 16 / 56 / 56 of 128)
  models::ModelOptions options;
  int repeat = 5;  // timed forwards, after one warm-up forward
  uint32_t seed = 1;
  // Record the timed forwards with the profiler (runtime/profiler.h) under the "transformer"
  // component, for the caller to print; the warm-up is not recorded.
  bool profile = false;

  int64_t dim() const { return heads * head_dim; }
  int64_t tokens() const { return text_tokens + image_tokens; }  // L, the joint sequence
};

// The RoPE axes widths for `head_dim`: (head_dim - 2a, a, a) with a = 7 * head_dim / 16 rounded down
// to even, i.e. FLUX's 16 / 56 / 56 at 128.
std::vector<int64_t> block_rope_axes(int64_t head_dim);

// FLOPs of one forward, with D = heads * head_dim, M = 4 D (MLP hidden), L = text + image tokens:
//   batch * (2 * L * (4 D^2 + 2 D M) + 4 * L^2 * D)  = batch * (24 L D^2 + 4 L^2 D)
// The GEMM term counts 2 flops per multiply-add. Double block, per token of its own stream:
// q, k, v, out (4 D^2) and the MLP D -> M -> D (2 D M). Single block, per joint token: q, k, v
// (3 D^2), proj_mlp (D M), proj_out over cat(attention, mlp) ((D + M) D); the same total.
// Attention: Q K^T and P V are each 2 L^2 D. Norms, RoPE, softmax, GELU and the modulation are not
// counted (they are O(L D)).
double block_flops(const BlockBenchSpec& spec);

struct BlockTimings {
  std::vector<double> wall_s;  // per timed forward
  std::vector<double> cpu_s;   // per timed forward: process CPU time / threads
  int threads = 0;
  double minor_faults = 0;  // minor page faults per timed forward (whole process)
  // Process peak resident memory before the first forward (weights, inputs) and after the last:
  // the difference is what the forwards' activations and kernel scratch added on top.
  size_t peak_rss_before_bytes = 0, peak_rss_bytes = 0;
};

// Calls `run` `repeat` times, each after an untimed `reset`, and records wall time, CPU time and
// minor page faults of each `run` (peak_rss_* are left to the caller). No warm-up: callers run
// their own first. With `profile`, the profile is reset and the runs (not the resets) are recorded.
BlockTimings time_runs(int repeat, const std::function<void()>& run, const std::function<void()>& reset,
                       bool profile = false);

// RoPE tables and precision of one forward, with FLUX position ids (text at 0, image tokens on a
// row-major grid of width floor(sqrt(image_tokens))).
models::JointAttentionContext block_attention_context(const BlockBenchSpec& spec);

// A block on random weights (seeded by spec.seed) with random modulation rows ~ U(+-0.5) and
// random input streams ~ U(+-1), f32.
struct RandomDoubleBlock {
  models::FluxDoubleBlock block;
  models::AdaLnZeroModulation image_mod, text_mod;
  Tensor ctx0, x0;  // [B, T, D], [B, N, D]
};
struct RandomSingleBlock {
  models::FluxSingleBlock block;
  models::AdaLnZeroSingleModulation mod;
  Tensor h0;  // [B, T + N, D]
};
RandomDoubleBlock random_double_block(const BlockBenchSpec& spec);
RandomSingleBlock random_single_block(const BlockBenchSpec& spec);

// Bytes of a block's weights as the random checkpoint stores them (bf16), whatever the block
// converts them to at load.
size_t block_weight_bytes(const BlockBenchSpec& spec, BlockArch arch);

// Builds the block (random_*_block) and times spec.repeat forwards after one warm-up. The block
// updates its input in place; every forward starts from the same input (restored outside the
// timed region).
BlockTimings time_flux_block(const BlockBenchSpec& spec);

}  // namespace diffuse::bench
