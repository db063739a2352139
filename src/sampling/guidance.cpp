#include "sampling/guidance.h"

#include <cmath>

#include "runtime/error.h"
#include "runtime/parallel.h"

namespace diffuse {

namespace {

// f32 contiguous, copied only when it is not already.
Tensor f32_contiguous(const Tensor& t) { return t.dtype() == DType::F32 ? t.contiguous() : t.to(DType::F32); }

void check_pair(const Tensor& cond, const Tensor& uncond, const char* what) {
  DIFFUSE_CHECK(cond.shape() == uncond.shape(), what, ": cond ", shape_str(cond.shape()), " vs uncond ",
                shape_str(uncond.shape()));
}

}  // namespace

Tensor cfg_combine(const Tensor& cond_in, const Tensor& uncond_in, float scale) {
  check_pair(cond_in, uncond_in, "cfg_combine");
  const Tensor cond = f32_contiguous(cond_in);
  const Tensor uncond = f32_contiguous(uncond_in);
  Tensor out = Tensor::empty(cond.shape(), DType::F32);
  const float* c = cond.data<float>();
  const float* u = uncond.data<float>();
  float* o = out.data_mut<float>();
  parallel_for(out.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) o[i] = u[i] + scale * (c[i] - u[i]);
  });
  return out;
}

Tensor cfg_combine_norm_rescaled(const Tensor& cond_in, const Tensor& uncond_in, float scale) {
  check_pair(cond_in, uncond_in, "cfg_combine_norm_rescaled");
  DIFFUSE_CHECK(cond_in.ndim() >= 1 && cond_in.dim(-1) > 0, "cfg_combine_norm_rescaled: empty last dim");
  const Tensor cond = f32_contiguous(cond_in);
  const Tensor uncond = f32_contiguous(uncond_in);
  Tensor out = Tensor::empty(cond.shape(), DType::F32);
  const int64_t width = cond.dim(-1);
  const float* c = cond.data<float>();
  const float* u = uncond.data<float>();
  float* o = out.data_mut<float>();
  parallel_for(cond.numel() / width, 64, [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      const float* cr = c + row * width;
      const float* ur = u + row * width;
      float* orow = o + row * width;
      double cond_sq = 0.0, comb_sq = 0.0;
      for (int64_t i = 0; i < width; ++i) {
        orow[i] = ur[i] + scale * (cr[i] - ur[i]);
        cond_sq += static_cast<double>(cr[i]) * cr[i];
        comb_sq += static_cast<double>(orow[i]) * orow[i];
      }
      if (comb_sq == 0.0) continue;
      const float factor = static_cast<float>(std::sqrt(cond_sq) / std::sqrt(comb_sq));
      for (int64_t i = 0; i < width; ++i) orow[i] *= factor;
    }
  });
  return out;
}

}  // namespace diffuse
