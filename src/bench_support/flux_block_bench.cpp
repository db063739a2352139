#include "bench_support/flux_block_bench.h"

#include <time.h>

#include <cmath>
#include <optional>

#include "bench_support/random_weights.h"
#include "runtime/error.h"
#include "runtime/parallel.h"
#include "runtime/profiler.h"
#include "runtime/progress.h"
#include "runtime/resource_usage.h"
#include "runtime/timer.h"

namespace diffuse::bench {
namespace {

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

void check_spec(const BlockBenchSpec& spec) {
  DIFFUSE_CHECK(spec.heads >= 1 && spec.batch >= 1 && spec.text_tokens >= 1 && spec.image_tokens >= 1,
                "block benchmark needs heads, batch, text and image tokens >= 1");
  block_rope_axes(spec.head_dim);  // validates head_dim
}

models::FluxBlockDims block_dims(const BlockBenchSpec& spec) {
  return {spec.dim(), spec.heads, spec.head_dim, 4 * spec.dim()};
}

// The Chroma form of the blocks: no adaLN linears (see the header).
models::FluxDoubleBlock build_double(io::WeightBinder& w, const BlockBenchSpec& spec) {
  return models::FluxDoubleBlock(w, block_dims(spec), /*adaln_linears=*/false, spec.options);
}

models::FluxSingleBlock build_single(io::WeightBinder& w, const BlockBenchSpec& spec) {
  return models::FluxSingleBlock(w, block_dims(spec), /*adaln_linear=*/false, spec.options);
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

BlockTimings time_runs(int repeat, const std::function<void()>& run, const std::function<void()>& reset,
                       bool profile) {
  DIFFUSE_CHECK(repeat >= 1, "repeat must be at least 1, got ", repeat);
  if (profile) reset_profile();
  BlockTimings t;
  t.threads = num_threads();
  uint64_t faults = 0;
  for (int i = 0; i < repeat; ++i) {
    reset();
    const uint64_t f0 = minor_page_faults();
    const double c0 = cpu_seconds();
    Timer wall;
    set_profiling(profile);
    {
      ProfileScope scope(profile_scopes::kTransformer);
      run();
    }
    set_profiling(false);
    t.wall_s.push_back(wall.seconds());
    t.cpu_s.push_back((cpu_seconds() - c0) / t.threads);
    faults += minor_page_faults() - f0;
  }
  t.minor_faults = static_cast<double>(faults) / repeat;
  return t;
}

models::JointAttentionContext block_attention_context(const BlockBenchSpec& spec) {
  check_spec(spec);
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

// Modulation rows ~ U(+-0.5): scales near 1 + 0, gates that neither vanish nor explode.
RandomDoubleBlock random_double_block(const BlockBenchSpec& spec) {
  check_spec(spec);
  const int64_t b = spec.batch, d = spec.dim();
  return RandomDoubleBlock{
      with_random_weights<models::FluxDoubleBlock>([&](io::WeightBinder& w) { return build_double(w, spec); },
                                                   spec.seed),
      models::AdaLnZeroModulation::from_rows(random_tensor({b, 6, d}, spec.seed + 1001, 0.5f)),
      models::AdaLnZeroModulation::from_rows(random_tensor({b, 6, d}, spec.seed + 1002, 0.5f)),
      random_tensor({b, spec.text_tokens, d}, spec.seed + 1003, 1.0f),
      random_tensor({b, spec.image_tokens, d}, spec.seed + 1004, 1.0f)};
}

RandomSingleBlock random_single_block(const BlockBenchSpec& spec) {
  check_spec(spec);
  const int64_t b = spec.batch, d = spec.dim();
  return RandomSingleBlock{
      with_random_weights<models::FluxSingleBlock>([&](io::WeightBinder& w) { return build_single(w, spec); },
                                                   spec.seed),
      models::AdaLnZeroSingleModulation::from_rows(random_tensor({b, 3, d}, spec.seed + 1001, 0.5f)),
      random_tensor({b, spec.tokens(), d}, spec.seed + 1003, 1.0f)};
}

size_t block_weight_bytes(const BlockBenchSpec& spec, BlockArch arch) {
  check_spec(spec);
  io::WeightBinder listing = io::WeightBinder::expected_only();
  if (arch == BlockArch::FluxDouble)
    build_double(listing, spec);
  else
    build_single(listing, spec);
  size_t bytes = 0;
  for (const auto& e : listing.expected()) bytes += static_cast<size_t>(shape_numel(e.shape)) * dtype_size(DType::BF16);
  return bytes;
}

BlockTimings time_flux_block(const BlockBenchSpec& spec) {
  DIFFUSE_CHECK(spec.repeat >= 1, "repeat must be at least 1, got ", spec.repeat);
  const models::JointAttentionContext attn = block_attention_context(spec);
  std::function<void()> run, reset;
  std::optional<RandomDoubleBlock> dbl;
  std::optional<RandomSingleBlock> sgl;
  Tensor ctx, x, h;
  if (spec.arch == BlockArch::FluxDouble) {
    dbl.emplace(random_double_block(spec));
    ctx = dbl->ctx0.clone();
    x = dbl->x0.clone();
    run = [&] { dbl->block.forward(ctx, x, dbl->image_mod, dbl->text_mod, attn); };
    reset = [&] {
      ctx.copy_from(dbl->ctx0);
      x.copy_from(dbl->x0);
    };
  } else {
    sgl.emplace(random_single_block(spec));
    h = sgl->h0.clone();
    run = [&] { sgl->block.forward(h, sgl->mod, attn); };
    reset = [&] { h.copy_from(sgl->h0); };
  }
  reset();
  const size_t peak_before = peak_resident_bytes();
  run();  // warm-up
  BlockTimings t = time_runs(spec.repeat, run, reset, spec.profile);
  t.peak_rss_before_bytes = peak_before;
  t.peak_rss_bytes = peak_resident_bytes();
  return t;
}

}  // namespace diffuse::bench
