// Test helper: tensors from the golden fixture cases in tests/golden/<case>/.
#pragma once

#include <string>

#include "io/safetensors.h"
#include "tensor/tensor.h"

namespace diffuse::testing {

inline std::string golden_path(const std::string& case_name, const std::string& file) {
  return std::string(DIFFUSE_GOLDEN_DIR) + "/" + case_name + "/" + file;
}

// An owned, aligned copy of tensor `name` from tests/golden/<case_name>/<file>.
inline Tensor golden_tensor(const std::string& case_name, const std::string& file, const std::string& name) {
  return io::SafetensorsFile::open(golden_path(case_name, file))->tensor(name).clone();
}

}  // namespace diffuse::testing
