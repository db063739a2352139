// The one oneDNN CPU engine and stream every GEMM and convolution runs on, plus the
// small glue that turns our dtypes and raw pointers into oneDNN memory objects.
// oneDNN is built on the same OpenMP runtime as our own kernels, so its thread count
// follows set_num_threads().
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "tensor/dtype.h"

namespace diffuse::ops {

dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();

// oneDNN element type for a tensor dtype; throws for types oneDNN has no GEMM for.
dnnl::memory::data_type dnnl_dtype(DType dtype);

// Wraps caller-owned memory (read-only inputs are passed as const; oneDNN only reads them).
dnnl::memory dnnl_memory(const dnnl::memory::desc& desc, const void* data);

// True when oneDNN fell back to its slow reference kernels for this primitive.
bool dnnl_is_reference_impl(const char* impl_info);

}  // namespace diffuse::ops
