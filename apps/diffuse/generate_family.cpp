#include "generate_family.h"

namespace diffuse::cli {

Tensor seeded_noise(const GenerateRequest& request, int64_t latent_channels, const pipelines::LatentGeometry& geometry) {
  return pipelines::initial_noise(request.seed, latent_channels, geometry,
                                  request.options.precision == models::Precision::BF16 ? DType::BF16 : DType::F32);
}

pipelines::DenoiseObserver progress_observer(ProgressBar& bar) {
  pipelines::DenoiseObserver observer;
  observer.on_step = [&bar](int i, float, const Tensor&) { bar.update(i + 1); };
  return observer;
}

}  // namespace diffuse::cli
