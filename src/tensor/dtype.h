// Element types the engine stores. Names follow the safetensors dtype strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace diffuse {

// U32 holds packed quantized weights (MLX layout: several low-bit values per word).
enum class DType : uint8_t { F32, BF16, F16, I8, U8, I32, I64, Bool, U32 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::I8: return 1;
    case DType::U8: return 1;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::Bool: return 1;
    case DType::U32: return 4;
  }
  return 0;
}

// The safetensors spelling: "F32", "BF16", "F16", "I8", "U8", "I32", "I64", "BOOL", "U32".
std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);

}  // namespace diffuse
