#include "models/dit/qwenimage_transformer.h"

#include <cstring>

#include "models/dit/flux_backbone.h"
#include "ops/activation.h"
#include "ops/norm.h"
#include "ops/timestep_embedding.h"

namespace diffuse::models {

namespace {

constexpr const char* kModel = "QwenImageTransformer2DModel";
constexpr int64_t kTimestepChannels = 256;  // Timesteps(256, flip_sin_to_cos=True, shift 0, scale=1000)
constexpr float kEps = 1e-6f;               // txt_norm and norm_out

// The joint key mask [B, T + N] (U8, 1 = may be attended): the text rows' mask, then all image
// tokens valid. Undefined when every text token is valid (nothing to mask).
Tensor joint_key_mask(const Tensor& text_mask, int64_t img_len) {
  if (!text_mask.defined()) return {};
  const int64_t batch = text_mask.dim(0), txt_len = text_mask.dim(1), len = txt_len + img_len;
  Tensor keep = Tensor::empty({batch, len}, DType::U8);
  uint8_t* dst = keep.data_mut<uint8_t>();
  bool all_valid = true;
  for (int64_t b = 0; b < batch; ++b) {
    uint8_t* row = dst + b * len;
    for (int64_t j = 0; j < txt_len; ++j) {
      row[j] = text_mask.item({b, j}) != 0.0 ? 1 : 0;
      all_valid = all_valid && row[j];
    }
    std::memset(row + txt_len, 1, static_cast<size_t>(img_len));
  }
  return all_valid ? Tensor{} : keep;
}

// The complex table the reference dumps ([S, head_dim/2] real / imag parts) from rows
// [begin, end) of the interleaved cos / sin tables (each pair holds one complex entry twice).
void trace_complex_table(const Trace* tr, const std::string& name, const ops::RopeTables& rope, int64_t begin,
                         int64_t end) {
  if (!tr) return;
  const int64_t width = rope.cos.dim(1), half = width / 2;
  for (const auto& [part, table] : {std::pair{".real", &rope.cos}, std::pair{".imag", &rope.sin}}) {
    Tensor out = Tensor::empty({end - begin, half}, DType::F32);
    float* dst = out.data_mut<float>();
    const float* src = table->data<float>();
    for (int64_t s = begin; s < end; ++s)
      for (int64_t k = 0; k < half; ++k) dst[(s - begin) * half + k] = src[s * width + 2 * k];
    tr->record(name + part, out);
  }
}

}  // namespace

QwenImageTransformerConfig QwenImageTransformerConfig::from_json(const io::Json& j, const std::string& ctx) {
  QwenImageTransformerConfig c;
  c.patch_size = io::get_int(j, "patch_size", c.patch_size, ctx);
  c.in_channels = io::get_int(j, "in_channels", c.in_channels, ctx);
  // Absent: the default 16; null or 0: `out_channels or in_channels`.
  const bool has_out = j.is_object() && j.contains("out_channels");
  c.out_channels = has_out ? io::get_optional_int(j, "out_channels", ctx).value_or(0) : c.out_channels;
  if (c.out_channels == 0) c.out_channels = c.in_channels;
  c.num_layers = io::get_int(j, "num_layers", c.num_layers, ctx);
  c.attention_head_dim = io::get_int(j, "attention_head_dim", c.attention_head_dim, ctx);
  c.num_attention_heads = io::get_int(j, "num_attention_heads", c.num_attention_heads, ctx);
  c.joint_attention_dim = io::get_int(j, "joint_attention_dim", c.joint_attention_dim, ctx);
  c.axes_dims_rope = io::get_int_array(j, "axes_dims_rope", c.axes_dims_rope, ctx);

  // The reference's time embedder has no guidance input: a guidance-embedding config would fail
  // there at the first forward. The other flags select Qwen-Image-Edit-Plus / layered variants
  // (per-token modulation, extra conditioning, 3-D layer RoPE) this model does not implement.
  for (const char* flag : {"guidance_embeds", "zero_cond_t", "use_additional_t_cond", "use_layer3d_rope"})
    DIFFUSE_CHECK(!io::get_bool(j, flag, false, ctx), ctx, ": ", flag, " true is not supported by ", kModel);

  DIFFUSE_CHECK(c.patch_size > 0 && c.in_channels > 0 && c.out_channels > 0, ctx,
                ": patch_size, in_channels and out_channels must be positive");
  DIFFUSE_CHECK(c.num_layers >= 0, ctx, ": negative num_layers");
  DIFFUSE_CHECK(c.attention_head_dim > 0 && c.num_attention_heads > 0 && c.joint_attention_dim > 0, ctx,
                ": attention_head_dim, num_attention_heads and joint_attention_dim must be positive");
  DIFFUSE_CHECK(c.axes_dims_rope.size() == 3, ctx, ": axes_dims_rope must have 3 entries, got ",
                c.axes_dims_rope.size());
  int64_t rope_dim = 0;
  for (int64_t a : c.axes_dims_rope) {
    DIFFUSE_CHECK(a > 0 && a % 2 == 0, ctx, ": axes_dims_rope entries must be positive and even, got ", a);
    rope_dim += a;
  }
  // The complex RoPE multiplies every channel pair of a head: the axes must tile it exactly.
  DIFFUSE_CHECK(rope_dim == c.attention_head_dim, ctx, ": axes_dims_rope sum to ", rope_dim,
                " but attention_head_dim is ", c.attention_head_dim);
  return c;
}

QwenImageTransformer2DModel::QwenImageTransformer2DModel(const QwenImageTransformerConfig& c, io::WeightBinder& b,
                                                         const ModelOptions& o)
    : config_(c), precision_(o.precision) {
  const int64_t dim = c.inner_dim();
  io::WeightBinder te = b.scope("time_text_embed").scope("timestep_embedder");
  timestep_linear_1_ = LinearLayer(te, "linear_1", kTimestepChannels, dim, true, o);
  timestep_linear_2_ = LinearLayer(te, "linear_2", dim, dim, true, o);
  txt_norm_weight_ = f32_param(b.take("txt_norm.weight", {c.joint_attention_dim}));
  img_in_ = LinearLayer(b, "img_in", c.in_channels, dim, true, o);
  txt_in_ = LinearLayer(b, "txt_in", c.joint_attention_dim, dim, true, o);
  // FeedForward(dim, dim_out=dim): hidden 4 * dim.
  const FluxBlockDims dims{dim, c.num_attention_heads, c.attention_head_dim, 4 * dim};
  const DoubleBlockNames names = DoubleBlockNames::qwen_image();
  blocks_.reserve(static_cast<size_t>(c.num_layers));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    io::WeightBinder scope = b.scope("transformer_blocks").scope(std::to_string(i));
    blocks_.emplace_back(scope, dims, names, o);
  }
  norm_out_linear_ = LinearLayer(b, "norm_out.linear", dim, 2 * dim, true, o);
  proj_out_ = LinearLayer(b, "proj_out", dim, c.output_channels(), true, o);
}

Tensor QwenImageTransformer2DModel::time_embedding(const Tensor& timestep) const {
  ops::TimestepEmbeddingOptions te;
  te.flip_sin_to_cos = true;
  te.downscale_freq_shift = 0.0f;
  te.scale = 1000.0f;  // sigma * freq, then * 1000, as Timesteps(scale=1000) rounds it
  const Tensor sinusoid = ops::timestep_embedding(timestep.to(DType::F32), kTimestepChannels, te);
  const Tensor h = timestep_linear_1_.forward(gemm_input(sinusoid, precision_), {.activation = ops::Activation::Silu});
  return timestep_linear_2_.forward(gemm_input(h, precision_));
}

Tensor QwenImageTransformer2DModel::forward(const Tensor& hidden_states, const Tensor& encoder_hidden_states,
                                            const Tensor& encoder_mask, const Tensor& timestep,
                                            const QwenImageGrid& grid, const Trace* tr) const {
  const QwenImageTransformerConfig& c = config_;
  check_input(hidden_states, kModel, "hidden_states", {-1, -1, c.in_channels});
  const int64_t batch = hidden_states.dim(0), img_len = hidden_states.dim(1);
  DIFFUSE_CHECK(grid.frames > 0 && grid.height > 0 && grid.width > 0 && grid.tokens() == img_len, kModel,
                ": image grid ", grid.frames, "x", grid.height, "x", grid.width, " does not hold the ", img_len,
                " image tokens of hidden_states");
  check_input(encoder_hidden_states, kModel, "encoder_hidden_states", {batch, -1, c.joint_attention_dim});
  const int64_t txt_len = encoder_hidden_states.dim(1);
  check_input(timestep, kModel, "timestep", {batch});
  if (encoder_mask.defined()) {
    DIFFUSE_CHECK(encoder_mask.ndim() == 2 && encoder_mask.dim(0) == batch && encoder_mask.dim(1) == txt_len, kModel,
                  ": encoder_hidden_states_mask has shape ", shape_str(encoder_mask.shape()), ", expected [", batch,
                  ", ", txt_len, "]");
  }

  Tensor x = img_in_.forward(gemm_input(hidden_states, precision_));
  trace(tr, "img_in", x);
  const Tensor temb = time_embedding(timestep);
  trace(tr, "time_text_embed", temb);
  ops::RmsNormOptions rms;
  rms.flavor = ops::RmsNormFlavor::Diffusers;
  rms.eps = kEps;
  const Tensor normed_text = ops::rms_norm(encoder_hidden_states.to(DType::F32), &txt_norm_weight_, rms);
  trace(tr, "txt_norm", normed_text);
  Tensor ctx = txt_in_.forward(gemm_input(normed_text, precision_));
  trace(tr, "txt_in", ctx);

  JointAttentionContext attn;
  attn.rope = qwen_image_rope_tables(grid, txt_len, c.axes_dims_rope);
  attn.key_mask = joint_key_mask(encoder_mask, img_len);
  attn.precision = precision_;
  trace_complex_table(tr, "pos_embed.0", attn.rope, txt_len, txt_len + img_len);
  trace_complex_table(tr, "pos_embed.1", attn.rope, 0, txt_len);

  // Every block's modulation rows from SiLU(temb) up front: [B, 6, D] each, a few MB in all.
  const Tensor silu_temb = gemm_input(ops::silu(temb), precision_);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const FluxDoubleBlock& blk = blocks_[i];
    const Tensor img_rows = blk.image_modulation(silu_temb), txt_rows = blk.text_modulation(silu_temb);
    blk.forward(ctx, x, AdaLnZeroModulation::from_rows(img_rows), AdaLnZeroModulation::from_rows(txt_rows), attn);
    const std::string name = "transformer_blocks." + std::to_string(i);
    trace(tr, name + ".0", ctx);
    trace(tr, name + ".1", x);
  }

  // AdaLayerNormContinuous: chunk order (scale, shift).
  const Tensor final_mod = norm_out_linear_.forward(silu_temb).reshape({batch, 2, c.inner_dim()});
  const Tensor scale = final_mod.select(1, 0), shift = final_mod.select(1, 1);
  const Tensor normed = ops::layer_norm_modulate(x, &shift, &scale, kEps);
  trace(tr, "norm_out", normed);
  Tensor out = proj_out_.forward(gemm_input(normed, precision_));
  trace(tr, "proj_out", out);
  return out;
}

}  // namespace diffuse::models
