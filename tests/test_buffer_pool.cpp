// runtime/buffer_pool: reuse of freed large buffers, what a miss and the cap do to mapped and idle
// bytes, resident memory of a reused buffer, small requests, alignment, concurrency, the size
// classes against a brute-force enumeration, the environment setting, and Tensor::empty on top.
#include "runtime/buffer_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "tensor/tensor.h"

namespace diffuse {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

BufferPool make_pool(size_t cap_mib, size_t threshold = kMiB) {
  BufferPoolConfig config;
  config.cache_cap_bytes = cap_mib * kMiB;
  config.threshold_bytes = threshold;
  return BufferPool(config);
}

uintptr_t address(const std::shared_ptr<void>& p) { return reinterpret_cast<uintptr_t>(p.get()); }

TEST(BufferPool, ReusesAFreedBufferOfTheSameClass) {
  BufferPool pool = make_pool(64);
  auto a = pool.allocate(3 * kMiB);
  ASSERT_NE(a, nullptr);
  const uintptr_t first = address(a);
  a.reset();
  EXPECT_EQ(pool.stats().idle_buffers, 1u);
  auto b = pool.allocate(3 * kMiB + 4096);  // a slightly different size, same class
  EXPECT_EQ(address(b), first);
  const BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.idle_bytes, 0u);
  EXPECT_EQ(s.mapped_bytes, BufferPool::size_class(3 * kMiB));
}

TEST(BufferPool, ALargerRequestMissesAndDropsTheIdleBuffers) {
  BufferPool pool = make_pool(64);
  auto a = pool.allocate(4 * kMiB);
  auto b = pool.allocate(8 * kMiB);
  a.reset();
  b.reset();
  BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.idle_buffers, 2u);
  EXPECT_EQ(s.idle_bytes, 12 * kMiB);
  EXPECT_EQ(s.mapped_bytes, 12 * kMiB);

  auto c = pool.allocate(20 * kMiB);  // fits neither: both idle buffers go before it is mapped
  ASSERT_NE(c, nullptr);
  s = pool.stats();
  EXPECT_EQ(s.misses, 3u);
  EXPECT_EQ(s.hits, 0u);
  EXPECT_EQ(s.idle_buffers, 0u);
  EXPECT_EQ(s.idle_bytes, 0u);
  EXPECT_EQ(s.mapped_bytes, BufferPool::size_class(20 * kMiB));
}

TEST(BufferPool, ASmallerRequestTakesTheBestFitAndReleasesItsTail) {
  BufferPool pool = make_pool(256);
  auto small = pool.allocate(6 * kMiB);
  auto big = pool.allocate(40 * kMiB);
  const uintptr_t small_at = address(small), big_at = address(big);
  std::memset(big.get(), 1, 40 * kMiB);  // every page of the big buffer resident
  std::memset(small.get(), 1, 6 * kMiB);
  small.reset();
  big.reset();
  EXPECT_GE(pool.idle_resident_bytes(), 46 * kMiB);

  // 5 MiB fits both; the smallest that fits wins.
  auto a = pool.allocate(5 * kMiB);
  EXPECT_EQ(address(a), small_at);
  // 10 MiB fits only the big one: it is reused, and its pages beyond the request are released.
  auto b = pool.allocate(10 * kMiB);
  EXPECT_EQ(address(b), big_at);
  a.reset();
  b.reset();
  EXPECT_EQ(pool.stats().hits, 2u);
  EXPECT_EQ(pool.stats().misses, 2u);
  EXPECT_LE(pool.idle_resident_bytes(), 6 * kMiB + 10 * kMiB);
}

TEST(BufferPool, IdleBuffersAreEvictedWhenTheyWouldLiftTheInUsePeak) {
  BufferPool pool = make_pool(256);
  auto a = pool.allocate(40 * kMiB);  // the in-use peak: 40 MiB
  std::memset(a.get(), 1, 40 * kMiB);
  const uintptr_t a_at = address(a);
  a.reset();
  auto b = pool.allocate(2 * kMiB);  // best fit: a's buffer, its pages beyond 2 MiB released
  EXPECT_EQ(address(b), a_at);
  auto c = pool.allocate(30 * kMiB);  // a miss: in use 32
  std::memset(c.get(), 1, 30 * kMiB);
  b.reset();
  c.reset();  // idle: a's buffer (2 MiB resident) and c's (30)
  EXPECT_EQ(pool.stats().idle_buffers, 2u);
  // 38 MiB fits only a's 40 MiB buffer; in use 38 + c's idle 30 would pass the 40 MiB that the
  // same requests keep resident without a cache, so c's buffer goes.
  auto d = pool.allocate(38 * kMiB);
  EXPECT_EQ(address(d), a_at);
  const BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.idle_buffers, 0u);
  EXPECT_EQ(s.mapped_bytes, BufferPool::size_class(40 * kMiB));
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 2u);
}

// Random traffic, every byte written: after each step the idle buffers' resident pages (mincore)
// plus what is in use never exceed the most that was in use at once since the last release, which
// is what the process would hold at its peak without the cache.
TEST(BufferPool, RandomTrafficNeverHoldsMoreThanTheInUsePeak) {
  BufferPool pool = make_pool(512);
  std::mt19937 rng(11);
  std::vector<std::pair<std::shared_ptr<void>, size_t>> live;  // buffer, huge pages it may touch
  size_t in_use = 0, peak = 0;
  for (int step = 0; step < 300; ++step) {
    const unsigned op = rng() % 10;
    if (op < 5 || live.empty()) {
      const size_t bytes = kMiB + rng() % (15 * kMiB);
      auto p = pool.allocate(bytes);
      ASSERT_NE(p, nullptr);
      std::memset(p.get(), step & 0xff, bytes);
      const size_t touch = (bytes + 2 * kMiB - 1) / (2 * kMiB) * (2 * kMiB);
      live.emplace_back(std::move(p), touch);
      in_use += touch;
      peak = std::max(peak, in_use);
    } else if (op < 9) {
      const size_t victim = rng() % live.size();
      in_use -= live[victim].second;
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(victim));
    } else {
      pool.release_cached();
      EXPECT_EQ(pool.stats().idle_bytes, 0u);
      peak = in_use;
    }
    ASSERT_LE(pool.idle_resident_bytes() + in_use, peak) << "step " << step;
  }
  EXPECT_GT(pool.stats().hits, 0u);
}

TEST(BufferPool, IdleBytesStayUnderTheCap) {
  BufferPool pool = make_pool(10);
  auto a = pool.allocate(8 * kMiB);
  auto b = pool.allocate(8 * kMiB);
  a.reset();  // cached: 8 of 10 MiB
  b.reset();  // would make 16: unmapped instead
  const BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.idle_buffers, 1u);
  EXPECT_EQ(s.idle_bytes, 8 * kMiB);
  EXPECT_EQ(s.mapped_bytes, 8 * kMiB);
  pool.release_cached();
  EXPECT_EQ(pool.stats().mapped_bytes, 0u);
  EXPECT_EQ(pool.stats().idle_bytes, 0u);
}

TEST(BufferPool, ZeroCapDisablesTheCache) {
  BufferPool pool = make_pool(0);
  auto a = pool.allocate(4 * kMiB);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(pool.stats().mapped_bytes, 4 * kMiB);
  a.reset();
  EXPECT_EQ(pool.stats().mapped_bytes, 0u);
  EXPECT_EQ(pool.stats().idle_bytes, 0u);
  auto b = pool.allocate(4 * kMiB);
  EXPECT_EQ(pool.stats().hits, 0u);
  EXPECT_EQ(pool.stats().misses, 2u);
}

TEST(BufferPool, RequestsBelowTheThresholdBypassThePool) {
  BufferPool pool = make_pool(64);
  auto small = pool.allocate(kMiB - 1);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(address(small) % 64, 0u);
  std::memset(small.get(), 7, kMiB - 1);
  BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.hits + s.misses, 0u);
  EXPECT_EQ(s.mapped_bytes, 0u);

  auto large = pool.allocate(kMiB);  // exactly the threshold: pooled, on a huge-page boundary
  ASSERT_NE(large, nullptr);
  EXPECT_EQ(address(large) % (2 * kMiB), 0u);
  s = pool.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.mapped_bytes, 2 * kMiB);
}

TEST(BufferPool, EveryBufferIsAlignedAndWritable) {
  BufferPool pool = make_pool(64);
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{1000}, kMiB - 64, kMiB, 5 * kMiB + 3}) {
    auto p = pool.allocate(bytes);
    ASSERT_NE(p, nullptr) << bytes;
    EXPECT_EQ(address(p) % 64, 0u) << bytes;
    std::memset(p.get(), 0xab, bytes);
  }
}

TEST(BufferPool, BuffersMayOutliveThePool) {
  std::shared_ptr<void> kept;
  {
    BufferPool pool = make_pool(64);
    kept = pool.allocate(3 * kMiB);
    auto idle = pool.allocate(5 * kMiB);
  }
  ASSERT_NE(kept, nullptr);
  std::memset(kept.get(), 1, 3 * kMiB);
  kept.reset();  // goes back to the pool's state, which then unmaps it
}

TEST(BufferPool, ConcurrentAllocateAndFreeKeepEveryBufferPrivate) {
  BufferPool pool = make_pool(64);
  const size_t sizes[] = {512 * 1024, 3 * kMiB / 2, 3 * kMiB, 6 * kMiB};
  constexpr int kThreads = 4, kRounds = 150;
  std::vector<int> large_requests(kThreads, 0);
  std::vector<int> corrupted(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t + 1));
      std::vector<std::pair<std::shared_ptr<void>, size_t>> held;
      for (int r = 0; r < kRounds; ++r) {
        const size_t bytes = sizes[rng() % 4];
        auto p = pool.allocate(bytes);
        if (p == nullptr) {
          ++corrupted[t];
          continue;
        }
        if (bytes >= kMiB) ++large_requests[t];
        // Stamp the first and last page with this thread's id; another owner would overwrite it.
        std::memset(p.get(), t + 1, 4096);
        std::memset(static_cast<char*>(p.get()) + bytes - 4096, t + 1, 4096);
        held.emplace_back(std::move(p), bytes);
        if (held.size() > 3 || rng() % 2) {
          const size_t victim = rng() % held.size();
          const auto* bytes_at = static_cast<const unsigned char*>(held[victim].first.get());
          const size_t n = held[victim].second;
          for (size_t i : {size_t{0}, size_t{4095}, n - 4096, n - 1})
            if (bytes_at[i] != t + 1) ++corrupted[t];
          held.erase(held.begin() + static_cast<std::ptrdiff_t>(victim));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  int large = 0;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(corrupted[t], 0) << "thread " << t;
    large += large_requests[t];
  }
  const BufferPoolStats s = pool.stats();
  EXPECT_EQ(s.hits + s.misses, static_cast<uint64_t>(large));
  EXPECT_EQ(s.mapped_bytes, s.idle_bytes);  // nothing is in use any more
  EXPECT_LE(s.idle_bytes, 64 * kMiB);
}

// The smallest member of {2 MiB} U {2^k * q / 4, q = 4..7, rounded up to 2 MiB} holding `bytes`,
// by enumerating the set.
size_t reference_size_class(size_t bytes) {
  std::set<size_t> classes = {2 * kMiB};
  for (int k = 2; k < 44; ++k)
    for (size_t q = 4; q < 8; ++q) {
      const size_t c = (size_t{1} << k) / 4 * q;
      classes.insert((c + 2 * kMiB - 1) / (2 * kMiB) * (2 * kMiB));
    }
  return *classes.lower_bound(bytes);
}

TEST(BufferPool, SizeClassesAreQuarterStepsOnHugePages) {
  EXPECT_EQ(BufferPool::size_class(1), 2 * kMiB);
  EXPECT_EQ(BufferPool::size_class(2 * kMiB), 2 * kMiB);
  EXPECT_EQ(BufferPool::size_class(2 * kMiB + 1), 4 * kMiB);
  EXPECT_EQ(BufferPool::size_class(96 * kMiB), 96 * kMiB);
  EXPECT_EQ(BufferPool::size_class(100 * kMiB), 112 * kMiB);
  EXPECT_EQ(BufferPool::size_class(129 * kMiB), 160 * kMiB);
  EXPECT_EQ(BufferPool::size_class(1024 * kMiB + 1), 1280 * kMiB);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const size_t bytes = 1 + rng() % (size_t{3} << 31);
    const size_t c = BufferPool::size_class(bytes);
    ASSERT_EQ(c, reference_size_class(bytes)) << bytes;
    ASSERT_LE(c, std::max(2 * kMiB, bytes + bytes / 4 + 2 * kMiB)) << bytes;
  }
}

// Sets DIFFUSE_BUFFER_CACHE_MIB for one scope and restores what was there.
class ScopedCacheEnv {
 public:
  explicit ScopedCacheEnv(const char* value) {
    if (const char* old = std::getenv(kName)) old_ = old;
    if (value)
      setenv(kName, value, 1);
    else
      unsetenv(kName);
  }
  ~ScopedCacheEnv() {
    if (old_)
      setenv(kName, old_->c_str(), 1);
    else
      unsetenv(kName);
  }

 private:
  static constexpr const char* kName = "DIFFUSE_BUFFER_CACHE_MIB";
  std::optional<std::string> old_;
};

TEST(BufferPool, ConfigFromTheEnvironment) {
  {
    ScopedCacheEnv env(nullptr);
    EXPECT_EQ(BufferPoolConfig::from_env().cache_cap_bytes, BufferPoolConfig().cache_cap_bytes);
  }
  {
    ScopedCacheEnv env("0");
    EXPECT_EQ(BufferPoolConfig::from_env().cache_cap_bytes, 0u);
    // A pool configured so behaves as with the cache off.
    BufferPool pool(BufferPoolConfig::from_env());
    pool.allocate(3 * kMiB).reset();
    EXPECT_EQ(pool.stats().idle_bytes, 0u);
  }
  {
    ScopedCacheEnv env("123");
    EXPECT_EQ(BufferPoolConfig::from_env().cache_cap_bytes, 123 * kMiB);
  }
  for (const char* bad : {"", "-1", "12MiB", "1e3", "99999999999999"}) {
    ScopedCacheEnv env(bad);
    try {
      BufferPoolConfig::from_env();
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("DIFFUSE_BUFFER_CACHE_MIB"), std::string::npos) << e.what();
    }
  }
}

TEST(BufferPool, TensorEmptyReusesTheGlobalPool) {
  BufferPool& pool = BufferPool::global();
  release_cached_buffers();
  EXPECT_EQ(pool.stats().idle_bytes, 0u);
  const BufferPoolStats s0 = pool.stats();
  const void* first = nullptr;
  {
    Tensor t = Tensor::empty({1024, 1024}, DType::F32);  // 4 MiB
    first = t.raw();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % (2 * kMiB), 0u);
  }
  Tensor again = Tensor::zeros({1000, 1040}, DType::F32);  // a little smaller, same class
  EXPECT_EQ(again.item({999, 1039}), 0.0);
  const BufferPoolStats s1 = pool.stats();
  // The global pool follows DIFFUSE_BUFFER_CACHE_MIB; with the cache off nothing is reused.
  if (BufferPoolConfig::from_env().cache_cap_bytes >= 4 * kMiB) {
    EXPECT_EQ(again.raw(), first);
    EXPECT_EQ(s1.misses - s0.misses, 1u);
    EXPECT_EQ(s1.hits - s0.hits, 1u);
  }
  Tensor small = Tensor::empty({7}, DType::F32);  // below the threshold: not counted
  EXPECT_EQ(pool.stats().hits + pool.stats().misses, s1.hits + s1.misses);
}

}  // namespace
}  // namespace diffuse
