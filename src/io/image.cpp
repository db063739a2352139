#include "io/image.h"

#include <cfenv>
#include <cmath>

#include "runtime/error.h"

namespace diffuse::io {

uint8_t unit_float_to_byte(float x) {
  // !(x > 0) also catches NaN, which numpy would turn into an unspecified byte.
  const float clamped = !(x > 0.0f) ? 0.0f : (x > 1.0f ? 1.0f : x);
  const float scaled = clamped * 255.0f;  // float32 product, as numpy computes it
  // nearbyint rounds in the current mode, which is round-half-to-even unless changed.
  return static_cast<uint8_t>(std::nearbyint(scaled));
}

Image8 image_to_rgb8(const Tensor& image) {
  DIFFUSE_CHECK(image.defined() && image.ndim() == 3 && (image.dim(0) == 3 || image.dim(0) == 4),
                "image_to_rgb8: expected a [3,H,W] or [4,H,W] tensor, got ",
                image.defined() ? shape_str(image.shape()) : std::string("an undefined tensor"));
  DIFFUSE_CHECK(image.dtype() == DType::F32 || image.dtype() == DType::BF16 || image.dtype() == DType::F16,
                "image_to_rgb8: expected a float tensor, got ", dtype_name(image.dtype()));
  DIFFUSE_CHECK(std::fegetround() == FE_TONEAREST, "image_to_rgb8: floating-point rounding mode changed");
  const Tensor f = image.dtype() == DType::F32 ? image.contiguous() : image.to(DType::F32);
  const int c = static_cast<int>(image.dim(0));
  const int64_t h = image.dim(1), w = image.dim(2);
  DIFFUSE_CHECK(h > 0 && w > 0 && h <= INT32_MAX && w <= INT32_MAX, "image_to_rgb8: bad image size ",
                shape_str(image.shape()));
  Image8 out;
  out.width = static_cast<int>(w);
  out.height = static_cast<int>(h);
  out.channels = c;
  out.pixels.resize(static_cast<size_t>(h * w * c));
  const float* src = f.data<float>();
  for (int ch = 0; ch < c; ++ch) {
    const float* plane = src + static_cast<size_t>(ch) * h * w;
    for (int64_t i = 0; i < h * w; ++i) out.pixels[static_cast<size_t>(i * c + ch)] = unit_float_to_byte(plane[i]);
  }
  return out;
}

}  // namespace diffuse::io
