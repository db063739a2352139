#include "models/dit/chroma_transformer.h"

#include <cstring>

#include "ops/elementwise.h"
#include "ops/norm.h"

namespace diffuse::models {

namespace {

constexpr const char* kModel = "ChromaTransformer2DModel";

// The attention mask of `mode` from the pipeline's 0/1 mask m [B, L] (any float dtype).
void set_mask(JointAttentionContext& attn, const Tensor& mask, ChromaMaskMode mode) {
  const Tensor m = mask.to(DType::F32);
  const int64_t batch = m.dim(0), len = m.dim(1);
  const float* src = m.data<float>();
  if (mode == ChromaMaskMode::KeyMask) {
    Tensor keep = Tensor::empty({batch, len}, DType::U8);
    uint8_t* dst = keep.data_mut<uint8_t>();
    for (int64_t i = 0; i < batch * len; ++i) dst[i] = src[i] != 0.0f ? 1 : 0;
    attn.key_mask = keep;
    return;
  }
  // mask[b, 0, i, j] = m[b, i] * m[b, j], broadcast over heads.
  Tensor outer = Tensor::empty({batch, 1, len, len}, DType::F32);
  float* dst = outer.data_mut<float>();
  for (int64_t b = 0; b < batch; ++b) {
    const float* mb = src + b * len;
    for (int64_t i = 0; i < len; ++i) {
      float* row = dst + (b * len + i) * len;
      for (int64_t j = 0; j < len; ++j) row[j] = mb[i] * mb[j];
    }
  }
  attn.additive_mask = outer;
}

}  // namespace

ChromaTransformerConfig ChromaTransformerConfig::from_json(const io::Json& j, const std::string& ctx) {
  ChromaTransformerConfig c;
  c.backbone = FluxBackboneConfig::from_json(j, ctx);
  c.approximator_num_channels = io::get_int(j, "approximator_num_channels", c.approximator_num_channels, ctx);
  c.approximator_hidden_dim = io::get_int(j, "approximator_hidden_dim", c.approximator_hidden_dim, ctx);
  c.approximator_layers = io::get_int(j, "approximator_layers", c.approximator_layers, ctx);
  // The input row is [time (C), guidance (C), row index (2C)] with C = num_channels / 4, and the
  // approximator's in_proj expects num_channels features: only a multiple of 4 adds up.
  DIFFUSE_CHECK(c.approximator_num_channels > 0 && c.approximator_num_channels % 4 == 0, ctx,
                ": approximator_num_channels must be a positive multiple of 4, got ", c.approximator_num_channels);
  DIFFUSE_CHECK(c.approximator_num_channels % 8 == 0, ctx,
                ": approximator_num_channels / 4 must be even (sinusoid halves), got ", c.approximator_num_channels);
  DIFFUSE_CHECK(c.approximator_hidden_dim > 0 && c.approximator_layers >= 0, ctx,
                ": approximator_hidden_dim must be positive and approximator_layers non-negative");
  return c;
}

ChromaTransformer2DModel::ChromaTransformer2DModel(const ChromaTransformerConfig& c, io::WeightBinder& b,
                                                   const ModelOptions& o, ChromaMaskMode mask_mode)
    : config_(c),
      mask_mode_(mask_mode),
      precision_(o.precision),
      backbone_(c.backbone, b, /*adaln_linears=*/false, o),
      time_text_embed_(c.approximator_num_channels / 4, c.modulation_rows()),
      approximator_([&] {
        io::WeightBinder scope = b.scope("distilled_guidance_layer");
        return ChromaApproximator(scope, c.approximator_num_channels, c.approximator_hidden_dim,
                                  c.backbone.inner_dim(), c.approximator_layers, o);
      }()) {}

Tensor ChromaTransformer2DModel::modulation_rows(const Tensor& timestep, const Trace* tr) const {
  const Tensor t = ops::mul(timestep.to(DType::F32), 1000.0f);
  const int64_t batch = t.dim(0);
  const float* tv = t.data<float>();
  std::vector<float> distinct;
  std::vector<size_t> slot(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    size_t s = 0;
    while (s < distinct.size() && std::memcmp(&distinct[s], &tv[b], sizeof(float)) != 0) ++s;
    if (s == distinct.size()) distinct.push_back(tv[b]);
    slot[static_cast<size_t>(b)] = s;
  }
  const int64_t n = static_cast<int64_t>(distinct.size());
  if (tr) trace(tr, "time_text_embed", time_text_embed_.forward(t));
  Tensor pooled = approximator_.forward(time_text_embed_.forward(Tensor::from_f32({n}, distinct)));
  if (n != batch) {
    Tensor full = Tensor::empty({batch, pooled.dim(1), pooled.dim(2)}, DType::F32);
    for (int64_t b = 0; b < batch; ++b) full.select(0, b).copy_from(pooled.select(0, static_cast<int64_t>(slot[b])));
    pooled = full;
  }
  trace(tr, "distilled_guidance_layer", pooled);
  return pooled;
}

Tensor ChromaTransformer2DModel::forward(const ChromaTransformerInputs& in, const Trace* tr) const {
  const FluxBackboneConfig& bc = config_.backbone;
  check_input(in.hidden_states, kModel, "hidden_states", {-1, -1, bc.in_channels});
  const int64_t batch = in.hidden_states.dim(0), img_len = in.hidden_states.dim(1);
  check_input(in.encoder_hidden_states, kModel, "encoder_hidden_states", {batch, -1, bc.joint_attention_dim});
  const int64_t txt_len = in.encoder_hidden_states.dim(1);
  check_input(in.timestep, kModel, "timestep", {batch});
  const Tensor img_ids = in.img_ids.defined() && in.img_ids.ndim() == 3 ? in.img_ids.select(0, 0) : in.img_ids;
  const Tensor txt_ids = in.txt_ids.defined() && in.txt_ids.ndim() == 3 ? in.txt_ids.select(0, 0) : in.txt_ids;
  const int64_t axes = static_cast<int64_t>(bc.axes_dims_rope.size());
  check_input(img_ids, kModel, "img_ids", {img_len, axes});
  check_input(txt_ids, kModel, "txt_ids", {txt_len, axes});
  if (in.attention_mask.defined())
    check_input(in.attention_mask, kModel, "attention_mask", {batch, txt_len + img_len});

  Tensor x = backbone_.embed_image(in.hidden_states);
  trace(tr, "x_embedder", x);
  const Tensor pooled = modulation_rows(in.timestep, tr);
  Tensor ctx = backbone_.embed_text(in.encoder_hidden_states);
  trace(tr, "context_embedder", ctx);

  JointAttentionContext attn;
  attn.rope = flux_rope_tables(txt_ids, img_ids, bc.axes_dims_rope);
  attn.precision = precision_;
  trace(tr, "pos_embed.0", attn.rope.cos);
  trace(tr, "pos_embed.1", attn.rope.sin);
  if (in.attention_mask.defined()) set_mask(attn, in.attention_mask, mask_mode_);

  // Row layout of pooled [B, rows, D]: single block i -> 3i..3i+2 (shift, scale, gate); double
  // block i -> image 3S + 6i.., text 3S + 6L + 6i.. (shift/scale/gate msa, then mlp); final norm
  // -> the last two rows (shift, scale).
  const int64_t singles = bc.num_single_layers, doubles = bc.num_layers;
  FluxBlockModulation mod;
  for (int64_t i = 0; i < doubles; ++i) {
    const int64_t img_row = 3 * singles + 6 * i, txt_row = 3 * singles + 6 * doubles + 6 * i;
    mod.image.push_back(AdaLnZeroModulation::from_rows(pooled.slice(1, img_row, img_row + 6)));
    mod.text.push_back(AdaLnZeroModulation::from_rows(pooled.slice(1, txt_row, txt_row + 6)));
  }
  for (int64_t i = 0; i < singles; ++i)
    mod.single.push_back(AdaLnZeroSingleModulation::from_rows(pooled.slice(1, 3 * i, 3 * i + 3)));

  x = backbone_.run_blocks(std::move(ctx), std::move(x), mod, attn, SingleBlockTrace::Joint, tr);

  const int64_t rows = config_.modulation_rows();
  const Tensor shift = pooled.select(1, rows - 2), scale = pooled.select(1, rows - 1);
  const Tensor normed = ops::layer_norm_modulate(x, &shift, &scale, 1e-6f);
  trace(tr, "norm_out", normed);
  Tensor out = backbone_.project_out(normed);
  trace(tr, "proj_out", out);
  return out;
}

}  // namespace diffuse::models
