// T5 relative position bias: relative distances (key - query) are put into buckets, exact for
// small distances and logarithmically wider up to max_distance; each bucket holds a learned
// bias per head (`relative_attention_bias`, [num_buckets, num_heads], block 0 only). The
// encoder builds the [1, H, Sq, Sk] table once and adds it to the scores of every layer.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace diffuse::models {

// Bucket of `relative_position` (key index - query index) as transformers
// `T5Attention._relative_position_bucket` computes it, including its float32 logarithm and
// truncation, so that distances on a bucket boundary land where the reference puts them.
// bidirectional: num_buckets/2 buckets per sign (positive distances get the upper half).
int64_t t5_relative_position_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets,
                                    int64_t max_distance);

// [1, H, query_len, key_len] f32: bias[0, h, i, j] = table[bucket(j - i), h] for the
// bidirectional encoder buckets. `table` [num_buckets, H] in any float dtype.
Tensor t5_position_bias(const Tensor& table, int64_t query_len, int64_t key_len, int64_t max_distance);

}  // namespace diffuse::models
