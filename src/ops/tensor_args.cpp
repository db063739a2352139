#include "ops/tensor_args.h"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace diffuse::ops {

void check_defined(const Tensor& t, const char* op, const char* what) {
  DIFFUSE_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

void check_f32(const Tensor& t, const char* op, const char* what) {
  check_defined(t, op, what);
  DIFFUSE_CHECK(t.dtype() == DType::F32, op, ": ", what, " must be F32, got ", dtype_name(t.dtype()),
                " (shape ", shape_str(t.shape()), ")");
}

void check_contiguous(const Tensor& t, const char* op, const char* what) {
  check_defined(t, op, what);
  DIFFUSE_CHECK(t.is_contiguous(), op, ": ", what, " (shape ", shape_str(t.shape()),
                ") must be contiguous; call contiguous() first");
}

void check_rank(const Tensor& t, int rank, const char* op, const char* what) {
  check_defined(t, op, what);
  DIFFUSE_CHECK(t.ndim() == rank, op, ": ", what, " must have ", rank, " dims, got shape ",
                shape_str(t.shape()));
}

void check_writable(const Tensor& t, const char* op, const char* what) {
  check_defined(t, op, what);
  DIFFUSE_CHECK(t.writable(), op, ": ", what,
                " is read-only (a view into a mapped file); in-place ops need an owned tensor");
}

Tensor vector_as_f32(const Tensor& w, int64_t n, const char* op, const char* what) {
  check_defined(w, op, what);
  DIFFUSE_CHECK(w.ndim() == 1 && w.dim(0) == n, op, ": ", what, " must have shape [", n, "], got ",
                shape_str(w.shape()));
  DIFFUSE_CHECK(w.dtype() == DType::F32 || w.dtype() == DType::BF16 || w.dtype() == DType::F16, op,
                ": ", what, " must be F32, BF16 or F16, got ", dtype_name(w.dtype()));
  if (w.dtype() == DType::F32 && w.is_contiguous()) return w;
  return w.to(DType::F32);
}

Rows::Rows(const Tensor& t, const char* op, const char* what) {
  check_defined(t, op, what);
  DIFFUSE_CHECK(t.ndim() >= 1, op, ": ", what, " must have at least one dim");
  width_ = t.dim(-1);
  DIFFUSE_CHECK(width_ <= 1 || t.strides().back() == 1, op, ": ", what, " (shape ",
                shape_str(t.shape()), ") must be contiguous in its last dim (stride ",
                t.strides().back(), ")");
  count_ = 1;
  for (int d = 0; d + 1 < t.ndim(); ++d) {
    const int64_t size = t.shape()[d];
    count_ *= size;
    if (size == 1) continue;  // its stride never matters
    const int64_t stride = t.strides()[d];
    // Merge with the previous kept dim when stepping it equals stepping through this one.
    if (!shape_.empty() && strides_.back() == stride * size) {
      shape_.back() *= size;
      strides_.back() = stride;
    } else {
      shape_.push_back(size);
      strides_.push_back(stride);
    }
  }
}

bool overlaps(const Tensor& a, const Tensor& b) {
  if (a.numel() == 0 || b.numel() == 0) return false;
  // [first byte, one past the last byte] covered by a tensor's elements.
  const auto span = [](const Tensor& t) {
    const auto* p = static_cast<const std::byte*>(t.raw());
    int64_t last = 0;
    for (int d = 0; d < t.ndim(); ++d) last += (t.shape()[d] - 1) * t.strides()[d];
    return std::pair{p, p + (last + 1) * static_cast<int64_t>(dtype_size(t.dtype()))};
  };
  const auto [a0, a1] = span(a);
  const auto [b0, b1] = span(b);
  return a0 < b1 && b0 < a1;
}

int64_t rows_grain(int64_t width, int64_t target_elements) {
  return std::max<int64_t>(1, target_elements / std::max<int64_t>(1, width));
}

}  // namespace diffuse::ops
