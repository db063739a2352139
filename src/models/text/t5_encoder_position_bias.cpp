#include "models/text/t5_encoder_position_bias.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/error.h"

namespace diffuse::models {

int64_t t5_relative_position_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets,
                                    int64_t max_distance) {
  int64_t bucket = 0;
  int64_t distance = relative_position;
  if (bidirectional) {
    num_buckets /= 2;
    if (relative_position > 0) bucket += num_buckets;
    distance = relative_position < 0 ? -relative_position : relative_position;
  } else {
    distance = relative_position < 0 ? -relative_position : 0;
  }
  const int64_t max_exact = num_buckets / 2;
  DIFFUSE_CHECK(max_exact > 0 && max_distance > max_exact, "T5 relative position buckets: ", num_buckets,
                " buckets and max distance ", max_distance, " leave no exact or no logarithmic range");
  if (distance < max_exact) return bucket + distance;
  // Same float32 operations as the reference: (float(d) / max_exact).log() / log(max/exact)
  // (a double constant used as float) * (buckets - exact), truncated toward zero.
  const float ratio = static_cast<float>(distance) / static_cast<float>(max_exact);
  const float scale = static_cast<float>(std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)));
  const float log_steps = std::log(ratio) / scale * static_cast<float>(num_buckets - max_exact);
  // log_steps >= 0 here; clamp in float before converting so huge distances stay defined.
  const float capped = std::min(log_steps, static_cast<float>(num_buckets));
  const int64_t large = std::min(max_exact + static_cast<int64_t>(capped), num_buckets - 1);
  return bucket + large;
}

Tensor t5_position_bias(const Tensor& table, int64_t query_len, int64_t key_len, int64_t max_distance) {
  DIFFUSE_CHECK(table.ndim() == 2, "T5 relative_attention_bias must be [num_buckets, num_heads], got ",
                shape_str(table.shape()));
  const int64_t num_buckets = table.dim(0), heads = table.dim(1);
  const std::vector<float> w = table.to_f32_vector();  // [num_buckets, heads], row-major
  // Every (i, j) with the same j - i shares a bucket: look each distance up once.
  std::vector<int64_t> bucket_of(static_cast<size_t>(query_len + key_len));
  for (int64_t d = -(query_len - 1); d < key_len; ++d)
    bucket_of[static_cast<size_t>(d + query_len - 1)] = t5_relative_position_bucket(d, true, num_buckets, max_distance);
  Tensor bias = Tensor::empty({1, heads, query_len, key_len}, DType::F32);
  float* out = bias.data_mut<float>();
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < query_len; ++i)
      for (int64_t j = 0; j < key_len; ++j) {
        const int64_t b = bucket_of[static_cast<size_t>(j - i + query_len - 1)];
        out[(h * query_len + i) * key_len + j] = w[static_cast<size_t>(b * heads + h)];
      }
  return bias;
}

}  // namespace diffuse::models
