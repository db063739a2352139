#include "ops/rope.h"

#include <cmath>

#include "ops/tensor_args.h"
#include "ops/vec_math.h"
#include "runtime/parallel.h"
#include "runtime/profiler.h"

namespace diffuse::ops {
namespace {

// Positions / ids as a contiguous f32 tensor (integer ids are converted exactly below 2^24).
Tensor positions_as_f32(const Tensor& t, const char* op, const char* what) {
  check_defined(t, op, what);
  const DType d = t.dtype();
  DIFFUSE_CHECK(d == DType::F32 || d == DType::I32 || d == DType::I64, op, ": ", what,
                " must be F32, I32 or I64, got ", dtype_name(d));
  if (d == DType::F32 && t.is_contiguous()) return t;
  return t.to(DType::F32);
}

// Validated view of a cos/sin table pair for x [B, S, H, D] rotating `width` channels.
struct TablePair {
  const float* cos = nullptr;
  const float* sin = nullptr;
  int64_t width = 0;
  int64_t batch_stride = 0;  // 0 when shared by the batch

  const float* cos_row(int64_t b, int64_t s) const { return cos + b * batch_stride + s * width; }
  const float* sin_row(int64_t b, int64_t s) const { return sin + b * batch_stride + s * width; }
};

TablePair table_pair(const Tensor& x, const Tensor& cos, const Tensor& sin, const char* op) {
  check_f32(cos, op, "cos");
  check_f32(sin, op, "sin");
  check_contiguous(cos, op, "cos");
  check_contiguous(sin, op, "sin");
  DIFFUSE_CHECK(cos.shape() == sin.shape(), op, ": cos ", shape_str(cos.shape()), " and sin ",
                shape_str(sin.shape()), " differ");
  const int64_t batch = x.dim(0), tokens = x.dim(1);
  const bool shared = cos.ndim() == 2 && cos.dim(0) == tokens;
  const bool per_batch = cos.ndim() == 3 && cos.dim(0) == batch && cos.dim(1) == tokens;
  DIFFUSE_CHECK(shared || per_batch, op, ": tables must be [S, R] or [B, S, R] for x ",
                shape_str(x.shape()), " ([B, S, H, D]), got ", shape_str(cos.shape()));
  TablePair t;
  t.cos = cos.data<float>();
  t.sin = sin.data<float>();
  t.width = cos.dim(-1);
  t.batch_stride = per_batch ? tokens * t.width : 0;
  return t;
}

// Calls fn(row pointer, b, s) for every head row of a writable [B, S, H, D] view, in parallel.
template <typename Fn>
void for_each_head_row(Tensor& x, const char* op, Fn fn) {
  const Rows rows(x, op, "x");
  const int64_t tokens = x.dim(1), heads = x.dim(2);
  float* base = x.data_mut<float>();
  parallel_for(rows.count(), rows_grain(rows.width(), 1 << 13), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t bs = r / heads;
      fn(base + rows.offset(r), bs / tokens, bs % tokens);
    }
  });
}

// The reference multiplies and adds as separate rounded operations: no FMA contraction.
DIFFUSE_VECTOR_CLONES void rotate_pairs(float* row, const float* c, const float* sn, int64_t d) {
#pragma omp simd
  for (int64_t i = 0; i < d; i += 2) {
    // x0*c - x1*s written as x0*c + (-x1)*s (the same bits): with a sub/add pair the
    // vectorizer forms vfmaddsub despite fp-contract=off.
    const float x0 = row[i], x1 = row[i + 1];
    row[i] = x0 * c[i] + (-x1) * sn[i];
    row[i + 1] = x1 * c[i + 1] + x0 * sn[i + 1];
  }
}

DIFFUSE_VECTOR_CLONES void rotate_halves(float* row, const float* c, const float* sn, int64_t half) {
  float* lo = row;
  float* hi = row + half;
#pragma omp simd
  for (int64_t i = 0; i < half; ++i) {
    const float x0 = lo[i], x1 = hi[i];
    lo[i] = x0 * c[i] - x1 * sn[i];
    hi[i] = x1 * c[i + half] + x0 * sn[i + half];
  }
}

void check_x(const Tensor& x, const char* op) {
  check_f32(x, op, "x");
  check_rank(x, 4, op, "x");
  check_writable(x, op, "x");
}

}  // namespace

RopeTables rope_tables_multi_axis(const Tensor& ids, const std::vector<int64_t>& axes_dim,
                                  double theta) {
  const char* op = "rope_tables_multi_axis";
  check_rank(ids, 2, op, "ids");
  DIFFUSE_CHECK(ids.dim(1) == static_cast<int64_t>(axes_dim.size()), op, ": ids have ", ids.dim(1),
                " axes but axes_dim has ", axes_dim.size(), " entries");
  DIFFUSE_CHECK(std::isfinite(theta) && theta > 0, op, ": theta must be positive, got ", theta);
  int64_t dim = 0;
  for (int64_t d : axes_dim) {
    DIFFUSE_CHECK(d > 0 && d % 2 == 0, op, ": every axis width must be positive and even, got ", d);
    dim += d;
  }
  const Tensor pos = positions_as_f32(ids, op, "ids");
  const int64_t tokens = ids.dim(0), n_axes = ids.dim(1);
  // Per pair frequency in float64: 1 / theta^(2j / d_a).
  std::vector<double> freq;
  std::vector<int64_t> freq_axis;
  for (int64_t a = 0; a < n_axes; ++a) {
    for (int64_t j = 0; j < axes_dim[a] / 2; ++j) {
      freq.push_back(1.0 / std::pow(theta, static_cast<double>(2 * j) / static_cast<double>(axes_dim[a])));
      freq_axis.push_back(a);
    }
  }
  RopeTables t{Tensor::empty({tokens, dim}, DType::F32), Tensor::empty({tokens, dim}, DType::F32)};
  const float* p = pos.data<float>();
  float* c = t.cos.data_mut<float>();
  float* s = t.sin.data_mut<float>();
  const int64_t pairs = dim / 2;
  parallel_for(tokens, rows_grain(dim, 1 << 11), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t j = 0; j < pairs; ++j) {
        const double angle = static_cast<double>(p[i * n_axes + freq_axis[j]]) * freq[j];
        const float cv = static_cast<float>(std::cos(angle));
        const float sv = static_cast<float>(std::sin(angle));
        c[i * dim + 2 * j] = c[i * dim + 2 * j + 1] = cv;
        s[i * dim + 2 * j] = s[i * dim + 2 * j + 1] = sv;
      }
    }
  });
  return t;
}

RopeTables rope_tables_inv_freq(const Tensor& positions, const Tensor& inv_freq,
                                float attention_scaling) {
  const char* op = "rope_tables_inv_freq";
  check_rank(positions, 1, op, "positions");
  check_rank(inv_freq, 1, op, "inv_freq");
  check_f32(inv_freq, op, "inv_freq");
  const Tensor pos = positions_as_f32(positions, op, "positions");
  const Tensor freq = inv_freq.contiguous();
  const int64_t tokens = positions.dim(0), half = inv_freq.dim(0), width = 2 * half;
  RopeTables t{Tensor::empty({tokens, width}, DType::F32), Tensor::empty({tokens, width}, DType::F32)};
  const float* p = pos.data<float>();
  const float* f = freq.data<float>();
  float* c = t.cos.data_mut<float>();
  float* s = t.sin.data_mut<float>();
  parallel_for(tokens, rows_grain(width, 1 << 11), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t j = 0; j < half; ++j) {
        const float angle = p[i] * f[j];  // f32 product, as the reference's f32 matmul
        const float cv = static_cast<float>(std::cos(static_cast<double>(angle))) * attention_scaling;
        const float sv = static_cast<float>(std::sin(static_cast<double>(angle))) * attention_scaling;
        c[i * width + j] = c[i * width + j + half] = cv;
        s[i * width + j] = s[i * width + j + half] = sv;
      }
    }
  });
  return t;
}

Tensor rope_inv_freq(int64_t rot_dim, float theta) {
  DIFFUSE_CHECK(rot_dim > 0 && rot_dim % 2 == 0, "rope_inv_freq: rot_dim must be positive and even, got ",
                rot_dim);
  DIFFUSE_CHECK(std::isfinite(theta) && theta > 0, "rope_inv_freq: theta must be positive, got ", theta);
  Tensor t = Tensor::empty({rot_dim / 2}, DType::F32);
  float* f = t.data_mut<float>();
  for (int64_t j = 0; j < rot_dim / 2; ++j) {
    const float exponent = static_cast<float>(2 * j) / static_cast<float>(rot_dim);
    f[j] = 1.0f / std::pow(theta, exponent);
  }
  return t;
}

void rope_interleaved_inplace(Tensor& x, const Tensor& cos, const Tensor& sin) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  const char* op = "rope_interleaved_inplace";
  check_x(x, op);
  const TablePair t = table_pair(x, cos, sin, op);
  const int64_t d = x.dim(3);
  DIFFUSE_CHECK(t.width == d && d % 2 == 0, op, ": tables have width ", t.width, " for head dim ", d,
                " (must be equal and even)");
  for_each_head_row(x, op, [&](float* row, int64_t b, int64_t s) {
    rotate_pairs(row, t.cos_row(b, s), t.sin_row(b, s), d);
  });
}

void rope_rotate_half_inplace(Tensor& x, const Tensor& cos, const Tensor& sin) {
  ProfileScope scope(profile_scopes::kNormElementwise);
  const char* op = "rope_rotate_half_inplace";
  check_x(x, op);
  const TablePair t = table_pair(x, cos, sin, op);
  const int64_t d = x.dim(3), rot = t.width, half = rot / 2;
  DIFFUSE_CHECK(rot % 2 == 0 && rot <= d, op, ": tables have width ", rot, " for head dim ", d,
                " (must be even and at most the head dim)");
  for_each_head_row(x, op, [&](float* row, int64_t b, int64_t s) {
    rotate_halves(row, t.cos_row(b, s), t.sin_row(b, s), half);
  });
}

}  // namespace diffuse::ops
