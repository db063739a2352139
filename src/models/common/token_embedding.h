// Token embedding lookup shared by the text encoders (T5, CLIP, decoder LLMs): rows of a
// [vocab, hidden] table — kept as stored, e.g. a bf16 view of the checkpoint — gathered into f32.
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace diffuse::models {

// ids [B, S] (any integer dtype) -> [B, S, hidden] f32. An id outside [0, vocab) is an error
// naming `model` and the position.
Tensor lookup_token_embeddings(const Tensor& table, const Tensor& ids, const std::string& model);

}  // namespace diffuse::models
