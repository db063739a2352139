#include "pipelines/packed_latent_decode.h"

#include <algorithm>

#include "ops/shape.h"
#include "runtime/profiler.h"

namespace diffuse::pipelines {

Tensor decode_packed_latents(const LatentDecoder& decoder, const Tensor& latents, const LatentGeometry& g,
                             const std::function<void(const Tensor& z, const Tensor& raw)>& decoded_trace) {
  ProfileScope scope(profile_scopes::kVae);
  const Tensor unpacked = ops::unpack_latents_2x2(latents.to(DType::F32), g.latent_h, g.latent_w);
  const Tensor z = decoder.to_vae_space(unpacked);
  Tensor image = decoder.decode(z);
  if (decoded_trace) decoded_trace(z, image);
  image = image.contiguous().to(DType::F32).clone();
  float* p = image.data_mut<float>();
  for (int64_t i = 0; i < image.numel(); ++i) p[i] = std::min(1.0f, std::max(0.0f, p[i] / 2.0f + 0.5f));
  return image;
}

}  // namespace diffuse::pipelines
