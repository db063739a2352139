#include "pipelines/latent_geometry.h"

#include "ops/shape.h"
#include "runtime/error.h"
#include "sampling/torch_rng.h"

namespace diffuse::pipelines {

LatentGeometry LatentGeometry::from_image_size(int64_t height, int64_t width, int64_t vae_factor) {
  DIFFUSE_CHECK(vae_factor > 0, "VAE downscale factor must be positive");
  const int64_t unit = 2 * vae_factor;
  DIFFUSE_CHECK(height >= unit && width >= unit, "image size ", width, "x", height,
                " is smaller than one latent token (", unit, "x", unit, " pixels)");
  LatentGeometry g;
  g.latent_h = 2 * (height / unit);
  g.latent_w = 2 * (width / unit);
  g.height = g.latent_h * vae_factor;
  g.width = g.latent_w * vae_factor;
  return g;
}

Tensor flux_image_ids(const LatentGeometry& g) {
  Tensor ids = Tensor::zeros({g.tokens(), 3}, DType::F32);
  float* p = ids.data_mut<float>();
  for (int64_t r = 0; r < g.token_rows(); ++r) {
    for (int64_t c = 0; c < g.token_cols(); ++c) {
      float* row = p + (r * g.token_cols() + c) * 3;
      row[1] = static_cast<float>(r);
      row[2] = static_cast<float>(c);
    }
  }
  return ids;
}

Tensor initial_noise(uint64_t seed, int64_t channels, const LatentGeometry& g, DType dtype) {
  TorchGenerator gen(seed);
  const Tensor noise = gen.randn({1, channels, g.latent_h, g.latent_w}, dtype).to(DType::F32);
  return ops::pack_latents_2x2(noise);
}

}  // namespace diffuse::pipelines
