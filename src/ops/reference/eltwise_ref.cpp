#include "ops/reference/eltwise_ref.h"

#include <algorithm>

namespace diffuse::ops::ref {
namespace {

// Calls fn(index) for every multi-index of `shape` in row-major order.
void for_each_index(const Shape& shape, const std::function<void(const std::vector<int64_t>&)>& fn) {
  const int64_t n = shape_numel(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    fn(idx);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

Tensor broadcast_map(const std::vector<Tensor>& inputs,
                     const std::function<double(const std::vector<double>&)>& f) {
  size_t rank = 0;
  for (const Tensor& t : inputs) rank = std::max(rank, static_cast<size_t>(t.ndim()));
  Shape out_shape(rank, 1);
  for (const Tensor& t : inputs) {
    for (int d = 0; d < t.ndim(); ++d) {
      const size_t od = rank - t.ndim() + d;
      if (t.shape()[d] != 1) out_shape[od] = t.shape()[d];
    }
  }
  Tensor out = Tensor::empty(out_shape, DType::F32);
  float* o = out.data_mut<float>();
  int64_t flat = 0;
  std::vector<double> args(inputs.size());
  for_each_index(out_shape, [&](const std::vector<int64_t>& idx) {
    for (size_t k = 0; k < inputs.size(); ++k) {
      const Tensor& t = inputs[k];
      std::vector<int64_t> ti(t.ndim());
      for (int d = 0; d < t.ndim(); ++d) {
        ti[d] = t.shape()[d] == 1 ? 0 : idx[rank - t.ndim() + d];
      }
      args[k] = t.item(ti);
    }
    o[flat++] = static_cast<float>(f(args));
  });
  return out;
}

Tensor concat(const std::vector<Tensor>& parts, int dim) {
  const int rank = parts[0].ndim();
  const int d = dim < 0 ? dim + rank : dim;
  Shape shape = parts[0].shape();
  shape[d] = 0;
  for (const Tensor& p : parts) shape[d] += p.shape()[d];
  Tensor out = Tensor::empty(shape, parts[0].dtype());
  for_each_index(shape, [&](const std::vector<int64_t>& idx) {
    std::vector<int64_t> src = idx;
    size_t k = 0;
    while (src[d] >= parts[k].shape()[d]) src[d] -= parts[k++].shape()[d];
    // Write through a one-element view so every dtype is handled by copy_from.
    Tensor dst = out;
    Tensor from = parts[k];
    for (int a = rank - 1; a >= 0; --a) {
      dst = dst.select(a, idx[a]);
      from = from.select(a, src[a]);
    }
    dst.copy_from(from);
  });
  return out;
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value) {
  Shape shape = x.shape();
  std::vector<int64_t> before(x.ndim(), 0);
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    const int d = x.ndim() - 1 - static_cast<int>(i);
    before[d] = pads[2 * i];
    shape[d] += pads[2 * i] + pads[2 * i + 1];
  }
  Tensor out = Tensor::empty(shape, DType::F32);
  float* o = out.data_mut<float>();
  int64_t flat = 0;
  for_each_index(shape, [&](const std::vector<int64_t>& idx) {
    std::vector<int64_t> src(idx.size());
    bool inside = true;
    for (size_t d = 0; d < idx.size(); ++d) {
      src[d] = idx[d] - before[d];
      inside = inside && src[d] >= 0 && src[d] < x.shape()[d];
    }
    o[flat++] = inside ? static_cast<float>(x.item(src)) : value;
  });
  return out;
}

Tensor permute_copy(const Tensor& t, const std::vector<int>& order) {
  Shape shape(order.size());
  for (size_t i = 0; i < order.size(); ++i) shape[i] = t.shape()[order[i]];
  Tensor out = Tensor::empty(shape, t.dtype());
  for_each_index(shape, [&](const std::vector<int64_t>& idx) {
    std::vector<int64_t> src(idx.size());
    for (size_t i = 0; i < order.size(); ++i) src[order[i]] = idx[i];
    Tensor dst = out, from = t;
    for (int a = static_cast<int>(idx.size()) - 1; a >= 0; --a) {
      dst = dst.select(a, idx[a]);
      from = from.select(a, src[a]);
    }
    dst.copy_from(from);
  });
  return out;
}

Tensor pack_patches(const Tensor& z, int64_t p, PatchOrder order) {
  const int64_t b = z.dim(0), c = z.dim(1), rows = z.dim(2) / p, cols = z.dim(3) / p;
  Tensor out = Tensor::empty({b, rows * cols, c * p * p}, DType::F32);
  float* o = out.data_mut<float>();
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t col = 0; col < cols; ++col)
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t dy = 0; dy < p; ++dy)
            for (int64_t dx = 0; dx < p; ++dx) {
              const int64_t feature = order == PatchOrder::ChannelMajor ? ch * p * p + dy * p + dx
                                                                        : (dy * p + dx) * c + ch;
              o[(bi * rows * cols + r * cols + col) * c * p * p + feature] =
                  static_cast<float>(z.item({bi, ch, r * p + dy, col * p + dx}));
            }
  return out;
}

Tensor upsample_nearest2d(const Tensor& x, int64_t f) {
  Tensor out = Tensor::empty({x.dim(0), x.dim(1), x.dim(2) * f, x.dim(3) * f}, DType::F32);
  float* o = out.data_mut<float>();
  int64_t flat = 0;
  for_each_index(out.shape(), [&](const std::vector<int64_t>& i) {
    o[flat++] = static_cast<float>(x.item({i[0], i[1], i[2] / f, i[3] / f}));
  });
  return out;
}

}  // namespace diffuse::ops::ref
