#include "sampling/guidance.h"

#include "runtime/error.h"
#include "runtime/parallel.h"

namespace diffuse {

Tensor cfg_combine(const Tensor& cond_in, const Tensor& uncond_in, float scale) {
  DIFFUSE_CHECK(cond_in.shape() == uncond_in.shape(), "cfg_combine: cond ", shape_str(cond_in.shape()),
                " vs uncond ", shape_str(uncond_in.shape()));
  const Tensor cond = cond_in.to(DType::F32).contiguous();
  const Tensor uncond = uncond_in.to(DType::F32).contiguous();
  Tensor out = Tensor::empty(cond.shape(), DType::F32);
  const float* c = cond.data<float>();
  const float* u = uncond.data<float>();
  float* o = out.data_mut<float>();
  parallel_for(out.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) o[i] = u[i] + scale * (c[i] - u[i]);
  });
  return out;
}

}  // namespace diffuse
