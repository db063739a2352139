#include "models/dit/flux_transformer.h"

#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "ops/timestep_embedding.h"

namespace diffuse::models {

namespace {

constexpr const char* kModel = "FluxTransformer2DModel";
constexpr int64_t kTimestepChannels = 256;  // Timesteps(256, flip_sin_to_cos=True, shift 0)

// Timesteps(256) of value * 1000 (the model scales sigma and guidance in f32 before embedding).
Tensor sinusoid_x1000(const Tensor& value) {
  ops::TimestepEmbeddingOptions o;
  o.flip_sin_to_cos = true;
  o.downscale_freq_shift = 0.0f;
  return ops::timestep_embedding(ops::mul(value.to(DType::F32), 1000.0f), kTimestepChannels, o);
}

}  // namespace

FluxTransformerConfig FluxTransformerConfig::from_json(const io::Json& j, const std::string& ctx) {
  FluxTransformerConfig c;
  c.backbone = FluxBackboneConfig::from_json(j, ctx);
  c.pooled_projection_dim = io::get_int(j, "pooled_projection_dim", c.pooled_projection_dim, ctx);
  c.guidance_embeds = io::get_bool(j, "guidance_embeds", c.guidance_embeds, ctx);
  DIFFUSE_CHECK(c.pooled_projection_dim > 0, ctx, ": pooled_projection_dim must be positive");
  return c;
}

FluxTransformer2DModel::FluxTransformer2DModel(const FluxTransformerConfig& c, io::WeightBinder& b,
                                               const ModelOptions& o)
    : config_(c), precision_(o.precision), backbone_(c.backbone, b, /*adaln_linears=*/true, o) {
  const int64_t dim = c.backbone.inner_dim();
  io::WeightBinder tte = b.scope("time_text_embed");
  timestep_linear_1_ = LinearLayer(tte, "timestep_embedder.linear_1", kTimestepChannels, dim, true, o);
  timestep_linear_2_ = LinearLayer(tte, "timestep_embedder.linear_2", dim, dim, true, o);
  if (c.guidance_embeds) {
    guidance_linear_1_ = LinearLayer(tte, "guidance_embedder.linear_1", kTimestepChannels, dim, true, o);
    guidance_linear_2_ = LinearLayer(tte, "guidance_embedder.linear_2", dim, dim, true, o);
  }
  text_linear_1_ = LinearLayer(tte, "text_embedder.linear_1", c.pooled_projection_dim, dim, true, o);
  text_linear_2_ = LinearLayer(tte, "text_embedder.linear_2", dim, dim, true, o);
  norm_out_linear_ = LinearLayer(b, "norm_out.linear", dim, 2 * dim, true, o);
}

Tensor FluxTransformer2DModel::conditioning(const Tensor& timestep, const Tensor& guidance,
                                            const Tensor& pooled) const {
  const ops::Epilogue silu{.activation = ops::Activation::Silu};
  // temb = (timestep_emb + guidance_emb) + pooled_emb, summed in the reference's order.
  Tensor temb = timestep_linear_2_.forward(
      gemm_input(timestep_linear_1_.forward(gemm_input(sinusoid_x1000(timestep), precision_), silu), precision_));
  if (config_.guidance_embeds) {
    const Tensor g = gemm_input(
        guidance_linear_1_.forward(gemm_input(sinusoid_x1000(guidance), precision_), silu), precision_);
    guidance_linear_2_.forward_into(g, temb, {.residual = temb});
  }
  const Tensor p = gemm_input(text_linear_1_.forward(gemm_input(pooled, precision_), silu), precision_);
  text_linear_2_.forward_into(p, temb, {.residual = temb});
  return temb;
}

Tensor FluxTransformer2DModel::forward(const FluxTransformerInputs& in, const Trace* tr) const {
  const FluxBackboneConfig& bc = config_.backbone;
  check_input(in.hidden_states, kModel, "hidden_states", {-1, -1, bc.in_channels});
  const int64_t batch = in.hidden_states.dim(0), img_len = in.hidden_states.dim(1);
  check_input(in.encoder_hidden_states, kModel, "encoder_hidden_states", {batch, -1, bc.joint_attention_dim});
  const int64_t txt_len = in.encoder_hidden_states.dim(1);
  check_input(in.pooled_projections, kModel, "pooled_projections", {batch, config_.pooled_projection_dim});
  check_input(in.timestep, kModel, "timestep", {batch});
  if (config_.guidance_embeds) {
    check_input(in.guidance, kModel, "guidance", {batch});
  } else {
    DIFFUSE_CHECK(!in.guidance.defined(), kModel, ": guidance given but the config has guidance_embeds false");
  }
  // diffusers accepts deprecated 3-D ids and uses the first batch entry.
  const Tensor img_ids = in.img_ids.defined() && in.img_ids.ndim() == 3 ? in.img_ids.select(0, 0) : in.img_ids;
  const Tensor txt_ids = in.txt_ids.defined() && in.txt_ids.ndim() == 3 ? in.txt_ids.select(0, 0) : in.txt_ids;
  const int64_t axes = static_cast<int64_t>(bc.axes_dims_rope.size());
  DIFFUSE_CHECK(img_ids.defined() && txt_ids.defined(), kModel, ": img_ids and txt_ids are required");
  check_input(img_ids, kModel, "img_ids", {img_len, axes});
  check_input(txt_ids, kModel, "txt_ids", {txt_len, axes});

  Tensor x = backbone_.embed_image(in.hidden_states);
  trace(tr, "x_embedder", x);
  const Tensor temb = conditioning(in.timestep, in.guidance, in.pooled_projections);
  trace(tr, "time_text_embed", temb);
  Tensor ctx = backbone_.embed_text(in.encoder_hidden_states);
  trace(tr, "context_embedder", ctx);

  JointAttentionContext attn;
  attn.rope = flux_rope_tables(txt_ids, img_ids, bc.axes_dims_rope);
  attn.precision = precision_;
  trace(tr, "pos_embed.0", attn.rope.cos);
  trace(tr, "pos_embed.1", attn.rope.sin);

  // Every block's modulation from SiLU(temb), computed once up front.
  const Tensor silu_temb = gemm_input(ops::silu(temb), precision_);
  FluxBlockModulation mod;
  for (const FluxDoubleBlock& blk : backbone_.double_blocks()) {
    mod.image.push_back(AdaLnZeroModulation::from_rows(blk.image_modulation(silu_temb)));
    mod.text.push_back(AdaLnZeroModulation::from_rows(blk.text_modulation(silu_temb)));
  }
  for (const FluxSingleBlock& blk : backbone_.single_blocks())
    mod.single.push_back(AdaLnZeroSingleModulation::from_rows(blk.modulation(silu_temb)));

  x = backbone_.run_blocks(std::move(ctx), std::move(x), mod, attn, SingleBlockTrace::TextImagePair, tr);

  // AdaLayerNormContinuous: chunk order (scale, shift).
  const Tensor final_mod = norm_out_linear_.forward(silu_temb).reshape({batch, 2, bc.inner_dim()});
  const Tensor scale = final_mod.select(1, 0), shift = final_mod.select(1, 1);
  const Tensor normed = ops::layer_norm_modulate(x, &shift, &scale, 1e-6f);
  trace(tr, "norm_out", normed);
  Tensor out = backbone_.project_out(normed);
  trace(tr, "proj_out", out);
  return out;
}

}  // namespace diffuse::models
