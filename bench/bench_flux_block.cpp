// FLUX.1 / Chroma blocks at real width on random bf16 weights (D 3072, 24 x 128 heads, 512 text +
// 1024 image tokens = a 512x512 image, B 1), plus one whole forward of the tiny fixture-size FLUX
// model. Rates count the GEMM flops (2 * tokens * in * out per Linear) and the attention core
// (4 * L^2 * D); the fraction is of the measured bf16 instruction peak of this run.
//
//   bench_flux_block [--threads N] [--quick]
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>

#include "bench_util.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/dit/flux_blocks.h"
#include "models/dit/flux_transformer.h"
#include "peak.h"

using namespace diffuse;
using namespace diffuse::models;

namespace {

Tensor random_tensor(const Shape& shape, uint32_t seed, float scale) {
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data_mut<float>();
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = scale * (static_cast<float>((x >> 8) & 0xffff) / 32768.0f - 1.0f);
  }
  return t;
}

// Random bf16 weights for every tensor `build` takes, written to a temporary safetensors file;
// `build` then runs again on a binder over that file. Norm scales are ~1, matrices ~1/sqrt(fan_in).
template <typename T>
T with_random_weights(const std::function<T(io::WeightBinder&)>& build) {
  io::WeightBinder listing = io::WeightBinder::expected_only();
  build(listing);
  io::NamedTensors named;
  uint32_t seed = 1;
  for (const auto& e : listing.expected()) {
    const bool matrix = e.shape.size() == 2;
    const bool norm = e.name.find("norm") != std::string::npos && !matrix;
    const float scale = matrix ? 1.7f / std::sqrt(static_cast<float>(e.shape[1])) : 0.05f;
    Tensor t = random_tensor(e.shape, seed++, scale);
    if (norm) {
      float* p = t.data_mut<float>();
      for (int64_t i = 0; i < t.numel(); ++i) p[i] += 1.0f;
    }
    named.emplace_back(e.name, t.to(DType::BF16));
  }
  const std::string path =
      (std::filesystem::temp_directory_path() / ("bench_flux_block_" + std::to_string(getpid()) + ".safetensors"))
          .string();
  io::write_safetensors(path, named);
  io::WeightBinder binder(io::WeightSource::open_file(path));
  T built = build(binder);
  binder.check();
  std::filesystem::remove(path);  // the mapping stays valid until the model lets go of it
  return built;
}

void report(const char* what, double seconds, double flops, double peak) {
  const double rate = flops / seconds / 1e9;
  std::printf("%-44s %9.1f ms %8.0f GFLOP/s %6.1f%% of bf16 peak\n", what, seconds * 1e3, rate,
              peak > 0 ? 100.0 * rate / peak : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags = bench::parse_flags(argc, argv, "bench_flux_block [--threads N] [--quick]");
  const bench::Peaks peaks = bench::measure_peaks(num_threads());
  const double peak = std::max(peaks.bf16_dot, peaks.amx_bf16);
  std::printf("threads %d | peaks GFLOP/s: f32 %.0f, bf16 vdpbf16ps %.0f, AMX bf16 %.0f\n", num_threads(),
              peaks.f32, peaks.bf16_dot, peaks.amx_bf16);

  const int64_t heads = 24, head_dim = 128, dim = heads * head_dim, txt = 512, img = flags.quick ? 256 : 1024;
  const int64_t len = txt + img;
  const FluxBlockDims dims{dim, heads, head_dim, 4 * dim};
  ModelOptions options;  // bf16 GEMMs and attention, prepacked weights

  JointAttentionContext attn;
  attn.precision = Precision::BF16;
  std::vector<float> ids;
  for (int64_t i = 0; i < len; ++i) {
    const int64_t p = std::max<int64_t>(i - txt, 0);
    const bool image = i >= txt;
    const int64_t side = static_cast<int64_t>(std::sqrt(static_cast<double>(img)));
    ids.insert(ids.end(), {0.0f, image ? static_cast<float>(p / side) : 0.0f, image ? static_cast<float>(p % side) : 0.0f});
  }
  const Tensor all_ids = Tensor::from_f32({len, 3}, ids);
  attn.rope = flux_rope_tables(all_ids.slice(0, 0, txt).contiguous(), all_ids.slice(0, txt, len).contiguous(),
                               {16, 56, 56});
  const double attn_flops = 4.0 * static_cast<double>(len) * static_cast<double>(len) * static_cast<double>(dim);
  const double d2 = static_cast<double>(dim) * static_cast<double>(dim);

  {
    const auto block = with_random_weights<FluxSingleBlock>(
        [&](io::WeightBinder& b) { return FluxSingleBlock(b, dims, /*adaln_linear=*/false, options); });
    const Tensor mod_rows = random_tensor({1, 3, dim}, 7, 0.5f);
    const AdaLnZeroSingleModulation mod = AdaLnZeroSingleModulation::from_rows(mod_rows);
    const Tensor h0 = random_tensor({1, len, dim}, 8, 1.0f);
    Tensor h = h0.clone();
    const double s = bench::best_time([&] { block.forward(h, mod, attn); }, flags.quick ? 1 : 3, 20.0);
    // q, k, v (3 D^2), proj_mlp (4 D^2), proj_out (5 D^2) per token.
    char label[96];
    std::snprintf(label, sizeof label, "single block, L %ld (txt %ld + img %ld)", len, txt, img);
    report(label, s, 2.0 * static_cast<double>(len) * 12.0 * d2 + attn_flops, peak);
  }
  {
    const auto block = with_random_weights<FluxDoubleBlock>(
        [&](io::WeightBinder& b) { return FluxDoubleBlock(b, dims, /*adaln_linears=*/false, options); });
    const Tensor rows = random_tensor({1, 6, dim}, 9, 0.5f);
    const AdaLnZeroModulation mod = AdaLnZeroModulation::from_rows(rows);
    Tensor ctx = random_tensor({1, txt, dim}, 10, 1.0f), x = random_tensor({1, img, dim}, 11, 1.0f);
    const double s = bench::best_time([&] { block.forward(ctx, x, mod, mod, attn); }, flags.quick ? 1 : 3, 20.0);
    // Per token: q, k, v, out (4 D^2) and the 4x MLP (8 D^2).
    char label[96];
    std::snprintf(label, sizeof label, "double block, L %ld (txt %ld + img %ld)", len, txt, img);
    report(label, s, 2.0 * static_cast<double>(len) * 12.0 * d2 + attn_flops, peak);
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
