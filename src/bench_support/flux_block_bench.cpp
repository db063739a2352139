#include "bench_support/flux_block_bench.h"

#include <time.h>

#include <cmath>

#include "bench_support/random_weights.h"
#include "models/dit/flux_blocks.h"
#include "runtime/error.h"
#include "runtime/parallel.h"
#include "runtime/progress.h"
#include "runtime/timer.h"

namespace diffuse::bench {
namespace {

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Position ids as the FLUX pipeline makes them: text tokens all zero, image token p at
// (0, p / width, p % width).
models::JointAttentionContext attention_context(const BlockBenchSpec& spec) {
  const int64_t txt = spec.text_tokens, img = spec.image_tokens;
  const int64_t width = std::max<int64_t>(1, static_cast<int64_t>(std::sqrt(static_cast<double>(img))));
  std::vector<float> img_ids;
  img_ids.reserve(static_cast<size_t>(img) * 3);
  for (int64_t p = 0; p < img; ++p)
    img_ids.insert(img_ids.end(), {0.0f, static_cast<float>(p / width), static_cast<float>(p % width)});
  models::JointAttentionContext attn;
  attn.precision = spec.options.precision;
  attn.rope = models::flux_rope_tables(Tensor::zeros({txt, 3}, DType::F32), Tensor::from_f32({img, 3}, img_ids),
                                       block_rope_axes(spec.head_dim));
  return attn;
}

// Times `forward` spec.repeat times after one warm-up, calling `reset` (untimed) before each.
template <typename Forward, typename Reset>
BlockTimings time_forwards(const BlockBenchSpec& spec, Forward&& forward, Reset&& reset) {
  BlockTimings t;
  t.threads = num_threads();
  reset();
  t.peak_rss_before_bytes = peak_resident_bytes();
  forward();
  for (int i = 0; i < spec.repeat; ++i) {
    reset();
    const double c0 = cpu_seconds();
    Timer wall;
    forward();
    t.wall_s.push_back(wall.seconds());
    t.cpu_s.push_back((cpu_seconds() - c0) / t.threads);
  }
  t.peak_rss_bytes = peak_resident_bytes();
  return t;
}

}  // namespace

const char* block_arch_name(BlockArch arch) {
  return arch == BlockArch::FluxDouble ? "flux-double" : "flux-single";
}

BlockArch block_arch_from_name(const std::string& name) {
  if (name == "flux-double") return BlockArch::FluxDouble;
  if (name == "flux-single") return BlockArch::FluxSingle;
  fail("unknown block architecture '", name, "' (expected flux-double or flux-single)");
}

models::ModelOptions block_dtype_options(const std::string& dtype) {
  models::ModelOptions options;
  if (dtype == "bf16") {
    options.precision = models::Precision::BF16;
  } else if (dtype == "f32") {
    options.precision = models::Precision::F32;
  } else if (dtype == "w8a8") {
    // Int8 weights x int8 activations for the Linear layers; attention and the rest stay bf16.
    options.precision = models::Precision::BF16;
    options.quantization = ops::QuantMode::W8A8;
  } else {
    fail("unknown dtype '", dtype, "' (expected bf16, f32 or w8a8)");
  }
  return options;
}

std::vector<int64_t> block_rope_axes(int64_t head_dim) {
  DIFFUSE_CHECK(head_dim >= 8 && head_dim % 2 == 0, "head_dim must be even and at least 8, got ", head_dim);
  const int64_t a = (7 * head_dim / 16) & ~int64_t{1};
  return {head_dim - 2 * a, a, a};
}

double block_flops(const BlockBenchSpec& spec) {
  const double d = static_cast<double>(spec.dim()), m = 4.0 * d, l = static_cast<double>(spec.tokens());
  const double gemm = 2.0 * l * (4.0 * d * d + 2.0 * d * m);
  const double attention = 4.0 * l * l * d;
  return static_cast<double>(spec.batch) * (gemm + attention);
}

BlockTimings time_flux_block(const BlockBenchSpec& spec) {
  DIFFUSE_CHECK(spec.heads >= 1 && spec.batch >= 1 && spec.text_tokens >= 1 && spec.image_tokens >= 1,
                "block benchmark needs heads, batch, text and image tokens >= 1");
  DIFFUSE_CHECK(spec.repeat >= 1, "repeat must be at least 1, got ", spec.repeat);
  block_rope_axes(spec.head_dim);  // validates head_dim
  const int64_t b = spec.batch, txt = spec.text_tokens, img = spec.image_tokens, d = spec.dim();
  const models::FluxBlockDims dims{d, spec.heads, spec.head_dim, 4 * d};
  const models::JointAttentionContext attn = attention_context(spec);
  // Modulation rows ~ U(+-0.5): scales near 1 + 0, gates that neither vanish nor explode.
  if (spec.arch == BlockArch::FluxDouble) {
    const auto block = with_random_weights<models::FluxDoubleBlock>(
        [&](io::WeightBinder& w) { return models::FluxDoubleBlock(w, dims, /*adaln_linears=*/false, spec.options); },
        spec.seed);
    const Tensor img_rows = random_tensor({b, 6, d}, spec.seed + 1001, 0.5f);
    const Tensor txt_rows = random_tensor({b, 6, d}, spec.seed + 1002, 0.5f);
    const auto img_mod = models::AdaLnZeroModulation::from_rows(img_rows);
    const auto txt_mod = models::AdaLnZeroModulation::from_rows(txt_rows);
    const Tensor ctx0 = random_tensor({b, txt, d}, spec.seed + 1003, 1.0f);
    const Tensor x0 = random_tensor({b, img, d}, spec.seed + 1004, 1.0f);
    Tensor ctx = ctx0.clone(), x = x0.clone();
    return time_forwards(
        spec, [&] { block.forward(ctx, x, img_mod, txt_mod, attn); },
        [&] {
          ctx.copy_from(ctx0);
          x.copy_from(x0);
        });
  }
  const auto block = with_random_weights<models::FluxSingleBlock>(
      [&](io::WeightBinder& w) { return models::FluxSingleBlock(w, dims, /*adaln_linear=*/false, spec.options); },
      spec.seed);
  const Tensor rows = random_tensor({b, 3, d}, spec.seed + 1001, 0.5f);
  const auto mod = models::AdaLnZeroSingleModulation::from_rows(rows);
  const Tensor h0 = random_tensor({b, txt + img, d}, spec.seed + 1003, 1.0f);
  Tensor h = h0.clone();
  return time_forwards(spec, [&] { block.forward(h, mod, attn); }, [&] { h.copy_from(h0); });
}

}  // namespace diffuse::bench
