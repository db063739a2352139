#include "bench_support/flux_step_bench.h"

#include <algorithm>

#include "ops/shape.h"
#include "runtime/buffer_pool.h"
#include "runtime/error.h"
#include "runtime/progress.h"
#include "runtime/resource_usage.h"

namespace diffuse::bench {

double step_flops(const StepBenchSpec& spec) {
  BlockBenchSpec b = spec.blocks;
  b.arch = BlockArch::FluxDouble;
  const double dbl = block_flops(b);
  b.arch = BlockArch::FluxSingle;
  return static_cast<double>(spec.double_blocks) * dbl + static_cast<double>(spec.single_blocks) * block_flops(b);
}

StepMeasurement time_flux_step(const StepBenchSpec& spec) {
  DIFFUSE_CHECK(spec.double_blocks >= 0 && spec.single_blocks >= 0 && spec.double_blocks + spec.single_blocks >= 1,
                "a step needs at least one block (double blocks ", spec.double_blocks, ", single blocks ",
                spec.single_blocks, ")");
  DIFFUSE_CHECK(spec.blocks.repeat >= 1, "repeat must be at least 1, got ", spec.blocks.repeat);
  const BlockBenchSpec& b = spec.blocks;
  const int64_t txt = b.text_tokens, len = b.tokens();
  const models::JointAttentionContext attn = block_attention_context(b);
  const RandomDoubleBlock dbl = random_double_block(b);
  RandomSingleBlock sgl = random_single_block(b);
  sgl.h0 = Tensor();  // the joint stream comes out of the double blocks

  StepMeasurement m;
  m.weight_bytes = block_weight_bytes(b, BlockArch::FluxDouble) + block_weight_bytes(b, BlockArch::FluxSingle);

  // The streams are fresh tensors every step, as the embedders make them; the old ones go first
  // so two generations never coexist.
  Tensor ctx, x;
  const auto reset = [&] {
    ctx = Tensor();
    x = Tensor();
    ctx = dbl.ctx0.clone();
    x = dbl.x0.clone();
  };
  // FluxBackbone::run_blocks: ctx and x stay alive (its by-value parameters) through the single
  // blocks; the image tokens are split off into their own tensor at the end.
  const auto step = [&] {
    for (int64_t i = 0; i < spec.double_blocks; ++i) dbl.block.forward(ctx, x, dbl.image_mod, dbl.text_mod, attn);
    Tensor h = ops::concat({ctx, x}, 1);
    for (int64_t i = 0; i < spec.single_blocks; ++i) sgl.block.forward(h, sgl.mod, attn);
    const Tensor image = h.slice(1, txt, len).contiguous();
  };

  reset();
  step();  // warm-up: faults the weights in, primes kernels and the buffer cache
  ctx = Tensor();
  x = Tensor();
  BufferPool& pool = BufferPool::global();
  // Idle cached buffers are resident but hold no live activation: not part of the baseline.
  const size_t resident = resident_bytes(), idle = pool.idle_resident_bytes();
  m.resident_before_bytes = resident - std::min(resident, idle);
  m.peak_reset = reset_peak_resident();
  const BufferPoolStats s0 = pool.stats();
  m.timings = time_runs(b.repeat, step, reset, b.profile);
  m.peak_rss_bytes = peak_resident_bytes();
  const BufferPoolStats s1 = pool.stats();
  m.buffer_hits = static_cast<double>(s1.hits - s0.hits) / b.repeat;
  m.buffer_misses = static_cast<double>(s1.misses - s0.misses) / b.repeat;
  return m;
}

}  // namespace diffuse::bench
