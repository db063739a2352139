// What FLUX.1 and Chroma share around their blocks: the config fields of the transformer, the
// token embedders (x_embedder, context_embedder), the stack of double- then single-stream blocks
// and the output projection. The two models differ only in how they produce the modulation
// vectors (FLUX: per-block adaLN linears of one conditioning vector; Chroma: one approximator
// call) and in the final norm's (scale, shift) order.
#pragma once

#include <string>
#include <vector>

#include "io/json_config.h"
#include "io/weight_binder.h"
#include "models/common/linear_layer.h"
#include "models/common/model_options.h"
#include "models/common/trace.h"
#include "models/dit/flux_blocks.h"

namespace diffuse::models {

struct FluxBackboneConfig {
  int64_t patch_size = 1;
  int64_t in_channels = 64;
  int64_t out_channels = 64;  // config null -> in_channels
  int64_t num_layers = 19;
  int64_t num_single_layers = 38;
  int64_t attention_head_dim = 128;
  int64_t num_attention_heads = 24;
  int64_t joint_attention_dim = 4096;
  std::vector<int64_t> axes_dims_rope{16, 56, 56};

  int64_t inner_dim() const { return num_attention_heads * attention_head_dim; }
  FluxBlockDims block_dims() const;
  // The shared fields of FluxTransformer2DModel / ChromaTransformer2DModel config.json, with
  // diffusers' defaults; sizes that cannot describe a working model are errors naming `context`.
  static FluxBackboneConfig from_json(const io::Json& json, const std::string& context);
};

// The modulation vectors of every block for one forward pass.
struct FluxBlockModulation {
  std::vector<AdaLnZeroModulation> image;  // per double block
  std::vector<AdaLnZeroModulation> text;   // per double block
  std::vector<AdaLnZeroSingleModulation> single;
};

// How single-stream block outputs are named in traces: FLUX's blocks return (text, image)
// ("single_transformer_blocks.i.0" / ".1"), Chroma's return the joint stream ("...blocks.i").
enum class SingleBlockTrace { TextImagePair, Joint };

class FluxBackbone {
 public:
  // `adaln_linears`: whether the blocks carry their own adaLN linears (FLUX) or not (Chroma).
  FluxBackbone(const FluxBackboneConfig& config, io::WeightBinder& binder, bool adaln_linears,
               const ModelOptions& options);

  const FluxBackboneConfig& config() const { return config_; }
  const std::vector<FluxDoubleBlock>& double_blocks() const { return double_blocks_; }
  const std::vector<FluxSingleBlock>& single_blocks() const { return single_blocks_; }

  // x_embedder(hidden_states [B, N, in_channels]) and context_embedder(encoder_hidden_states
  // [B, T, joint_attention_dim]) -> [B, S, D] f32.
  Tensor embed_image(const Tensor& hidden_states) const;
  Tensor embed_text(const Tensor& encoder_hidden_states) const;

  // Double blocks on (ctx, x), then single blocks on cat(ctx, x) (joined once). Returns the image
  // tokens of the final stream, [B, N, D] contiguous.
  Tensor run_blocks(Tensor ctx, Tensor x, const FluxBlockModulation& mod, const JointAttentionContext& attn,
                    SingleBlockTrace trace_style, const Trace* trace) const;

  // proj_out: [B, N, D] -> [B, N, patch^2 * out_channels].
  Tensor project_out(const Tensor& x) const;

 private:
  FluxBackboneConfig config_;
  Precision precision_;
  LinearLayer x_embedder_, context_embedder_, proj_out_;
  std::vector<FluxDoubleBlock> double_blocks_;
  std::vector<FluxSingleBlock> single_blocks_;
};

// Checks an f32-convertible input tensor's rank and sizes (-1 = any) and names it in errors.
void check_input(const Tensor& t, const std::string& model, const std::string& name, const Shape& expected);

}  // namespace diffuse::models
