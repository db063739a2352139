// Tensor: a shape, strides and a dtype over storage that is either owned (aligned heap
// memory) or a read-only view into memory owned elsewhere (a memory-mapped checkpoint).
// Views (reshape, slice, permute) share storage; contiguous() / clone() copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "tensor/dtype.h"

namespace diffuse {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);  // "3072x64"; "scalar" for rank 0
int64_t shape_numel(const Shape& shape);

// Backing memory of one or more tensors.
struct Storage {
  std::byte* data = nullptr;
  size_t nbytes = 0;
  bool writable = false;
  std::shared_ptr<void> owner;  // keeps the memory (heap block or file mapping) alive
};

class Tensor {
 public:
  Tensor() = default;

  // Owned, 64-byte aligned, uninitialized / zero-filled.
  static Tensor empty(const Shape& shape, DType dtype);
  static Tensor zeros(const Shape& shape, DType dtype);
  // Owned copy of `count` f32 values (convenience for tests and small tables).
  static Tensor from_f32(const Shape& shape, const std::vector<float>& values);
  // View over external memory; `owner` keeps it alive. Read-only unless `writable`.
  static Tensor view_of(const void* data, const Shape& shape, DType dtype,
                        std::shared_ptr<void> owner, bool writable = false);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }  // in elements
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  bool writable() const { return storage_ && storage_->writable; }

  // Raw element pointers. data<T>() checks that T matches the dtype's width class.
  const void* raw() const;
  void* raw_mut();
  template <typename T>
  const T* data() const {
    check_element<T>();
    return static_cast<const T*>(raw());
  }
  template <typename T>
  T* data_mut() {
    check_element<T>();
    return static_cast<T*>(raw_mut());
  }

  // Views (no copy). reshape requires contiguity; one dim may be -1.
  Tensor reshape(const Shape& shape) const;
  Tensor slice(int dim, int64_t begin, int64_t end) const;
  Tensor select(int dim, int64_t index) const;  // removes `dim`
  Tensor permute(const std::vector<int>& order) const;
  Tensor transpose(int a, int b) const;
  Tensor unsqueeze(int dim) const;
  Tensor squeeze(int dim) const;
  // Splits `dim` into `sizes` (their product must be its size), whatever the strides: e.g. the
  // channel slice of a wider [B, S, C] buffer viewed as [B, S, heads, head_dim].
  Tensor unflatten(int dim, const Shape& sizes) const;

  // Copies.
  Tensor contiguous() const;  // this tensor if already contiguous
  Tensor clone() const;       // always an owned, writable, contiguous copy
  Tensor to(DType dtype) const;  // converted owned copy (f32/bf16/f16 and integer types)
  void copy_from(const Tensor& src);  // same shape; converts dtype; handles strides

  // Reads one element as double (any dtype, any strides); for tests and small tables.
  double item(const std::vector<int64_t>& index) const;
  std::vector<float> to_f32_vector() const;

 private:
  template <typename T>
  void check_element() const {
    DIFFUSE_CHECK(sizeof(T) == dtype_size(dtype_), "tensor of dtype ", dtype_name(dtype_),
                  " accessed with an element type of ", sizeof(T), " bytes");
  }
  int wrap_dim(int d, int rank) const;

  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;  // in elements
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::F32;
};

}  // namespace diffuse
