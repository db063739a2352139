// runtime/profiler: scope recording (nesting, transparency, worker threads, off = nothing) and
// the two-level table against hand-computed numbers.
#include "runtime/profiler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "runtime/parallel.h"

namespace diffuse {
namespace {

using Path = std::vector<std::string>;

// Every test starts from an empty, enabled profile and leaves the profiler off.
class Profiler : public ::testing::Test {
 protected:
  void SetUp() override {
    reset_profile();
    set_profiling(true);
  }
  void TearDown() override {
    set_profiling(false);
    reset_profile();
  }
};

std::map<Path, ProfileRecord> by_path() {
  std::map<Path, ProfileRecord> m;
  for (const ProfileRecord& r : profile_records()) m[r.path] = r;
  return m;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

TEST_F(Profiler, OffRecordsNothing) {
  set_profiling(false);
  {
    ProfileScope component("transformer");
    ProfileScope op("attention");
    sleep_ms(1);
  }
  EXPECT_TRUE(profile_records().empty());
  EXPECT_TRUE(profile_table(profile_records()).components.empty());
}

TEST_F(Profiler, NestedScopesRecordInclusiveTimeUnderTheirPath) {
  for (int i = 0; i < 2; ++i) {
    ProfileScope component("transformer");
    {
      ProfileScope op("gemm.qkv");
      ProfileScope kernel("gemm.other");  // a kernel scope inside a tagged layer
      sleep_ms(20);
    }
    {
      ProfileScope op("attention");
      sleep_ms(10);
    }
    sleep_ms(5);  // the component's own time
  }
  {
    ProfileScope component("vae");
    sleep_ms(3);
  }
  const auto m = by_path();
  ASSERT_EQ(m.size(), 5u);
  const ProfileRecord& t = m.at({"transformer"});
  const ProfileRecord& qkv = m.at({"transformer", "gemm.qkv"});
  const ProfileRecord& kernel = m.at({"transformer", "gemm.qkv", "gemm.other"});
  const ProfileRecord& attn = m.at({"transformer", "attention"});
  const ProfileRecord& vae = m.at({"vae"});
  EXPECT_EQ(t.calls, 2);
  EXPECT_EQ(qkv.calls, 2);
  EXPECT_EQ(kernel.calls, 2);
  EXPECT_EQ(attn.calls, 2);
  EXPECT_EQ(vae.calls, 1);
  // Sleeps give lower bounds; nesting gives the order (an inner scope lies inside the outer).
  EXPECT_GE(kernel.seconds, 0.040);
  EXPECT_GE(attn.seconds, 0.020);
  EXPECT_GE(vae.seconds, 0.003);
  EXPECT_LE(kernel.seconds, qkv.seconds);
  EXPECT_GE(t.seconds - qkv.seconds - attn.seconds, 0.010);

  // Components in first-recorded order, each followed by its own sub-paths.
  const std::vector<ProfileRecord> records = profile_records();
  EXPECT_EQ(records.front().path, Path{"transformer"});
  EXPECT_EQ(records.back().path, Path{"vae"});

  // The table: the kernel scope is inside gemm.qkv, not a part of its own.
  const ProfileTable table = profile_table(records);
  ASSERT_EQ(table.components.size(), 2u);
  const ProfileComponent& c = table.components[0];
  EXPECT_EQ(c.total.name, "transformer");
  ASSERT_EQ(c.parts.size(), 3u);
  EXPECT_EQ(c.parts[0].name, "gemm.qkv");  // largest first
  EXPECT_EQ(c.parts[1].name, "attention");
  EXPECT_EQ(c.parts[2].name, "other");
  EXPECT_DOUBLE_EQ(c.parts[0].seconds, qkv.seconds);
  EXPECT_NEAR(c.parts[2].seconds, t.seconds - qkv.seconds - attn.seconds, 1e-12);
  EXPECT_DOUBLE_EQ(table.total_seconds, t.seconds + vae.seconds);
  EXPECT_TRUE(table.components[1].parts.empty());  // no parts: no "other" row either
}

TEST_F(Profiler, PercentagesSumToOneHundred) {
  {
    ProfileScope component("text_encoder");
    {
      ProfileScope op("gemm.ffn_up");
      sleep_ms(4);
    }
    ProfileScope op("norm+elementwise");
    sleep_ms(2);
  }
  {
    ProfileScope component("transformer");
    ProfileScope op("attention");
    sleep_ms(6);
  }
  const ProfileTable table = profile_table(profile_records());
  ASSERT_EQ(table.components.size(), 2u);
  double components = 0;
  for (const ProfileComponent& c : table.components) {
    components += c.total.percent_of_total;
    double parts = 0, parts_of_total = 0;
    for (const ProfileRow& p : c.parts) {
      EXPECT_GE(p.seconds, 0.0);
      parts += p.percent_of_component;
      parts_of_total += p.percent_of_total;
    }
    EXPECT_NEAR(parts, 100.0, 1e-9) << c.total.name;
    EXPECT_NEAR(parts_of_total, c.total.percent_of_total, 1e-9) << c.total.name;
  }
  EXPECT_NEAR(components, 100.0, 1e-9);
}

TEST_F(Profiler, TableFromRecordsMatchesHandComputedNumbers) {
  const std::vector<ProfileRecord> records = {
      {{"transformer"}, 10.0, 2},
      {{"transformer", "attention"}, 3.0, 4},
      {{"transformer", "gemm.ffn_up"}, 6.0, 8},
      {{"transformer", "gemm.ffn_up", "gemm.other"}, 5.5, 8},  // inside gemm.ffn_up: not a part
      {{"vae"}, 30.0, 1},
  };
  const ProfileTable t = profile_table(records);
  EXPECT_DOUBLE_EQ(t.total_seconds, 40.0);
  ASSERT_EQ(t.components.size(), 2u);
  const ProfileComponent& tr = t.components[0];
  EXPECT_EQ(tr.total.calls, 2);
  EXPECT_DOUBLE_EQ(tr.total.percent_of_total, 25.0);
  ASSERT_EQ(tr.parts.size(), 3u);
  EXPECT_EQ(tr.parts[0].name, "gemm.ffn_up");
  EXPECT_DOUBLE_EQ(tr.parts[0].percent_of_component, 60.0);
  EXPECT_DOUBLE_EQ(tr.parts[0].percent_of_total, 15.0);
  EXPECT_EQ(tr.parts[0].calls, 8);
  EXPECT_EQ(tr.parts[1].name, "attention");
  EXPECT_DOUBLE_EQ(tr.parts[1].percent_of_component, 30.0);
  EXPECT_DOUBLE_EQ(tr.parts[1].percent_of_total, 7.5);
  EXPECT_EQ(tr.parts[2].name, "other");
  EXPECT_DOUBLE_EQ(tr.parts[2].seconds, 1.0);
  EXPECT_EQ(tr.parts[2].calls, 0);
  EXPECT_DOUBLE_EQ(tr.parts[2].percent_of_component, 10.0);
  EXPECT_DOUBLE_EQ(tr.parts[2].percent_of_total, 2.5);
  EXPECT_DOUBLE_EQ(t.components[1].total.percent_of_total, 75.0);

  const std::string text = format_profile_table(t);
  EXPECT_NE(text.find("transformer"), std::string::npos);
  EXPECT_NE(text.find("  gemm.ffn_up"), std::string::npos);
  EXPECT_NE(text.find("60.0"), std::string::npos);
  EXPECT_NE(text.find("  other"), std::string::npos);
  EXPECT_EQ(text.find("gemm.other"), std::string::npos);  // level 3 is not a row
  EXPECT_NE(text.find("total"), std::string::npos);
}

TEST_F(Profiler, ComponentStillOpenCountsItsPartsAsItsTime) {
  // Records taken while "transformer" is open: its parts exist, its own total does not yet.
  const ProfileTable t = profile_table({{{"transformer", "attention"}, 2.0, 1}});
  ASSERT_EQ(t.components.size(), 1u);
  EXPECT_DOUBLE_EQ(t.components[0].total.seconds, 2.0);
  EXPECT_DOUBLE_EQ(t.components[0].parts.back().seconds, 0.0);  // other
  EXPECT_DOUBLE_EQ(t.total_seconds, 2.0);
}

TEST_F(Profiler, SameNameNestedScopeIsTransparent) {
  {
    ProfileScope component("vae");
    ProfileScope norm("norm+elementwise");
    ProfileScope inner("norm+elementwise");  // e.g. rms_norm calling rms_norm_inplace
  }
  const auto m = by_path();
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.at({"vae", "norm+elementwise"}).calls, 1);
}

TEST_F(Profiler, ScopesOnWorkerThreadsOfAParallelRegionAreIgnored) {
  const int saved = num_threads();
  set_num_threads(2);
  {
    ProfileScope op("attention");
    parallel_for(2, 1, [](int64_t, int64_t) { ProfileScope inside("norm+elementwise"); });
  }
  set_num_threads(saved);
  const auto m = by_path();
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m.count({"attention"}), 1u);
}

TEST_F(Profiler, ConcurrentThreadsAccumulateEveryCall) {
  constexpr int kThreads = 4, kCalls = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < kCalls; ++i) {
        ProfileScope component("text_encoder");
        ProfileScope op("attention");
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto m = by_path();
  EXPECT_EQ(m.at({"text_encoder"}).calls, kThreads * kCalls);
  EXPECT_EQ(m.at({"text_encoder", "attention"}).calls, kThreads * kCalls);
}

TEST_F(Profiler, ResetDropsRecords) {
  { ProfileScope s("vae"); }
  EXPECT_FALSE(profile_records().empty());
  reset_profile();
  EXPECT_TRUE(profile_records().empty());
}

}  // namespace
}  // namespace diffuse
