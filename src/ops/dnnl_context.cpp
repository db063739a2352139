#include "ops/dnnl_context.h"

#include <cstring>

#include "runtime/error.h"

namespace diffuse::ops {

dnnl::engine& dnnl_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& dnnl_stream() {
  static dnnl::stream stream(dnnl_engine());
  return stream;
}

dnnl::memory::data_type dnnl_dtype(DType dtype) {
  switch (dtype) {
    case DType::F32: return dnnl::memory::data_type::f32;
    case DType::BF16: return dnnl::memory::data_type::bf16;
    case DType::F16: return dnnl::memory::data_type::f16;
    case DType::I8: return dnnl::memory::data_type::s8;
    case DType::U8: return dnnl::memory::data_type::u8;
    case DType::I32: return dnnl::memory::data_type::s32;
    default: break;
  }
  fail("oneDNN has no element type for dtype ", dtype_name(dtype));
}

dnnl::memory dnnl_memory(const dnnl::memory::desc& desc, const void* data) {
  return dnnl::memory(desc, dnnl_engine(), const_cast<void*>(data));
}

bool dnnl_is_reference_impl(const char* impl_info) {
  return std::strncmp(impl_info, "ref", 3) == 0;
}

}  // namespace diffuse::ops
