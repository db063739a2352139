// Reference sinusoidal timestep embedding for tests: the diffusers formula evaluated entirely
// in double (no intermediate f32 rounding), so it measures the f32 implementation's error.
#pragma once

#include "ops/timestep_embedding.h"

namespace diffuse::ops::ref {

Tensor timestep_embedding(const Tensor& t, int64_t dim, const TimestepEmbeddingOptions& options);

}  // namespace diffuse::ops::ref
