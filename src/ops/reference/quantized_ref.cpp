#include "ops/reference/quantized_ref.h"

#include <cstring>
#include <vector>

namespace diffuse::ops::ref {

namespace {

double element(const Tensor& t, int64_t r, int64_t c) { return t.item({r, c}); }

}  // namespace

Tensor dequantize_ref(const QuantizedWeight& q) {
  const int64_t n = q.out_features, k = q.in_features;
  std::vector<float> out(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      double w;
      if (q.format == QuantFormat::Int8PerChannel) {
        const double v = static_cast<int8_t>(q.values.data<int8_t>()[r * k + c]);
        w = q.scales.item({r}) * v;
      } else {
        // Element c lives in word c / (32 / bits) of row r, at bit (c % (32 / bits)) * bits.
        const int per_word = 32 / q.bits;
        uint32_t word;
        std::memcpy(&word, static_cast<const std::byte*>(q.values.raw()) +
                               (r * (k / per_word) + c / per_word) * sizeof(uint32_t), sizeof word);
        const uint32_t v = (word >> ((c % per_word) * q.bits)) & ((1u << q.bits) - 1);
        const int64_t g = c / q.group_size;
        w = element(q.scales, r, g) * v + element(q.biases, r, g);
      }
      out[static_cast<size_t>(r * k + c)] = static_cast<float>(w);
    }
  }
  return Tensor::from_f32({n, k}, out);
}

}  // namespace diffuse::ops::ref
