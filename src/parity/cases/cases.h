// The component runners the parity tool knows; registry.cpp maps case names to them.
// A new model adds its runner here and one line in registry.cpp.
#pragma once

#include "parity/case_runner.h"

namespace diffuse::parity {

ProducedSet run_scheduler_case(const FixtureCase& c, const RunOptions& o);  // kind "scheduler"
ProducedSet run_rng_case(const FixtureCase& c, const RunOptions& o);        // kind "rng"
ProducedSet run_flux_pipeline_case(const FixtureCase& c, const RunOptions& o);  // FluxPipeline, ChromaPipeline
ProducedSet run_qwen_image_pipeline_case(const FixtureCase& c, const RunOptions& o);  // QwenImagePipeline
ProducedSet run_t5_encoder_case(const FixtureCase& c, const RunOptions& o);  // class "transformers.T5EncoderModel"
ProducedSet run_decoder_llm_case(const FixtureCase& c, const RunOptions& o);  // Qwen2.5-VL / Qwen3-VL / Mistral3 text
ProducedSet run_flux_transformer_case(const FixtureCase& c, const RunOptions& o);    // class "FluxTransformer2DModel"
ProducedSet run_chroma_transformer_case(const FixtureCase& c, const RunOptions& o);  // class "ChromaTransformer2DModel"
ProducedSet run_qwenimage_transformer_case(const FixtureCase& c, const RunOptions& o);  // "QwenImageTransformer2DModel"
ProducedSet run_autoencoder_kl_case(const FixtureCase& c, const RunOptions& o);  // class "AutoencoderKL"
ProducedSet run_autoencoder_kl_qwenimage_case(const FixtureCase& c, const RunOptions& o);  // "AutoencoderKLQwenImage"

}  // namespace diffuse::parity
