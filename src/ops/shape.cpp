#include "ops/shape.h"

#include <algorithm>
#include <cstring>

#include "ops/tensor_args.h"
#include "runtime/parallel.h"

namespace diffuse::ops {
namespace {

// A view reduced to its essential dims: size-1 dims dropped and dims that are adjacent in
// memory merged. The merged view addresses the same elements in the same order.
struct MergedView {
  Shape shape;
  Shape strides;
};

MergedView merge_dims(const Tensor& t) {
  MergedView m;
  for (int d = 0; d < t.ndim(); ++d) {
    const int64_t size = t.shape()[d], stride = t.strides()[d];
    if (size == 1) continue;
    if (!m.shape.empty() && m.strides.back() == stride * size) {
      m.shape.back() *= size;
      m.strides.back() = stride;
    } else {
      m.shape.push_back(size);
      m.strides.push_back(stride);
    }
  }
  return m;
}

// Element offset of outer index `row` over dims [0, dims) of a merged view.
int64_t outer_offset(const MergedView& m, int dims, int64_t row) {
  int64_t off = 0;
  for (int d = dims - 1; d >= 0; --d) {
    off += (row % m.shape[d]) * m.strides[d];
    row /= m.shape[d];
  }
  return off;
}

// Copies rows that are contiguous in the source: the merged innermost stride is 1.
void copy_rows(const std::byte* src, std::byte* dst, const MergedView& m, size_t es) {
  const int rank = static_cast<int>(m.shape.size());
  const int64_t len = m.shape.back();
  int64_t rows = 1;
  for (int d = 0; d + 1 < rank; ++d) rows *= m.shape[d];
  parallel_for(rows, rows_grain(len, 1 << 15), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      std::memcpy(dst + static_cast<size_t>(r * len) * es,
                  src + static_cast<size_t>(outer_offset(m, rank - 1, r)) * es, static_cast<size_t>(len) * es);
    }
  });
}

// out[r, c] = in[r * 1 + c * col_stride] for each outer index: a 2-D transpose where the
// source is contiguous along r. Tiles keep both sides in cache.
template <typename T>
void transpose_tiles(const T* src, T* dst, const MergedView& m) {
  constexpr int64_t kTile = 32;
  const int rank = static_cast<int>(m.shape.size());
  const int64_t rows = m.shape[rank - 2], cols = m.shape[rank - 1];
  const int64_t col_stride = m.strides[rank - 1];
  int64_t outer = 1;
  for (int d = 0; d + 2 < rank; ++d) outer *= m.shape[d];
  const int64_t row_tiles = (rows + kTile - 1) / kTile, col_tiles = (cols + kTile - 1) / kTile;
  const int64_t tiles = row_tiles * col_tiles;
  parallel_for(outer * tiles, 4, [&](int64_t begin, int64_t end) {
    for (int64_t job = begin; job < end; ++job) {
      const int64_t o = job / tiles, tile = job % tiles;
      const int64_t r0 = (tile / col_tiles) * kTile, c0 = (tile % col_tiles) * kTile;
      const int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      const T* s = src + outer_offset(m, rank - 2, o);
      T* d = dst + o * rows * cols;
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = c0; c < c1; ++c) d[r * cols + c] = s[r + c * col_stride];
      }
    }
  });
}

void transpose_any(const void* src, void* dst, const MergedView& m, size_t es) {
  switch (es) {
    case 1: return transpose_tiles(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), m);
    case 2: return transpose_tiles(static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst), m);
    case 4: return transpose_tiles(static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), m);
    case 8: return transpose_tiles(static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst), m);
    default: fail("materialize: unsupported element size ", es);
  }
}

}  // namespace

Tensor materialize(const Tensor& t) {
  check_defined(t, "materialize", "t");
  if (t.is_contiguous()) return t;
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  if (out.numel() == 0) return out;
  const MergedView m = merge_dims(t);
  const size_t es = dtype_size(t.dtype());
  const int rank = static_cast<int>(m.shape.size());
  // is_contiguous() was false, so at least one dim survives merging.
  if (m.strides.back() == 1) {
    copy_rows(static_cast<const std::byte*>(t.raw()), static_cast<std::byte*>(out.raw_mut()), m, es);
  } else if (rank >= 2 && m.strides[rank - 2] == 1) {
    transpose_any(t.raw(), out.raw_mut(), m, es);
  } else {
    out.copy_from(t);  // rare layouts: the generic strided copy
  }
  return out;
}

Tensor permute_copy(const Tensor& t, const std::vector<int>& order) { return materialize(t.permute(order)); }

Tensor concat(const std::vector<Tensor>& parts, int dim) {
  const char* op = "concat";
  DIFFUSE_CHECK(!parts.empty(), op, ": no tensors given");
  const Tensor& first = parts.front();
  check_defined(first, op, "part 0");
  const int rank = first.ndim();
  DIFFUSE_CHECK(rank > 0, op, ": cannot concatenate scalars");
  const int d = dim < 0 ? dim + rank : dim;
  DIFFUSE_CHECK(d >= 0 && d < rank, op, ": dim ", dim, " out of range for rank ", rank);
  Shape out_shape = first.shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& p = parts[i];
    check_defined(p, op, "a part");
    DIFFUSE_CHECK(p.dtype() == first.dtype(), op, ": part ", i, " has dtype ", dtype_name(p.dtype()),
                  ", part 0 has ", dtype_name(first.dtype()));
    bool same = p.ndim() == rank;
    for (int k = 0; same && k < rank; ++k) same = k == d || p.shape()[k] == first.shape()[k];
    DIFFUSE_CHECK(same, op, ": part ", i, " has shape ", shape_str(p.shape()), ", incompatible with ",
                  shape_str(first.shape()), " along dim ", d);
    out_shape[d] += p.shape()[d];
  }
  Tensor out = Tensor::empty(out_shape, first.dtype());
  const size_t es = dtype_size(first.dtype());
  int64_t outer = 1, inner = 1;
  for (int k = 0; k < d; ++k) outer *= out_shape[k];
  for (int k = d + 1; k < rank; ++k) inner *= out_shape[k];
  const size_t out_block = static_cast<size_t>(out_shape[d] * inner) * es;
  std::byte* dst = static_cast<std::byte*>(out.raw_mut());
  size_t offset = 0;  // bytes into each outer block
  for (const Tensor& part : parts) {
    const Tensor src_t = materialize(part);
    const size_t block = static_cast<size_t>(part.shape()[d] * inner) * es;
    const std::byte* src = static_cast<const std::byte*>(src_t.raw());
    if (block > 0) {
      parallel_for(outer, rows_grain(static_cast<int64_t>(block), 1 << 16), [&](int64_t begin, int64_t end) {
        for (int64_t o = begin; o < end; ++o) {
          std::memcpy(dst + static_cast<size_t>(o) * out_block + offset, src + static_cast<size_t>(o) * block, block);
        }
      });
    }
    offset += block;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& t, const std::vector<int64_t>& sizes, int dim) {
  check_defined(t, "split", "t");
  const int64_t total = t.dim(dim);
  int64_t sum = 0;
  for (int64_t s : sizes) {
    DIFFUSE_CHECK(s >= 0, "split: negative size ", s);
    sum += s;
  }
  DIFFUSE_CHECK(sum == total, "split: sizes sum to ", sum, " but dim ", dim, " of ",
                shape_str(t.shape()), " has ", total);
  std::vector<Tensor> out;
  int64_t begin = 0;
  for (int64_t s : sizes) {
    out.push_back(t.slice(dim, begin, begin + s));
    begin += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& t, int64_t n, int dim) {
  check_defined(t, "chunk", "t");
  DIFFUSE_CHECK(n > 0, "chunk: number of chunks must be positive, got ", n);
  const int64_t total = t.dim(dim);
  const int64_t each = (total + n - 1) / n;  // torch.chunk: the last piece may be smaller
  std::vector<int64_t> sizes;
  for (int64_t begin = 0; begin < total; begin += each) sizes.push_back(std::min(each, total - begin));
  if (sizes.empty()) sizes.push_back(0);
  return split(t, sizes, dim);
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value) {
  const char* op = "pad";
  check_f32(x, op, "x");
  DIFFUSE_CHECK(pads.size() % 2 == 0 && static_cast<int>(pads.size()) / 2 <= x.ndim(), op,
                ": pads must hold (before, after) pairs for at most ", x.ndim(), " dims, got ",
                pads.size(), " values");
  Shape out_shape = x.shape();
  std::vector<int64_t> before(x.ndim(), 0);
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    const int d = x.ndim() - 1 - static_cast<int>(i);
    DIFFUSE_CHECK(pads[2 * i] >= 0 && pads[2 * i + 1] >= 0, op, ": negative padding is not supported");
    before[d] = pads[2 * i];
    out_shape[d] += pads[2 * i] + pads[2 * i + 1];
  }
  Tensor out = Tensor::empty(out_shape, DType::F32);
  float* o = out.data_mut<float>();
  std::fill(o, o + out.numel(), value);
  if (x.numel() == 0) return out;
  Tensor interior = out;
  for (int d = 0; d < x.ndim(); ++d) interior = interior.slice(d, before[d], before[d] + x.dim(d));
  const Tensor src = materialize(x);
  const float* s = src.data<float>();
  const Rows rows(interior, op, "interior");
  float* base = interior.data_mut<float>();
  const int64_t w = rows.width();
  parallel_for(rows.count(), rows_grain(w), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      std::memcpy(base + rows.offset(r), s + r * w, static_cast<size_t>(w) * sizeof(float));
    }
  });
  return out;
}

Tensor pack_patches(const Tensor& z, int64_t patch, PatchOrder order) {
  const char* op = "pack_patches";
  check_rank(z, 4, op, "z");
  const int64_t b = z.dim(0), c = z.dim(1), h = z.dim(2), w = z.dim(3);
  DIFFUSE_CHECK(patch > 0 && h % patch == 0 && w % patch == 0, op, ": latent ", shape_str(z.shape()),
                " is not divisible into ", patch, "x", patch, " patches");
  const Tensor g = materialize(z).reshape({b, c, h / patch, patch, w / patch, patch});
  // g dims: 0 B, 1 C, 2 rows, 3 dy, 4 cols, 5 dx.
  const std::vector<int> perm = order == PatchOrder::ChannelMajor ? std::vector<int>{0, 2, 4, 1, 3, 5}
                                                                  : std::vector<int>{0, 2, 4, 3, 5, 1};
  return permute_copy(g, perm).reshape({b, (h / patch) * (w / patch), c * patch * patch});
}

Tensor unpack_patches(const Tensor& tokens, int64_t height, int64_t width, int64_t patch, PatchOrder order) {
  const char* op = "unpack_patches";
  check_rank(tokens, 3, op, "tokens");
  DIFFUSE_CHECK(patch > 0 && height > 0 && width > 0 && height % patch == 0 && width % patch == 0, op,
                ": latent size ", height, "x", width, " is not divisible into ", patch, "x", patch, " patches");
  const int64_t b = tokens.dim(0), rows = height / patch, cols = width / patch;
  const int64_t pp = patch * patch;
  DIFFUSE_CHECK(tokens.dim(1) == rows * cols && tokens.dim(2) % pp == 0, op, ": tokens ",
                shape_str(tokens.shape()), " do not match a ", height, "x", width, " latent with ", patch,
                "x", patch, " patches");
  const int64_t c = tokens.dim(2) / pp;
  const Tensor t = materialize(tokens);
  Tensor g;
  std::vector<int> perm;
  if (order == PatchOrder::ChannelMajor) {
    g = t.reshape({b, rows, cols, c, patch, patch});  // B, rows, cols, C, dy, dx
    perm = {0, 3, 1, 4, 2, 5};
  } else {
    g = t.reshape({b, rows, cols, patch, patch, c});  // B, rows, cols, dy, dx, C
    perm = {0, 5, 1, 3, 2, 4};
  }
  return permute_copy(g, perm).reshape({b, c, height, width});
}

}  // namespace diffuse::ops
