// How quantized Linear weights are stored in safetensors files, beside the float layout
// "<stem>.weight" [N, K]:
//
//   affine (MLX)   <stem>.weight  U32 [N, K * bits / 32]   packed values
//                  <stem>.scales  [N, K / group]           BF16 / F16 / F32
//                  <stem>.biases  [N, K / group]           same dtype as the scales
//   int8           <stem>.weight        I8  [N, K]         symmetric, per output channel
//                  <stem>.weight_scale  F32 [N]            w = weight_scale[n] * weight[n][k]
//
// A weight is read as affine when "<stem>.scales" exists, as int8 when "<stem>.weight" is I8,
// and as a float weight otherwise. Files written by `diffuse quantize` record the mode in the
// header metadata under kQuantizationMetadataKey.
#pragma once

#include <string>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "ops/quantized_weight.h"

namespace diffuse::io {

inline constexpr const char* kQuantizationMetadataKey = "diffuse.quantization";

enum class StoredWeightKind { Float, Int8, Affine };

// `weight_name` must end in ".weight"; the companions replace that suffix.
std::string affine_scales_name(const std::string& weight_name);  // <stem>.scales
std::string affine_biases_name(const std::string& weight_name);  // <stem>.biases
std::string int8_scale_name(const std::string& weight_name);     // <stem>.weight_scale

// How `weight_name` is stored in `source` (Float when absent).
StoredWeightKind stored_weight_kind(const WeightSource& source, const std::string& weight_name);

// The companion tensor names `kind` adds to a weight (empty for Float).
std::vector<std::string> companion_names(const std::string& weight_name, StoredWeightKind kind);

// The stored quantized weight of a Linear layer [out, in], checked against that shape. Views of
// the mapping (no data is read). Throws diffuse::Error naming the file and tensor.
ops::QuantizedWeight read_quantized_weight(const WeightSource& source, const std::string& weight_name,
                                           const Shape& shape);

// The tensors to store for `q` under `weight_name`, in the layout above.
NamedTensors quantized_weight_tensors(const std::string& weight_name, const ops::QuantizedWeight& q);

}  // namespace diffuse::io
