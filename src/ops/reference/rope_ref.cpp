#include "ops/reference/rope_ref.h"

#include <cmath>

namespace diffuse::ops::ref {

RopeTables rope_tables_multi_axis(const Tensor& ids, const std::vector<int64_t>& axes_dim, double theta) {
  int64_t dim = 0;
  for (int64_t d : axes_dim) dim += d;
  const int64_t s = ids.dim(0);
  RopeTables t{Tensor::empty({s, dim}, DType::F32), Tensor::empty({s, dim}, DType::F32)};
  float* c = t.cos.data_mut<float>();
  float* sn = t.sin.data_mut<float>();
  for (int64_t i = 0; i < s; ++i) {
    int64_t col = 0;
    for (size_t a = 0; a < axes_dim.size(); ++a) {
      const double pos = static_cast<float>(ids.item({i, static_cast<int64_t>(a)}));  // ids.float()
      for (int64_t j = 0; j < axes_dim[a] / 2; ++j) {
        const double angle = pos * std::pow(theta, -2.0 * j / axes_dim[a]);
        for (int k = 0; k < 2; ++k, ++col) {
          c[i * dim + col] = static_cast<float>(std::cos(angle));
          sn[i * dim + col] = static_cast<float>(std::sin(angle));
        }
      }
    }
  }
  return t;
}

namespace {

double table_at(const Tensor& t, int64_t b, int64_t s, int64_t i) {
  return t.ndim() == 2 ? t.item({s, i}) : t.item({b, s, i});
}

template <typename Rotate>
Tensor rotate(const Tensor& x, Rotate rotate_row) {
  const int64_t b = x.dim(0), s = x.dim(1), h = x.dim(2), d = x.dim(3);
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  float* o = out.data_mut<float>();
  std::vector<double> row(d), res(d);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t si = 0; si < s; ++si)
      for (int64_t hi = 0; hi < h; ++hi) {
        for (int64_t i = 0; i < d; ++i) row[i] = x.item({bi, si, hi, i});
        res = row;
        rotate_row(row, res, bi, si);
        for (int64_t i = 0; i < d; ++i) o[((bi * s + si) * h + hi) * d + i] = static_cast<float>(res[i]);
      }
  return out;
}

}  // namespace

Tensor rope_interleaved(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  return rotate(x, [&](const std::vector<double>& v, std::vector<double>& r, int64_t b, int64_t s) {
    for (size_t i = 0; i + 1 < v.size(); i += 2) {
      // Complex multiply of (v[i] + i v[i+1]) by (cos + i sin), per channel tables.
      r[i] = v[i] * table_at(cos, b, s, i) - v[i + 1] * table_at(sin, b, s, i);
      r[i + 1] = v[i + 1] * table_at(cos, b, s, i + 1) + v[i] * table_at(sin, b, s, i + 1);
    }
  });
}

Tensor rope_rotate_half(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  const int64_t rot = cos.dim(-1), half = rot / 2;
  return rotate(x, [&](const std::vector<double>& v, std::vector<double>& r, int64_t b, int64_t s) {
    // rotate_half(v) = cat(-v[half:rot], v[:half]); out = v * cos + rotate_half(v) * sin.
    for (int64_t i = 0; i < rot; ++i) {
      const double rotated = i < half ? -v[i + half] : v[i - half];
      r[i] = v[i] * table_at(cos, b, s, i) + rotated * table_at(sin, b, s, i);
    }
  });
}

}  // namespace diffuse::ops::ref
