// Numerical comparison of an engine tensor against a golden reference tensor.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace diffuse::parity {

struct Tolerance {
  double min_cos = 0.999999;  // cosine similarity must be >= this
  // The max-abs error must be <= max(max_abs, max_rel * max|expected|); a negative bound
  // is unused.
  double max_abs = 1e-4;
  double max_rel = -1;
  // Largest allowed distance in float32 units in the last place (negative: unused).
  int64_t max_ulp = -1;

  double abs_limit(double ref_absmax) const;
};

struct Comparison {
  double cos = 1.0;
  double max_abs = 0.0;
  double ref_absmax = 0.0;  // max |expected|, to judge max_abs relative to scale
  int64_t max_ulp = 0;      // largest float32 ulp distance between actual and expected
  bool shape_ok = true;
  bool finite = true;  // no NaN / inf in the actual tensor
};

// Cosine similarity and max-abs error (double accumulation). Two all-zero tensors have
// cosine 1. A shape mismatch or a non-finite actual value fails any tolerance.
Comparison compare(const Tensor& actual, const Tensor& expected);

bool within(const Comparison& c, const Tolerance& t);

}  // namespace diffuse::parity
