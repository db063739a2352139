// One denoising step's transformer work at FLUX width on random weights, the measurement behind
// `diffuse bench step`: the blocks of FLUX.1 / Chroma run in the model's order and data flow
// (models/dit/flux_backbone.cpp: double blocks on (text, image), the streams joined once, single
// blocks on the joint stream, the image tokens split off), but every double block shares ONE
// block's weights and every single block ONE other block's. So the weights are ~2/57 of the
// model's and fit anywhere, while the activations, their sizes, lifetimes and order, are exactly
// a real step's. The embedders, the modulation GEMVs and proj_out (O(tokens x D) work) are not run.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bench_support/flux_block_bench.h"

namespace diffuse::bench {

struct StepBenchSpec {
  BlockBenchSpec blocks;  // width, tokens, batch, dtype, seed, repeat (timed steps); arch unused
  int64_t double_blocks = 19;
  int64_t single_blocks = 38;
};

struct StepMeasurement {
  BlockTimings timings;  // per timed step; peak_rss_* unused (see below)
  size_t weight_bytes = 0;  // both blocks' weights as the random checkpoint stores them (bf16)
  // Resident memory once built and warmed up by one untimed step, with idle cached buffers
  // dropped: weights, inputs, RoPE tables, kernel state; no activations.
  size_t resident_before_bytes = 0;
  // Peak resident memory over the timed steps. The kernel's peak is reset after the warm-up where
  // it allows (peak_reset); otherwise this is the process peak, building the weights included.
  size_t peak_rss_bytes = 0;
  bool peak_reset = false;
  // Large-buffer cache (runtime/buffer_pool.h) hits and misses per timed step.
  double buffer_hits = 0, buffer_misses = 0;
};

// FLOPs of one step: double_blocks double-block forwards plus single_blocks single-block forwards
// (block_flops of each).
double step_flops(const StepBenchSpec& spec);

// Builds the two blocks and inputs, runs one warm-up step, then times spec.blocks.repeat steps,
// each from the same input streams (restored outside the timed region).
StepMeasurement time_flux_step(const StepBenchSpec& spec);

}  // namespace diffuse::bench
