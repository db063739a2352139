#include "runtime/buffer_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace diffuse {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
// Larger requests cannot be mapped anyway; refusing them keeps the size arithmetic from overflowing.
constexpr size_t kMaxRequest = size_t{1} << 48;

size_t round_up(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// A fresh anonymous mapping of `bytes` (a multiple of kHugePage) starting on a huge-page boundary,
// advised to use huge pages; nullptr if the kernel refuses.
std::byte* map_huge_aligned(size_t bytes) {
  void* raw = mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = round_up(base, kHugePage);
  if (start > base) munmap(raw, start - base);
  const size_t tail = kHugePage - (start - base);
  if (tail > 0) munmap(reinterpret_cast<void*>(start + bytes), tail);
  // Advice only: without THP the buffer still works on 4 KiB pages.
  madvise(reinterpret_cast<void*>(start), bytes, MADV_HUGEPAGE);
  return reinterpret_cast<std::byte*>(start);
}

}  // namespace

BufferPoolConfig BufferPoolConfig::from_env() {
  BufferPoolConfig config;
  const char* value = std::getenv("DIFFUSE_BUFFER_CACHE_MIB");
  if (value == nullptr) return config;
  const std::string text(value);
  const bool digits = !text.empty() && text.size() <= 12 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  DIFFUSE_CHECK(digits, "DIFFUSE_BUFFER_CACHE_MIB must be a whole number of MiB, got '", text, "'");
  config.cache_cap_bytes = static_cast<size_t>(std::stoull(text)) << 20;
  return config;
}

// Resident memory is tracked as "touched" bytes: a buffer in use counts the huge pages up to the end
// of its request (all it may fault in), an idle one what its last owner counted (pages beyond were
// never faulted in or were released). The header's peak rule is in_use + idle <= peak_in_use.
struct BufferPool::State {
  struct Idle {
    std::byte* addr;
    size_t touched;
    uint64_t freed;  // give_back order, for least-recently-freed eviction
  };

  explicit State(const BufferPoolConfig& c) : config(c) {}
  ~State() { unmap_idle(); }

  // The lock is held in every member below.
  void unmap(std::multimap<size_t, Idle>::iterator it) {
    munmap(it->second.addr, it->first);
    mapped_bytes -= it->first;
    idle_bytes -= it->first;
    idle_touched -= it->second.touched;
    idle.erase(it);
  }

  void unmap_idle() {
    while (!idle.empty()) unmap(idle.begin());
  }

  // A request of `touch` bytes just went into use: update the peak and evict idle buffers until
  // the rule above holds again.
  void account_in_use(size_t touch) {
    in_use_touched += touch;
    peak_in_use = std::max(peak_in_use, in_use_touched);
    while (!idle.empty() && in_use_touched + idle_touched > peak_in_use) {
      auto oldest = idle.begin();
      for (auto it = idle.begin(); it != idle.end(); ++it)
        if (it->second.freed < oldest->second.freed) oldest = it;
      unmap(oldest);
    }
  }

  // A buffer coming back from its last owner: cached if the cap allows, unmapped otherwise.
  void give_back(std::byte* addr, size_t size, size_t touched) noexcept {
    std::lock_guard<std::mutex> lock(mu);
    in_use_touched -= touched;
    if (idle_bytes + size <= config.cache_cap_bytes) {
      try {
        idle.emplace(size, Idle{addr, touched, ++frees});
        idle_bytes += size;
        idle_touched += touched;
        return;
      } catch (...) {  // no memory for the map node: unmap instead
      }
    }
    munmap(addr, size);
    mapped_bytes -= size;
  }

  const BufferPoolConfig config;
  mutable std::mutex mu;
  std::multimap<size_t, Idle> idle;  // by mapping size, for best-fit lookup
  size_t mapped_bytes = 0, idle_bytes = 0;
  size_t in_use_touched = 0, idle_touched = 0, peak_in_use = 0;
  uint64_t hits = 0, misses = 0, frees = 0;
};

BufferPool::BufferPool(const BufferPoolConfig& config) : state_(std::make_shared<State>(config)) {}

BufferPool::~BufferPool() { release_cached(); }

BufferPool& BufferPool::global() {
  // Intentionally leaked: see the header.
  static BufferPool* const pool = new BufferPool(BufferPoolConfig::from_env());
  return *pool;
}

size_t BufferPool::size_class(size_t bytes) {
  if (bytes <= kHugePage) return kHugePage;
  const int log2_floor = std::bit_width(bytes - 1) - 1;  // 2^log2_floor < bytes <= 2^(log2_floor + 1)
  const size_t quarter = size_t{1} << (log2_floor - 2);
  return round_up(round_up(bytes, quarter), kHugePage);
}

std::shared_ptr<void> BufferPool::allocate(size_t bytes) {
  State& s = *state_;
  if (bytes < s.config.threshold_bytes) {
    void* p = std::aligned_alloc(64, round_up(std::max<size_t>(bytes, 1), 64));
    if (p == nullptr) return {};
    return std::shared_ptr<void>(p, std::free);
  }
  if (bytes > kMaxRequest) return {};
  std::byte* addr = nullptr;
  size_t size = 0;
  // What this request may fault in: whole huge pages up to its end.
  const size_t touch = round_up(bytes, kHugePage);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    // Best fit: the smallest idle buffer that holds the request.
    const auto it = s.idle.lower_bound(bytes);
    if (it != s.idle.end()) {
      addr = it->second.addr;
      size = it->first;
      const size_t touched = it->second.touched;
      s.idle_touched -= touched;
      s.idle_bytes -= size;
      s.idle.erase(it);
      ++s.hits;
      // Pages the previous owner faulted beyond this request would stay resident unused.
      if (touched > touch) madvise(addr + touch, touched - touch, MADV_DONTNEED);
    } else {
      ++s.misses;
      // Idle memory never coexists with a fresh mapping.
      s.unmap_idle();
      size = size_class(bytes);
      addr = map_huge_aligned(size);
      if (addr == nullptr) return {};
      s.mapped_bytes += size;
    }
    s.account_in_use(touch);
  }
  return std::shared_ptr<void>(addr, [state = state_, size, touch](void* p) {
    state->give_back(static_cast<std::byte*>(p), size, touch);
  });
}

void BufferPool::release_cached() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->unmap_idle();
  state_->peak_in_use = state_->in_use_touched;  // a new phase: its own peak
}

BufferPoolStats BufferPool::stats() const {
  const State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mu);
  return {s.mapped_bytes, s.idle_bytes, s.idle.size(), s.hits, s.misses};
}

size_t BufferPool::idle_resident_bytes() const {
  const State& s = *state_;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::lock_guard<std::mutex> lock(s.mu);
  size_t resident = 0;
  std::vector<unsigned char> pages;
  for (const auto& [size, buffer] : s.idle) {
    pages.assign(size / page, 0);
    if (mincore(buffer.addr, size, pages.data()) != 0) continue;
    for (unsigned char p : pages) resident += (p & 1) ? page : 0;
  }
  return resident;
}

void release_cached_buffers() { BufferPool::global().release_cached(); }

}  // namespace diffuse
