#include "models/common/model_options.h"

namespace diffuse::models {

Tensor gemm_weight(const Tensor& stored, Precision precision) {
  if (!stored.defined()) return stored;
  const DType want = precision == Precision::F32 ? DType::F32 : DType::BF16;
  return stored.dtype() == want ? stored : stored.to(want);
}

Tensor f32_param(const Tensor& stored) {
  if (!stored.defined()) return stored;
  return stored.to(DType::F32);
}

}  // namespace diffuse::models
