#include "parity/compare.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/half.h"

namespace diffuse::parity {

namespace {

// Maps a float's bits onto a monotonic integer line, so ulp distance is a subtraction.
int64_t ordered_bits(float f) {
  const int32_t i = static_cast<int32_t>(f32_bits(f));
  return i < 0 ? static_cast<int64_t>(INT32_MIN) - i : i;
}

}  // namespace

Comparison compare(const Tensor& actual, const Tensor& expected) {
  Comparison c;
  if (actual.shape() != expected.shape()) {
    c.shape_ok = false;
    return c;
  }
  const std::vector<float> a = actual.to_f32_vector();
  const std::vector<float> e = expected.to_f32_vector();
  double dot = 0, na = 0, ne = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) c.finite = false;
    dot += double(a[i]) * e[i];
    na += double(a[i]) * a[i];
    ne += double(e[i]) * e[i];
    c.max_abs = std::max(c.max_abs, std::fabs(double(a[i]) - e[i]));
    c.ref_absmax = std::max(c.ref_absmax, std::fabs(double(e[i])));
    c.max_ulp = std::max<int64_t>(c.max_ulp, std::llabs(ordered_bits(a[i]) - ordered_bits(e[i])));
  }
  if (na == 0 && ne == 0) {
    c.cos = 1.0;
  } else if (na == 0 || ne == 0) {
    c.cos = 0.0;
  } else {
    c.cos = dot / (std::sqrt(na) * std::sqrt(ne));
  }
  return c;
}

double Tolerance::abs_limit(double ref_absmax) const {
  double limit = max_abs;
  if (max_rel >= 0) limit = std::max(limit, max_rel * ref_absmax);
  return limit;
}

bool within(const Comparison& c, const Tolerance& t) {
  return c.shape_ok && c.finite && c.cos >= t.min_cos && c.max_abs <= t.abs_limit(c.ref_absmax) &&
         (t.max_ulp < 0 || c.max_ulp <= t.max_ulp);
}

}  // namespace diffuse::parity
