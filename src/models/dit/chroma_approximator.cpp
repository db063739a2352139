#include "models/dit/chroma_approximator.h"

#include <cstring>

#include "models/dit/flux_blocks.h"
#include "ops/activation.h"
#include "ops/norm.h"
#include "ops/timestep_embedding.h"

namespace diffuse::models {

namespace {

ops::TimestepEmbeddingOptions chroma_sinusoid() {
  ops::TimestepEmbeddingOptions o;
  o.flip_sin_to_cos = true;
  o.downscale_freq_shift = 0.0f;
  return o;
}

}  // namespace

ChromaTimestepRows::ChromaTimestepRows(int64_t num_channels, int64_t rows) : num_channels_(num_channels) {
  DIFFUSE_CHECK(num_channels > 0 && rows > 0, "Chroma time_text_embed: bad sizes ", num_channels, ", ", rows);
  guidance_part_ = ops::timestep_embedding(Tensor::zeros({1}, DType::F32), num_channels, chroma_sinusoid());
  // Row indices times 1000 as f32 values (exact: rows * 1000 < 2^24 for any real row count).
  std::vector<float> index(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) index[static_cast<size_t>(r)] = static_cast<float>(r * 1000);
  row_part_ = ops::timestep_embedding(Tensor::from_f32({rows}, index), 2 * num_channels, chroma_sinusoid());
}

Tensor ChromaTimestepRows::forward(const Tensor& timestep_x1000) const {
  DIFFUSE_CHECK(timestep_x1000.ndim() == 1, "Chroma time_text_embed: timestep must be [B], got ",
                shape_str(timestep_x1000.shape()));
  const int64_t batch = timestep_x1000.dim(0), rows = row_part_.dim(0), c = num_channels_;
  const Tensor time_part = ops::timestep_embedding(timestep_x1000, c, chroma_sinusoid());  // [B, C]
  Tensor out = Tensor::empty({batch, rows, 4 * c}, DType::F32);
  float* dst = out.data_mut<float>();
  const float* tp = time_part.data<float>();
  const float* gp = guidance_part_.data<float>();
  const float* rp = row_part_.data<float>();
  const size_t part = static_cast<size_t>(c) * sizeof(float);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < rows; ++r) {
      float* row = dst + (b * rows + r) * 4 * c;
      std::memcpy(row, tp + b * c, part);
      std::memcpy(row + c, gp, part);
      std::memcpy(row + 2 * c, rp + r * 2 * c, 2 * part);
    }
  }
  return out;
}

ChromaApproximator::ChromaApproximator(io::WeightBinder& b, int64_t in_dim, int64_t hidden_dim, int64_t out_dim,
                                       int64_t layers, const ModelOptions& o)
    : precision_(o.precision) {
  in_proj_ = LinearLayer(b, "in_proj", in_dim, hidden_dim, true, o);
  for (int64_t i = 0; i < layers; ++i) {
    const std::string idx = std::to_string(i);
    linear_1_.emplace_back(b, "layers." + idx + ".linear_1", hidden_dim, hidden_dim, true, o);
    linear_2_.emplace_back(b, "layers." + idx + ".linear_2", hidden_dim, hidden_dim, true, o);
    norms_.push_back(f32_param(b.take("norms." + idx + ".weight", {hidden_dim})));
  }
  out_proj_ = LinearLayer(b, "out_proj", hidden_dim, out_dim, true, o);
}

Tensor ChromaApproximator::forward(const Tensor& x) const {
  ops::RmsNormOptions norm;
  norm.flavor = ops::RmsNormFlavor::Torch;
  norm.eps = std::nullopt;  // torch.nn.RMSNorm(eps=None)
  Tensor h = in_proj_.forward(gemm_input(x, precision_));
  for (size_t i = 0; i < linear_1_.size(); ++i) {
    const Tensor n = gemm_input(ops::rms_norm(h, &norms_[i], norm), precision_);
    const Tensor t = gemm_input(linear_1_[i].forward(n, {.activation = ops::Activation::Silu}), precision_);
    linear_2_[i].forward_into(t, h, {.residual = h});
  }
  return out_proj_.forward(gemm_input(h, precision_));
}

}  // namespace diffuse::models
