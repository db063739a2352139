// What every pipeline case compares, recorded the same way for each pipeline: the tolerance
// (f32: the fixtures' 1e-4 max-abs on latents and image; bf16: cosine only, since errors
// compound over steps and every step is compared), the latents and timestep after each step,
// every transformer call's arguments as the reference dumps them, and the final image.
#pragma once

#include "parity/case_runner.h"
#include "pipelines/flow_sampler.h"

namespace diffuse::parity {

Tolerance pipeline_tolerance(const RunOptions& options);

// An observer that appends out.latents.step<i> / out.timestep.step<i> to `out.outputs` and the
// dump.transformer.call<k>.<arg> tensors the case holds to `out.dumps`. `out` must outlive it.
pipelines::DenoiseObserver record_denoising(const FixtureCase& c, ProducedSet& out, const Tolerance& tol);

}  // namespace diffuse::parity
