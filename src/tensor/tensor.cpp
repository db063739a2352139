#include "tensor/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "runtime/buffer_pool.h"
#include "tensor/half.h"

namespace diffuse {

std::string shape_str(const Shape& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

void check_shape(const Shape& shape) {
  for (int64_t d : shape) DIFFUSE_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
}

// Calls fn(dst_offset, src_offset) with the element offsets, under each side's strides, of the
// first element of every innermost row of `shape`, rows in row-major order. Only a counter per
// dimension is kept: copies of any size need no per-element scratch.
template <typename Fn>
void for_each_row(const Shape& shape, const Shape& dst_strides, size_t dst_base, const Shape& src_strides,
                  size_t src_base, Fn fn) {
  if (shape_numel(shape) == 0) return;
  if (shape.empty()) return fn(dst_base, src_base);
  const size_t outer = shape.size() - 1;
  const int64_t rows = shape_numel(shape) / shape[outer];
  std::vector<int64_t> idx(outer, 0);
  size_t d = dst_base, s = src_base;
  for (int64_t r = 0; r < rows; ++r) {
    fn(d, s);
    for (size_t k = outer; k-- > 0;) {
      if (++idx[k] < shape[k]) {
        d += dst_strides[k];
        s += src_strides[k];
        break;
      }
      d -= dst_strides[k] * (shape[k] - 1);
      s -= src_strides[k] * (shape[k] - 1);
      idx[k] = 0;
    }
  }
}

double load_as_double(const std::byte* p, DType t) {
  switch (t) {
    case DType::F32: { float v; std::memcpy(&v, p, 4); return v; }
    case DType::BF16: { uint16_t v; std::memcpy(&v, p, 2); return bf16_to_f32(v); }
    case DType::F16: { uint16_t v; std::memcpy(&v, p, 2); return f16_to_f32(v); }
    case DType::I8: return static_cast<double>(static_cast<int8_t>(*p));
    case DType::U8: return static_cast<double>(static_cast<uint8_t>(*p));
    case DType::Bool: return *p != std::byte{0} ? 1.0 : 0.0;
    case DType::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    case DType::I64: { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
    case DType::U32: { uint32_t v; std::memcpy(&v, p, 4); return v; }
  }
  return 0;
}

void store_from_double(std::byte* p, DType t, double x) {
  switch (t) {
    case DType::F32: { float v = static_cast<float>(x); std::memcpy(p, &v, 4); return; }
    case DType::BF16: { uint16_t v = f32_to_bf16(static_cast<float>(x)); std::memcpy(p, &v, 2); return; }
    case DType::F16: { uint16_t v = f32_to_f16(static_cast<float>(x)); std::memcpy(p, &v, 2); return; }
    case DType::I8: *p = static_cast<std::byte>(static_cast<int8_t>(x)); return;
    case DType::U8: *p = static_cast<std::byte>(static_cast<uint8_t>(x)); return;
    case DType::Bool: *p = static_cast<std::byte>(x != 0 ? 1 : 0); return;
    case DType::I32: { int32_t v = static_cast<int32_t>(x); std::memcpy(p, &v, 4); return; }
    case DType::I64: { int64_t v = static_cast<int64_t>(x); std::memcpy(p, &v, 8); return; }
    case DType::U32: { uint32_t v = static_cast<uint32_t>(x); std::memcpy(p, &v, 4); return; }
  }
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  check_shape(shape);
  Tensor t;
  const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  const size_t alloc = std::max<size_t>(64, (bytes + 63) / 64 * 64);
  // Large activations come back to the pool when freed and are reused (runtime/buffer_pool.h).
  std::shared_ptr<void> mem = BufferPool::global().allocate(alloc);
  DIFFUSE_CHECK(mem != nullptr, "out of memory allocating ", bytes, " bytes for a ",
                shape_str(shape), " tensor");
  auto storage = std::make_shared<Storage>();
  storage->data = static_cast<std::byte*>(mem.get());
  storage->nbytes = bytes;
  storage->writable = true;
  storage->owner = std::move(mem);
  t.storage_ = std::move(storage);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.storage_->data, 0, t.nbytes());
  return t;
}

Tensor Tensor::from_f32(const Shape& shape, const std::vector<float>& values) {
  DIFFUSE_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_f32: ",
                values.size(), " values for shape ", shape_str(shape));
  Tensor t = empty(shape, DType::F32);
  if (!values.empty()) std::memcpy(t.raw_mut(), values.data(), values.size() * 4);
  return t;
}

Tensor Tensor::view_of(const void* data, const Shape& shape, DType dtype,
                       std::shared_ptr<void> owner, bool writable) {
  check_shape(shape);
  Tensor t;
  auto storage = std::make_shared<Storage>();
  storage->data = static_cast<std::byte*>(const_cast<void*>(data));
  storage->nbytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  storage->writable = writable;
  storage->owner = std::move(owner);
  t.storage_ = std::move(storage);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

int Tensor::wrap_dim(int d, int rank) const {
  const int w = d < 0 ? d + rank : d;
  DIFFUSE_CHECK(w >= 0 && w < rank, "dimension ", d, " out of range for a tensor of rank ", rank);
  return w;
}

int64_t Tensor::dim(int i) const { return shape_[wrap_dim(i, ndim())]; }

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != expect) return false;
    expect *= shape_[i];
  }
  return true;
}

const void* Tensor::raw() const {
  DIFFUSE_CHECK(defined(), "access to an undefined tensor");
  return storage_->data + offset_ * dtype_size(dtype_);
}

void* Tensor::raw_mut() {
  DIFFUSE_CHECK(defined(), "access to an undefined tensor");
  DIFFUSE_CHECK(storage_->writable, "write access to a read-only tensor (a view into a mapped file)");
  return storage_->data + offset_ * dtype_size(dtype_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  DIFFUSE_CHECK(is_contiguous(), "reshape of a non-contiguous ", shape_str(shape_), " tensor");
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      DIFFUSE_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    DIFFUSE_CHECK(known > 0 && numel() % known == 0, "reshape: cannot infer -1 for ",
                  shape_str(shape_), " -> ", shape_str(shape));
    out[infer] = numel() / known;
  }
  DIFFUSE_CHECK(shape_numel(out) == numel(), "reshape: ", shape_str(shape_), " (", numel(),
                " elements) to ", shape_str(out));
  Tensor t = *this;
  t.shape_ = out;
  t.strides_ = contiguous_strides(out);
  return t;
}

Tensor Tensor::slice(int d, int64_t begin, int64_t end) const {
  d = wrap_dim(d, ndim());
  DIFFUSE_CHECK(0 <= begin && begin <= end && end <= shape_[d], "slice [", begin, ", ", end,
                ") out of range for dim ", d, " of size ", shape_[d]);
  Tensor t = *this;
  t.offset_ += static_cast<size_t>(begin * strides_[d]);
  t.shape_[d] = end - begin;
  return t;
}

Tensor Tensor::select(int d, int64_t index) const {
  d = wrap_dim(d, ndim());
  Tensor t = slice(d, index, index + 1);
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::permute(const std::vector<int>& order) const {
  DIFFUSE_CHECK(static_cast<int>(order.size()) == ndim(), "permute: ", order.size(),
                " axes for a tensor of rank ", ndim());
  std::vector<bool> seen(order.size(), false);
  Tensor t = *this;
  for (size_t i = 0; i < order.size(); ++i) {
    const int src = wrap_dim(order[i], ndim());
    DIFFUSE_CHECK(!seen[src], "permute: axis ", src, " repeated");
    seen[src] = true;
    t.shape_[i] = shape_[src];
    t.strides_[i] = strides_[src];
  }
  return t;
}

Tensor Tensor::transpose(int a, int b) const {
  std::vector<int> order(ndim());
  for (int i = 0; i < ndim(); ++i) order[i] = i;
  std::swap(order[wrap_dim(a, ndim())], order[wrap_dim(b, ndim())]);
  return permute(order);
}

Tensor Tensor::unsqueeze(int d) const {
  d = wrap_dim(d, ndim() + 1);
  Tensor t = *this;
  const int64_t stride = d < ndim() ? strides_[d] * shape_[d] : 1;
  t.shape_.insert(t.shape_.begin() + d, 1);
  t.strides_.insert(t.strides_.begin() + d, stride);
  return t;
}

Tensor Tensor::unflatten(int d, const Shape& sizes) const {
  d = wrap_dim(d, ndim());
  DIFFUSE_CHECK(!sizes.empty() && shape_numel(sizes) == shape_[d], "unflatten: dim ", d, " of size ", shape_[d],
                " cannot split into ", shape_str(sizes));
  Tensor t = *this;
  Shape strides(sizes.size());
  int64_t stride = strides_[d];
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= sizes[i];
  }
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  t.shape_.insert(t.shape_.begin() + d, sizes.begin(), sizes.end());
  t.strides_.insert(t.strides_.begin() + d, strides.begin(), strides.end());
  return t;
}

Tensor Tensor::squeeze(int d) const {
  d = wrap_dim(d, ndim());
  DIFFUSE_CHECK(shape_[d] == 1, "squeeze of dim ", d, " with size ", shape_[d]);
  Tensor t = *this;
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  DIFFUSE_CHECK(src.shape_ == shape_, "copy_from: shape ", shape_str(src.shape_), " into ",
                shape_str(shape_));
  std::byte* dst_base = static_cast<std::byte*>(raw_mut()) - offset_ * dtype_size(dtype_);
  const std::byte* src_base = static_cast<const std::byte*>(src.raw()) - src.offset_ * dtype_size(src.dtype_);
  const size_t ds = dtype_size(dtype_), ss = dtype_size(src.dtype_);
  if (is_contiguous() && src.is_contiguous()) {
    std::byte* d = static_cast<std::byte*>(raw_mut());
    const std::byte* s = static_cast<const std::byte*>(src.raw());
    const size_t n = static_cast<size_t>(numel());
    if (dtype_ == src.dtype_) {
      std::memcpy(d, s, n * ds);
      return;
    }
    auto* d16 = reinterpret_cast<uint16_t*>(d);
    auto* df = reinterpret_cast<float*>(d);
    auto* s16 = reinterpret_cast<const uint16_t*>(s);
    auto* sf = reinterpret_cast<const float*>(s);
    if (src.dtype_ == DType::BF16 && dtype_ == DType::F32) return bf16_to_f32(s16, df, n);
    if (src.dtype_ == DType::F32 && dtype_ == DType::BF16) return f32_to_bf16(sf, d16, n);
    if (src.dtype_ == DType::F16 && dtype_ == DType::F32) return f16_to_f32(s16, df, n);
    if (src.dtype_ == DType::F32 && dtype_ == DType::F16) return f32_to_f16(sf, d16, n);
  }
  // General path: row by row; rows contiguous on both sides in the same dtype are one memcpy.
  const size_t rank = shape_.size();
  const int64_t row = rank == 0 ? 1 : shape_[rank - 1];
  const int64_t dst_step = rank == 0 ? 1 : strides_[rank - 1], src_step = rank == 0 ? 1 : src.strides_[rank - 1];
  const bool whole_rows = dtype_ == src.dtype_ && dst_step == 1 && src_step == 1;
  for_each_row(shape_, strides_, offset_, src.strides_, src.offset_, [&](size_t dst_offset, size_t src_offset) {
    std::byte* d = dst_base + dst_offset * ds;
    const std::byte* s = src_base + src_offset * ss;
    if (whole_rows) {
      std::memcpy(d, s, static_cast<size_t>(row) * ds);
      return;
    }
    for (int64_t i = 0; i < row; ++i, d += dst_step * static_cast<int64_t>(ds), s += src_step * static_cast<int64_t>(ss)) {
      if (dtype_ == src.dtype_) {
        std::memcpy(d, s, ds);
      } else {
        store_from_double(d, dtype_, load_as_double(s, src.dtype_));
      }
    }
  });
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  Tensor t = empty(shape_, dtype);
  t.copy_from(*this);
  return t;
}

double Tensor::item(const std::vector<int64_t>& index) const {
  DIFFUSE_CHECK(static_cast<int>(index.size()) == ndim(), "item: ", index.size(),
                " indices for rank ", ndim());
  size_t off = offset_;
  for (size_t i = 0; i < index.size(); ++i) {
    DIFFUSE_CHECK(index[i] >= 0 && index[i] < shape_[i], "item: index ", index[i],
                  " out of range for dim ", i, " of size ", shape_[i]);
    off += static_cast<size_t>(index[i] * strides_[i]);
  }
  return load_as_double(storage_->data + off * dtype_size(dtype_), dtype_);
}

std::vector<float> Tensor::to_f32_vector() const {
  Tensor f = dtype_ == DType::F32 && is_contiguous() ? *this : to(DType::F32);
  const float* p = f.data<float>();
  return std::vector<float>(p, p + f.numel());
}

}  // namespace diffuse
