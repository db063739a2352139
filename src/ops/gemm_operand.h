// GEMM operands as dense row-major matrices. oneDNN's fast matmul kernels want dense
// rows in the GEMM's element type; models hand us views ([B, S, H*D] slices, permuted
// heads) in f32 or bf16. These helpers pass a tensor through untouched when it already
// fits and otherwise make one converted, dense copy (in parallel, vectorized).
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace diffuse::ops {

// `rows` x `cols` matrix at `data`, row r starting at data + r * row_stride elements.
struct RowMatrix {
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;
  DType dtype = DType::F32;
};

// Views x [..., K] as a (numel/K) x K matrix of dtype `want`. Returns x's own memory when x
// is contiguous and already of dtype `want`; otherwise converts into `scratch` (resized as
// needed) and returns that. The last dim of x must have unit stride (or size 1).
RowMatrix dense_rows(const Tensor& x, DType want, Tensor& scratch);

// Converts n elements between F32, BF16 and F16 (BF16/F16 results rounded to nearest even).
void convert_elements(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n);

}  // namespace diffuse::ops
