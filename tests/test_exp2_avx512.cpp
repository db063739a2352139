// exp2_ps (ops/exp2_avx512.h) against std::exp2: each fitted degree within its stated error (plus
// float rounding), and no subnormal result anywhere below the range (subnormals cost microcode
// assists).
#include "ops/x86_intrinsics.h"  // first: see the header

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/cpu_isa.h"
#include "ops/exp2_avx512.h"

namespace diffuse::ops {
namespace {

#if defined(__x86_64__)
template <int Degree>
__attribute__((target("avx512f"))) std::vector<float> exp2_of(const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); i += 16) {
    const __mmask16 m = x.size() - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (x.size() - i)) - 1);
    _mm512_mask_storeu_ps(y.data() + i, m, exp2_ps<Degree>(_mm512_maskz_loadu_ps(m, x.data() + i)));
  }
  return y;
}

template <int Degree>
void check_degree(double max_rel) {
  std::vector<float> x;
  for (float t = -124.0f; t <= 127.0f; t += 0.0371f) x.push_back(t);
  const std::vector<float> y = exp2_of<Degree>(x);
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp2(static_cast<double>(x[i]));
    EXPECT_LE(std::fabs(y[i] - want) / want, max_rel) << "degree " << Degree << " at " << x[i];
  }
  const std::vector<float> low = {-125.0f, -125.4f, -125.6f, -126.0f, -149.0f, -200.0f,
                                  -std::numeric_limits<float>::infinity()};
  for (float v : exp2_of<Degree>(low)) {
    EXPECT_GE(v, FLT_MIN) << "subnormal or zero";
    EXPECT_LE(v, 3e-38f);
  }
}

TEST(Exp2Avx512, FittedDegreesAndNoSubnormals) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  check_degree<3>(8e-5);
  check_degree<4>(3e-6);
  check_degree<5>(2e-7);  // its fit error 7.7e-8 plus the float rounding of f and of the result
}
#endif

}  // namespace
}  // namespace diffuse::ops
