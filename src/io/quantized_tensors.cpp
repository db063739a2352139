#include "io/quantized_tensors.h"

#include "io/printable.h"
#include "runtime/error.h"

namespace diffuse::io {

namespace {

std::string stem_of(const std::string& weight_name) {
  constexpr std::string_view suffix = ".weight";
  DIFFUSE_CHECK(weight_name.size() > suffix.size() &&
                    weight_name.compare(weight_name.size() - suffix.size(), suffix.size(), suffix) == 0,
                "quantized weight name '", printable(weight_name), "' does not end in .weight");
  return weight_name.substr(0, weight_name.size() - suffix.size());
}

}  // namespace

std::string affine_scales_name(const std::string& weight_name) { return stem_of(weight_name) + ".scales"; }
std::string affine_biases_name(const std::string& weight_name) { return stem_of(weight_name) + ".biases"; }
std::string int8_scale_name(const std::string& weight_name) { return weight_name + "_scale"; }

StoredWeightKind stored_weight_kind(const WeightSource& source, const std::string& weight_name) {
  if (source.contains(affine_scales_name(weight_name))) return StoredWeightKind::Affine;
  if (source.contains(weight_name) && source.info(weight_name).dtype == DType::I8) return StoredWeightKind::Int8;
  return StoredWeightKind::Float;
}

std::vector<std::string> companion_names(const std::string& weight_name, StoredWeightKind kind) {
  switch (kind) {
    case StoredWeightKind::Affine: return {affine_scales_name(weight_name), affine_biases_name(weight_name)};
    case StoredWeightKind::Int8: return {int8_scale_name(weight_name)};
    case StoredWeightKind::Float: break;
  }
  return {};
}

ops::QuantizedWeight read_quantized_weight(const WeightSource& source, const std::string& weight_name,
                                           const Shape& shape) {
  DIFFUSE_CHECK(shape.size() == 2, "quantized weight '", printable(weight_name), "': expected shape ",
                shape_str(shape), " is not a matrix");
  const std::string context = str_cat(source.origin(), ": '", printable(weight_name), "'");
  auto need = [&](const std::string& name) {
    DIFFUSE_CHECK(source.contains(name), context, ": quantized weight is missing its tensor '", printable(name), "'");
    return source.tensor(name);
  };
  switch (stored_weight_kind(source, weight_name)) {
    case StoredWeightKind::Affine:
      return ops::affine_from_tensors(need(weight_name), need(affine_scales_name(weight_name)),
                                      need(affine_biases_name(weight_name)), shape[0], shape[1], context);
    case StoredWeightKind::Int8:
      return ops::int8_from_tensors(need(weight_name), need(int8_scale_name(weight_name)), shape[0], shape[1], context);
    case StoredWeightKind::Float: break;
  }
  fail(context, ": not a quantized weight");
}

NamedTensors quantized_weight_tensors(const std::string& weight_name, const ops::QuantizedWeight& q) {
  if (q.format == ops::QuantFormat::Affine)
    return {{weight_name, q.values}, {affine_scales_name(weight_name), q.scales}, {affine_biases_name(weight_name), q.biases}};
  return {{weight_name, q.values}, {int8_scale_name(weight_name), q.scales}};
}

}  // namespace diffuse::io
