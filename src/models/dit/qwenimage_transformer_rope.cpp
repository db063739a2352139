#include "models/dit/qwenimage_transformer_rope.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"
#include "runtime/parallel.h"

namespace diffuse::models {

QwenRopePosition qwen_image_token_position(const QwenImageGrid& g, int64_t frame, int64_t row, int64_t col) {
  // scale_rope: the first h - h/2 rows take the negative table's last entries, the rest 0, 1, ...
  return {frame, row - (g.height - g.height / 2), col - (g.width - g.width / 2)};
}

int64_t qwen_text_position_base(const QwenImageGrid& g) { return std::max(g.height / 2, g.width / 2); }

ops::RopeTables qwen_image_rope_tables(const QwenImageGrid& g, int64_t txt_len,
                                       const std::vector<int64_t>& axes_dims, float theta) {
  DIFFUSE_CHECK(axes_dims.size() == 3, "Qwen-Image RoPE: axes_dims_rope must have 3 entries (frame, row, col), got ",
                axes_dims.size());
  DIFFUSE_CHECK(g.frames > 0 && g.height > 0 && g.width > 0 && txt_len >= 0, "Qwen-Image RoPE: invalid grid ",
                g.frames, "x", g.height, "x", g.width, " or text length ", txt_len);
  int64_t head_dim = 0;
  std::vector<Tensor> inv_freq;
  for (int64_t a : axes_dims) {
    inv_freq.push_back(ops::rope_inv_freq(a, theta));  // validates a > 0 and even
    head_dim += a;
  }
  const int64_t n_img = g.tokens(), len = txt_len + n_img;
  ops::RopeTables t{Tensor::empty({len, head_dim}, DType::F32), Tensor::empty({len, head_dim}, DType::F32)};
  float* cos_out = t.cos.data_mut<float>();
  float* sin_out = t.sin.data_mut<float>();
  const int64_t text_base = qwen_text_position_base(g);

  parallel_for(len, 64, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      int64_t pos[3];
      if (s < txt_len) {
        pos[0] = pos[1] = pos[2] = text_base + s;
      } else {
        const int64_t i = s - txt_len, plane = g.height * g.width;
        const QwenRopePosition p = qwen_image_token_position(g, i / plane, (i % plane) / g.width, i % g.width);
        pos[0] = p.frame;
        pos[1] = p.row;
        pos[2] = p.col;
      }
      float* c = cos_out + s * head_dim;
      float* sn = sin_out + s * head_dim;
      for (size_t a = 0; a < 3; ++a) {
        const float* f = inv_freq[a].data<float>();
        const float p = static_cast<float>(pos[a]);
        for (int64_t k = 0; k < axes_dims[a] / 2; ++k) {
          // torch.outer(index, inv_freq) is an f32 product; polar() takes cos / sin of it.
          const double angle = static_cast<double>(p * f[k]);
          c[2 * k] = c[2 * k + 1] = static_cast<float>(std::cos(angle));
          sn[2 * k] = sn[2 * k + 1] = static_cast<float>(std::sin(angle));
        }
        c += axes_dims[a];
        sn += axes_dims[a];
      }
    }
  });
  return t;
}

}  // namespace diffuse::models
