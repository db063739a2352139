#include "ops/reference/conv_ref.h"

#include <vector>

namespace diffuse::ops::ref {

Tensor conv2d_ref(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dOptions& o) {
  const int64_t n = x.dim(0), ic = x.dim(1), h = x.dim(2), w = x.dim(3);
  const int64_t oc = weight.dim(0), kh = weight.dim(2), kw = weight.dim(3);
  DIFFUSE_CHECK(weight.dim(1) == ic, "conv2d_ref: channel mismatch");
  const int64_t oh = (h + o.pad_top + o.pad_bottom - kh) / o.stride_h + 1;
  const int64_t ow = (w + o.pad_left + o.pad_right - kw) / o.stride_w + 1;
  const std::vector<float> xv = x.to_f32_vector(), wv = weight.to_f32_vector();
  const std::vector<float> bv = bias ? bias->to_f32_vector() : std::vector<float>(oc, 0.f);
  Tensor out = Tensor::empty({n, oc, oh, ow}, DType::F32);
  float* y = out.data_mut<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o_ = 0; o_ < oc; ++o_)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double s = bv[o_];
          for (int64_t c = 0; c < ic; ++c)
            for (int64_t u = 0; u < kh; ++u)
              for (int64_t v = 0; v < kw; ++v) {
                const int64_t yy = i * o.stride_h - o.pad_top + u, xx = j * o.stride_w - o.pad_left + v;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;  // zero padding
                s += double(xv[((b * ic + c) * h + yy) * w + xx]) * wv[((o_ * ic + c) * kh + u) * kw + v];
              }
          y[((b * oc + o_) * oh + i) * ow + j] = static_cast<float>(s);
        }
  return out;
}

}  // namespace diffuse::ops::ref
