#include "models/vae/vae_coders.h"

#include "ops/activation.h"

namespace diffuse::models {

namespace {

constexpr float kEps = AutoencoderKLConfig::kNormEps;
const ops::Conv2dOptions kSame3x3 = ops::Conv2dOptions::symmetric(1, 1);

std::vector<DownEncoderBlock2D> make_down_blocks(const AutoencoderKLConfig& cfg, io::WeightBinder& binder) {
  std::vector<DownEncoderBlock2D> blocks;
  const auto& ch = cfg.block_out_channels;
  for (size_t i = 0; i < ch.size(); ++i) {
    io::WeightBinder b = binder.scope("down_blocks." + std::to_string(i));
    const bool last = i + 1 == ch.size();
    blocks.emplace_back(b, i == 0 ? ch[0] : ch[i - 1], ch[i], cfg.layers_per_block, !last, cfg.norm_num_groups,
                        kEps);
  }
  return blocks;
}

std::vector<UpDecoderBlock2D> make_up_blocks(const AutoencoderKLConfig& cfg, io::WeightBinder& binder) {
  std::vector<UpDecoderBlock2D> blocks;
  const std::vector<int64_t> ch(cfg.block_out_channels.rbegin(), cfg.block_out_channels.rend());
  for (size_t i = 0; i < ch.size(); ++i) {
    io::WeightBinder b = binder.scope("up_blocks." + std::to_string(i));
    const bool last = i + 1 == ch.size();
    blocks.emplace_back(b, i == 0 ? ch[0] : ch[i - 1], ch[i], cfg.layers_per_block + 1, !last, cfg.norm_num_groups,
                        kEps);
  }
  return blocks;
}

// conv_norm_out -> SiLU. The dump is the norm's output, before the activation (conv_act is a
// module of its own in the reference), so tracing runs the two passes separately.
Tensor norm_out_silu(const GroupNormLayer& norm, const Tensor& x, const Trace* trace, const std::string& path) {
  if (!trace) return norm.forward(x, /*silu=*/true);
  Tensor h = norm.forward(x, /*silu=*/false);
  models::trace(trace, path, h);
  ops::silu_inplace(h);
  return h;
}

}  // namespace

VaeEncoder::VaeEncoder(const AutoencoderKLConfig& cfg, io::WeightBinder& binder, const ModelOptions& options)
    : conv_in_(binder, "conv_in", cfg.in_channels, cfg.block_out_channels.front(), 3, kSame3x3),
      down_blocks_(make_down_blocks(cfg, binder)),
      mid_block_([&] {
        io::WeightBinder b = binder.scope("mid_block");
        return UNetMidBlock2D(b, cfg.block_out_channels.back(), cfg.norm_num_groups, kEps,
                              cfg.mid_block_add_attention, options);
      }()),
      conv_norm_out_(binder, "conv_norm_out", cfg.block_out_channels.back(), cfg.norm_num_groups, kEps),
      conv_out_(binder, "conv_out", cfg.block_out_channels.back(), 2 * cfg.latent_channels, 3, kSame3x3) {}

Tensor VaeEncoder::forward(const Tensor& x, const Trace* trace, const std::string& path) const {
  Tensor h = conv_in_.forward(x);
  models::trace(trace, path + "conv_in", h);
  for (size_t i = 0; i < down_blocks_.size(); ++i) {
    h = down_blocks_[i].forward(std::move(h));
    models::trace(trace, path + "down_blocks." + std::to_string(i), h);
  }
  h = mid_block_.forward(std::move(h));
  models::trace(trace, path + "mid_block", h);
  h = norm_out_silu(conv_norm_out_, h, trace, path + "conv_norm_out");
  h = conv_out_.forward(h);
  models::trace(trace, path + "conv_out", h);
  return h;
}

VaeDecoder::VaeDecoder(const AutoencoderKLConfig& cfg, io::WeightBinder& binder, const ModelOptions& options)
    : conv_in_(binder, "conv_in", cfg.latent_channels, cfg.block_out_channels.back(), 3, kSame3x3),
      mid_block_([&] {
        io::WeightBinder b = binder.scope("mid_block");
        return UNetMidBlock2D(b, cfg.block_out_channels.back(), cfg.norm_num_groups, kEps,
                              cfg.mid_block_add_attention, options);
      }()),
      up_blocks_(make_up_blocks(cfg, binder)),
      conv_norm_out_(binder, "conv_norm_out", cfg.block_out_channels.front(), cfg.norm_num_groups, kEps),
      conv_out_(binder, "conv_out", cfg.block_out_channels.front(), cfg.out_channels, 3, kSame3x3) {}

Tensor VaeDecoder::forward(const Tensor& z, const Trace* trace, const std::string& path) const {
  Tensor h = conv_in_.forward(z);
  models::trace(trace, path + "conv_in", h);
  h = mid_block_.forward(std::move(h));
  models::trace(trace, path + "mid_block", h);
  for (size_t i = 0; i < up_blocks_.size(); ++i) {
    h = up_blocks_[i].forward(std::move(h));
    models::trace(trace, path + "up_blocks." + std::to_string(i), h);
  }
  h = norm_out_silu(conv_norm_out_, h, trace, path + "conv_norm_out");
  h = conv_out_.forward(h);
  models::trace(trace, path + "conv_out", h);
  return h;
}

}  // namespace diffuse::models
