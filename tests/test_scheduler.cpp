// Flow-matching scheduler behaviour beyond the golden cases (which run through
// `diffuse parity`): worked examples from the formulas, defaults, and config errors.
#include <gtest/gtest.h>

#include <cmath>

#include "sampling/flow_match_scheduler.h"
#include "sampling/pipeline_schedule.h"

namespace diffuse {
namespace {

TEST(FlowMatch, CalculateShiftIsLinearBetweenBaseAndMax) {
  FlowMatchConfig c;  // base 256 -> 0.5, max 4096 -> 1.15
  EXPECT_DOUBLE_EQ(calculate_shift(256, c), 0.5);
  EXPECT_NEAR(calculate_shift(4096, c), 1.15, 1e-12);
  EXPECT_NEAR(calculate_shift(2176, c), 0.825, 1e-12);  // midpoint
}

TEST(FlowMatch, StaticShiftWorkedExample) {
  FlowMatchConfig c;
  c.shift = 3.0;
  FlowMatchEulerScheduler s(c);
  s.set_timesteps(std::vector<double>{1.0, 0.5});
  // 3*0.5 / (1 + 2*0.5) = 0.75
  ASSERT_EQ(s.sigmas().size(), 3u);
  EXPECT_FLOAT_EQ(s.sigmas()[0], 1.0f);
  EXPECT_FLOAT_EQ(s.sigmas()[1], 0.75f);
  EXPECT_EQ(s.sigmas()[2], 0.0f);
  EXPECT_FLOAT_EQ(s.timesteps()[1], 750.0f);
}

TEST(FlowMatch, DynamicShiftAndTerminalStretch) {
  FlowMatchConfig c;
  c.use_dynamic_shifting = true;
  c.shift_terminal = 0.02;
  FlowMatchEulerScheduler s(c);
  EXPECT_THROW(s.set_timesteps(std::vector<double>{1.0, 0.5}), Error);  // mu required
  const double mu = 0.7;
  s.set_timesteps(std::vector<double>{1.0, 0.5, 0.25}, mu);
  // exp(mu) / (exp(mu) + 1/sigma - 1), then stretched so the last value is 0.02.
  const auto shifted = [&](double x) { return std::exp(mu) / (std::exp(mu) + 1 / x - 1); };
  const double last = shifted(0.25), scale = (1 - last) / (1 - 0.02);
  for (int i = 0; i < 3; ++i) {
    const double x = std::vector<double>{1.0, 0.5, 0.25}[i];
    EXPECT_NEAR(s.sigmas()[i], 1 - (1 - shifted(x)) / scale, 1e-6);
  }
  EXPECT_NEAR(s.sigmas()[2], 0.02, 1e-6);
}

TEST(FlowMatch, DefaultScheduleSpansShiftedTrainingRange) {
  FlowMatchConfig c;
  c.shift = 3.0;
  FlowMatchEulerScheduler s(c);
  s.set_timesteps(4);
  ASSERT_EQ(s.num_steps(), 4);
  EXPECT_FLOAT_EQ(s.sigmas()[0], 1.0f);
  // The last inference sigma is the shifted smallest training sigma, shifted again.
  const double tmin = 3 * 0.001 / (1 + 2 * 0.001);
  EXPECT_NEAR(s.sigmas()[3], 3 * tmin / (1 + 2 * tmin), 1e-6);
}

TEST(FlowMatch, EulerStepMovesAlongVelocity) {
  FlowMatchConfig c;
  FlowMatchEulerScheduler s(c);
  s.set_timesteps(std::vector<double>{1.0, 0.25});
  Tensor x = Tensor::from_f32({2}, {1.0f, -2.0f});
  Tensor v = Tensor::from_f32({2}, {4.0f, 8.0f});
  Tensor y = s.step(v, 0, x);  // dt = 0.25 - 1 = -0.75
  EXPECT_FLOAT_EQ(y.item({0}), 1.0f - 3.0f);
  EXPECT_FLOAT_EQ(y.item({1}), -2.0f - 6.0f);
  EXPECT_THROW(s.step(v, 2, x), Error);
  Tensor bf = s.step(v, 1, x.to(DType::BF16));  // result keeps the latent dtype
  EXPECT_EQ(bf.dtype(), DType::BF16);
}

TEST(FlowMatch, ConfigErrorsNameFileAndField) {
  try {
    FlowMatchConfig::from_json(io::Json::parse(R"({"shift": "three"})"), "sched.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sched.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("shift"), std::string::npos);
  }
  EXPECT_THROW(FlowMatchConfig::from_json(io::Json::parse(R"({"use_karras_sigmas": true})"), "s"), Error);
  const auto c = FlowMatchConfig::from_json(io::Json::parse(R"({"shift_terminal": null})"), "s");
  EXPECT_FALSE(c.shift_terminal.has_value());
}

TEST(PipelineSchedule, SigmaSpacings) {
  const auto a = pipeline_sigmas(4, SigmaSpacing::LinspaceToOneOverN);
  EXPECT_DOUBLE_EQ(a[0], 1.0);
  EXPECT_DOUBLE_EQ(a[3], 0.25);
  const auto b = pipeline_sigmas(4, SigmaSpacing::LinspaceDropLast);
  EXPECT_DOUBLE_EQ(b[1], 0.75);
  EXPECT_DOUBLE_EQ(b[3], 0.25);
  EXPECT_FLOAT_EQ(model_time(250.0f, ModelTime::OneMinusSigma, 1000), 0.75f);
  EXPECT_THROW(pipeline_schedule("nope"), Error);
}

}  // namespace
}  // namespace diffuse
