#include "models/vae/autoencoder_kl_qwenimage_coders.h"

#include "ops/activation.h"

namespace diffuse::models {

namespace {

using Mode = QwenImageResample::Mode;

// Decoder level channels, top (latent side) first: C_last, then the levels reversed.
std::vector<int64_t> decoder_dims(const AutoencoderKLQwenImageConfig& cfg) {
  std::vector<int64_t> dims = {cfg.level_channels(cfg.num_levels() - 1)};
  for (int64_t i = cfg.num_levels() - 1; i >= 0; --i) dims.push_back(cfg.level_channels(i));
  return dims;
}

// norm_out -> SiLU. The dump is the norm's output, before the activation (a separate step in
// the reference), so tracing runs the two passes separately.
Tensor norm_out_silu(const QwenImageRmsNorm& norm, const Tensor& x, const Trace* trace, const std::string& path) {
  if (!trace) return norm.forward(x, /*silu=*/true);
  Tensor h = norm.forward(x, /*silu=*/false);
  models::trace(trace, path, h);
  ops::silu_inplace(h);
  return h;
}

}  // namespace

std::vector<QwenImageEncoder3d::DownLayer> QwenImageEncoder3d::make_down_blocks(
    const AutoencoderKLQwenImageConfig& cfg, io::WeightBinder& binder) {
  std::vector<DownLayer> layers;
  int64_t in = cfg.level_channels(0);
  for (int64_t level = 0; level < cfg.num_levels(); ++level) {
    const int64_t out = cfg.level_channels(level);
    for (int64_t r = 0; r < cfg.num_res_blocks; ++r) {
      io::WeightBinder b = binder.scope("down_blocks." + std::to_string(layers.size()));
      layers.emplace_back(std::in_place_type<QwenImageResidualBlock>, b, in, out);
      in = out;
    }
    if (level + 1 < cfg.num_levels()) {
      io::WeightBinder b = binder.scope("down_blocks." + std::to_string(layers.size()));
      const Mode mode = cfg.temperal_downsample[static_cast<size_t>(level)] ? Mode::Downsample3d : Mode::Downsample2d;
      layers.emplace_back(std::in_place_type<QwenImageResample>, b, out, mode);
    }
  }
  return layers;
}

QwenImageEncoder3d::QwenImageEncoder3d(const AutoencoderKLQwenImageConfig& cfg, io::WeightBinder& binder,
                                       const ModelOptions& options)
    : conv_in_(binder, "conv_in", cfg.input_channels, cfg.level_channels(0), 3),
      down_blocks_(make_down_blocks(cfg, binder)),
      mid_block_([&] {
        io::WeightBinder b = binder.scope("mid_block");
        return QwenImageMidBlock(b, cfg.level_channels(cfg.num_levels() - 1), options);
      }()),
      norm_out_(binder, "norm_out", cfg.level_channels(cfg.num_levels() - 1), /*images=*/false),
      conv_out_(binder, "conv_out", cfg.level_channels(cfg.num_levels() - 1), 2 * cfg.z_dim, 3) {}

Tensor QwenImageEncoder3d::forward(const Tensor& x, const Trace* trace, const std::string& path) const {
  Tensor h = conv_in_.forward(x);
  models::trace(trace, path + "conv_in", h);
  for (size_t i = 0; i < down_blocks_.size(); ++i) {
    h = std::visit([&](const auto& layer) { return layer.forward(std::move(h)); }, down_blocks_[i]);
    models::trace(trace, path + "down_blocks." + std::to_string(i), h);
  }
  h = mid_block_.forward(std::move(h));
  models::trace(trace, path + "mid_block", h);
  h = norm_out_silu(norm_out_, h, trace, path + "norm_out");
  h = conv_out_.forward(h);
  models::trace(trace, path + "conv_out", h);
  return h;
}

std::vector<QwenImageUpBlock> QwenImageDecoder3d::make_up_blocks(const AutoencoderKLQwenImageConfig& cfg,
                                                                  io::WeightBinder& binder) {
  const std::vector<int64_t> dims = decoder_dims(cfg);
  // The encoder's per-level time flags, read from the latent side.
  const std::vector<bool> temporal(cfg.temperal_downsample.rbegin(), cfg.temperal_downsample.rend());
  std::vector<QwenImageUpBlock> blocks;
  for (int64_t i = 0; i < cfg.num_levels(); ++i) {
    const size_t u = static_cast<size_t>(i);
    // Every block after the first receives the halved channels of the previous upsampler.
    const int64_t in = i == 0 ? dims[0] : dims[u] / 2;
    std::optional<Mode> mode;
    if (i + 1 < cfg.num_levels()) mode = temporal[u] ? Mode::Upsample3d : Mode::Upsample2d;
    io::WeightBinder b = binder.scope("up_blocks." + std::to_string(i));
    blocks.emplace_back(b, in, dims[u + 1], cfg.num_res_blocks, mode);
  }
  return blocks;
}

QwenImageDecoder3d::QwenImageDecoder3d(const AutoencoderKLQwenImageConfig& cfg, io::WeightBinder& binder,
                                       const ModelOptions& options)
    : conv_in_(binder, "conv_in", cfg.z_dim, cfg.level_channels(cfg.num_levels() - 1), 3),
      mid_block_([&] {
        io::WeightBinder b = binder.scope("mid_block");
        return QwenImageMidBlock(b, cfg.level_channels(cfg.num_levels() - 1), options);
      }()),
      up_blocks_(make_up_blocks(cfg, binder)),
      norm_out_(binder, "norm_out", cfg.level_channels(0), /*images=*/false),
      conv_out_(binder, "conv_out", cfg.level_channels(0), cfg.input_channels, 3) {}

Tensor QwenImageDecoder3d::forward(const Tensor& z, const Trace* trace, const std::string& path) const {
  Tensor h = conv_in_.forward(z);
  models::trace(trace, path + "conv_in", h);
  h = mid_block_.forward(std::move(h));
  models::trace(trace, path + "mid_block", h);
  for (size_t i = 0; i < up_blocks_.size(); ++i) {
    h = up_blocks_[i].forward(std::move(h));
    models::trace(trace, path + "up_blocks." + std::to_string(i), h);
  }
  h = norm_out_silu(norm_out_, h, trace, path + "norm_out");
  h = conv_out_.forward(h);
  models::trace(trace, path + "conv_out", h);
  return h;
}

}  // namespace diffuse::models
