// FLUX.1 / Chroma blocks at real width on random bf16 weights (D 3072, 24 x 128 heads, 512 text +
// 256 / 1024 / 4096 image tokens = 256^2 / 512^2 / 1024^2 images, B 1), plus one whole forward of
// the tiny fixture-size FLUX model. Rates count the GEMM flops (2 * tokens * in * out per Linear) and the attention core
// (4 * L^2 * D); the fraction is of the measured bf16 instruction peak of this run.
//
//   bench_flux_block [--threads N] [--quick]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>

#include "bench_util.h"
#include "bench_support/cpu_peak.h"
#include "bench_support/random_weights.h"
#include "models/dit/flux_blocks.h"
#include "models/dit/flux_transformer.h"
#include "ops/linear.h"

using namespace diffuse;
using namespace diffuse::models;

namespace {

using bench::random_tensor;
using bench::with_random_weights;

// `gemm_rate`: a plain bf16 GEMM of the block's shape measured in the same run, the ceiling a
// block made only of GEMMs could reach (robust to the noise of a shared machine).
void report(const char* what, double seconds, double flops, double peak, double gemm_rate) {
  const double rate = flops / seconds / 1e9;
  std::printf("%-44s %9.1f ms %8.0f GFLOP/s %6.1f%% of bf16 peak %6.1f%% of GEMM rate\n", what, seconds * 1e3,
              rate, peak > 0 ? 100.0 * rate / peak : 0.0, 100.0 * rate / gemm_rate);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags = bench::parse_flags(argc, argv, "bench_flux_block [--threads N] [--quick]");
  const bench::Peaks peaks = bench::measure_peaks(num_threads());
  const double peak = std::max(peaks.bf16_dot, peaks.amx_bf16);
  std::printf("threads %d | peaks GFLOP/s: f32 %.0f, bf16 vdpbf16ps %.0f, AMX bf16 %.0f\n", num_threads(),
              peaks.f32, peaks.bf16_dot, peaks.amx_bf16);

  const int64_t heads = 24, head_dim = 128, dim = heads * head_dim, txt = 512;
  const FluxBlockDims dims{dim, heads, head_dim, 4 * dim};
  ModelOptions options;  // bf16 GEMMs and attention, prepacked weights
  const double d2 = static_cast<double>(dim) * static_cast<double>(dim);
  // The blocks are built once; each image size (256 / 1024 / 4096 tokens = 256^2 / 512^2 / 1024^2
  // images) gets its own RoPE tables and GEMM reference rate.
  const auto single = with_random_weights<FluxSingleBlock>(
      [&](io::WeightBinder& b) { return FluxSingleBlock(b, dims, /*adaln_linear=*/false, options); });
  const auto dbl = with_random_weights<FluxDoubleBlock>(
      [&](io::WeightBinder& b) { return FluxDoubleBlock(b, dims, /*adaln_linears=*/false, options); });
  const std::vector<int64_t> image_sizes = flags.quick ? std::vector<int64_t>{256} : std::vector<int64_t>{256, 1024, 4096};
  for (const int64_t img : image_sizes) {
    const int64_t len = txt + img;
    JointAttentionContext attn;
    attn.precision = Precision::BF16;
    std::vector<float> ids;
    const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(img)));
    for (int64_t i = 0; i < len; ++i) {
      const int64_t p = std::max<int64_t>(i - txt, 0);
      const bool image = i >= txt;
      ids.insert(ids.end(), {0.0f, image ? static_cast<float>(p / side) : 0.0f, image ? static_cast<float>(p % side) : 0.0f});
    }
    const Tensor all_ids = Tensor::from_f32({len, 3}, ids);
    attn.rope = flux_rope_tables(all_ids.slice(0, 0, txt).contiguous(), all_ids.slice(0, txt, len).contiguous(),
                                 {16, 56, 56});
    double gemm_rate = 0;
    {
      const ops::Linear lin(random_tensor({dim, dim}, 5, 0.02f).to(DType::BF16));
      const Tensor x = random_tensor({len, dim}, 6, 1.0f).to(DType::BF16);
      Tensor y = Tensor::empty({len, dim}, DType::F32);
      const double s = bench::best_time([&] { lin.forward_into(x, y); }, 5, 5.0);
      gemm_rate = 2.0 * static_cast<double>(len) * static_cast<double>(dim) * static_cast<double>(dim) / s / 1e9;
      std::printf("bf16 GEMM %ldx%ldx%ld: %.1f ms, %.0f GFLOP/s\n", len, dim, dim, s * 1e3, gemm_rate);
    }
    const double attn_flops = 4.0 * static_cast<double>(len) * static_cast<double>(len) * static_cast<double>(dim);
    {
      const Tensor mod_rows = random_tensor({1, 3, dim}, 7, 0.5f);
      const AdaLnZeroSingleModulation mod = AdaLnZeroSingleModulation::from_rows(mod_rows);
      Tensor h = random_tensor({1, len, dim}, 8, 1.0f);
      const double s = bench::best_time([&] { single.forward(h, mod, attn); }, flags.quick ? 1 : 3, 20.0);
      // q, k, v (3 D^2), proj_mlp (4 D^2), proj_out (5 D^2) per token.
      char label[96];
      std::snprintf(label, sizeof label, "single block, L %ld (txt %ld + img %ld)", len, txt, img);
      report(label, s, 2.0 * static_cast<double>(len) * 12.0 * d2 + attn_flops, peak, gemm_rate);
    }
    {
      const Tensor rows = random_tensor({1, 6, dim}, 9, 0.5f);
      const AdaLnZeroModulation mod = AdaLnZeroModulation::from_rows(rows);
      Tensor ctx = random_tensor({1, txt, dim}, 10, 1.0f), x = random_tensor({1, img, dim}, 11, 1.0f);
      const double s = bench::best_time([&] { dbl.forward(ctx, x, mod, mod, attn); }, flags.quick ? 1 : 3, 20.0);
      // Per token: q, k, v, out (4 D^2) and the 4x MLP (8 D^2).
      char label[96];
      std::snprintf(label, sizeof label, "double block, L %ld (txt %ld + img %ld)", len, txt, img);
      report(label, s, 2.0 * static_cast<double>(len) * 12.0 * d2 + attn_flops, peak, gemm_rate);
    }
  }
  {
    // The fixture-size model (flux_transformer_guidance: width 32, 2 + 2 blocks, 7 + 24 tokens).
    FluxTransformerConfig c;
    c.backbone.in_channels = c.backbone.out_channels = 16;
    c.backbone.num_layers = c.backbone.num_single_layers = 2;
    c.backbone.attention_head_dim = 16;
    c.backbone.num_attention_heads = 2;
    c.backbone.joint_attention_dim = 32;
    c.backbone.axes_dims_rope = {4, 6, 6};
    c.pooled_projection_dim = 24;
    c.guidance_embeds = true;
    ModelOptions f32;
    f32.precision = Precision::F32;
    const auto model = with_random_weights<std::shared_ptr<FluxTransformer2DModel>>(
        [&](io::WeightBinder& b) { return std::make_shared<FluxTransformer2DModel>(c, b, f32); });
    FluxTransformerInputs in;
    in.hidden_states = random_tensor({1, 24, 16}, 12, 1.0f);
    in.encoder_hidden_states = random_tensor({1, 7, 32}, 13, 1.0f);
    in.pooled_projections = random_tensor({1, 24}, 14, 1.0f);
    in.timestep = Tensor::from_f32({1}, {0.7f});
    in.guidance = Tensor::from_f32({1}, {3.5f});
    in.txt_ids = Tensor::zeros({7, 3}, DType::F32);
    std::vector<float> grid;
    for (int64_t r = 0; r < 4; ++r)
      for (int64_t col = 0; col < 6; ++col) grid.insert(grid.end(), {0.0f, static_cast<float>(r), static_cast<float>(col)});
    in.img_ids = Tensor::from_f32({24, 3}, grid);
    const double s = bench::best_time([&] { model->forward(in); }, 20, 3.0);
    std::printf("%-44s %9.3f ms\n", "fixture-size FLUX forward (f32)", s * 1e3);
  }
  return 0;
}
