// The text stage of FLUX.1 and Chroma: tokenizers and encoders from the model folder,
// loaded for the prompts and released when done (before the transformer loads).
//   FLUX.1: CLIP-L (tokenizer/, text_encoder/) pooled output + T5 (tokenizer_2/,
//           text_encoder_2/) last hidden state, T5 run WITHOUT the attention mask.
//   Chroma: T5 (tokenizer/, text_encoder/) run WITH the mask; the transformer's text mask
//           keeps the real tokens plus the first pad token.
#pragma once

#include <optional>
#include <string>

#include "pipelines/flux_pipeline.h"

namespace diffuse::pipelines {

struct EncodedPrompts {
  PromptConditioning cond;
  std::optional<PromptConditioning> uncond;  // when a negative prompt is encoded
};

// Encodes `prompt` and, if given, `negative` (as one batch). `max_sequence_length` is the
// T5 padding length (pipelines: 512; FLUX.1-schnell is trained with at most 256).
EncodedPrompts encode_flux_prompts(const std::string& root, FluxVariant variant, const std::string& prompt,
                                   const std::optional<std::string>& negative, int64_t max_sequence_length,
                                   const models::ModelOptions& options);

// Chroma's transformer text mask from a tokenizer mask [B, L]: position j is valid when
// j <= (number of real tokens), which keeps the first pad token. Returned as f32 0/1.
Tensor chroma_text_mask(const Tensor& tokenizer_mask);

}  // namespace diffuse::pipelines
