// Argument checks and small conversions shared by the norm / RoPE / elementwise family of ops,
// so every op reports a bad argument the same way: "<op>: <argument> <problem>".
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "tensor/tensor.h"

namespace diffuse::ops {

void check_defined(const Tensor& t, const char* op, const char* what);
void check_f32(const Tensor& t, const char* op, const char* what);
void check_contiguous(const Tensor& t, const char* op, const char* what);
void check_rank(const Tensor& t, int rank, const char* op, const char* what);
void check_writable(const Tensor& t, const char* op, const char* what);

// A contiguous F32 vector of `n` values from a 1-D weight or bias stored as F32, BF16 or F16
// (possibly a read-only view into a mapped checkpoint). Returns `w` itself when it already is
// one, otherwise a converted copy; the source is never written.
Tensor vector_as_f32(const Tensor& w, int64_t n, const char* op, const char* what);

// Addresses the rows (last dimension) of a tensor whose last dimension is contiguous while the
// leading dimensions may have any strides, e.g. one head of a [B,S,H,D] view of a [B,S,H*D]
// buffer. Leading dimensions that are laid out uniformly are merged, so a contiguous tensor
// costs one multiply per row.
class Rows {
 public:
  Rows(const Tensor& t, const char* op, const char* what);
  int64_t count() const { return count_; }
  int64_t width() const { return width_; }
  // Element offset of the first element of `row` (row-major over the leading dims) from raw().
  int64_t offset(int64_t row) const {
    int64_t off = 0;
    for (size_t d = shape_.size(); d-- > 1;) {
      off += (row % shape_[d]) * strides_[d];
      row /= shape_[d];
    }
    return shape_.empty() ? off : off + row * strides_[0];
  }
  // Rows as uniform groups of uniformly spaced rows, row g * group_rows + i at element
  // g * group_stride + i * row_stride (a batch-strided [B, S, K] view), when the leading dims
  // merge into at most two; nullopt otherwise. Rows that merge into one stride form a single
  // group (a single row reports its width as the stride).
  struct Grouping {
    int64_t group_rows, group_stride, row_stride;
  };
  std::optional<Grouping> grouping() const {
    if (shape_.size() > 2) return std::nullopt;
    if (shape_.size() == 2) return Grouping{shape_[1], strides_[0], strides_[1]};
    return Grouping{std::max<int64_t>(count_, 1), 0, shape_.empty() ? width_ : strides_[0]};
  }

 private:
  Shape shape_;    // merged leading dims
  Shape strides_;  // their strides, in elements
  int64_t count_ = 0;
  int64_t width_ = 0;
};

// Whether the memory spans of two tensors' elements intersect (empty tensors never do).
bool overlaps(const Tensor& a, const Tensor& b);

// Rows per parallel_for chunk so each chunk holds about `target_elements` elements.
int64_t rows_grain(int64_t width, int64_t target_elements = 1 << 14);

}  // namespace diffuse::ops
