#include "tensor/dtype.h"

namespace diffuse {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::BF16: return "BF16";
    case DType::F16: return "F16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::Bool: return "BOOL";
    case DType::U32: return "U32";
  }
  return "?";
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::I8, DType::U8, DType::I32, DType::I64,
                  DType::Bool, DType::U32}) {
    if (name == dtype_name(t)) return t;
  }
  return std::nullopt;
}

}  // namespace diffuse
