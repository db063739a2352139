// A process-wide cache of large buffers: the activation arena that Tensor::empty draws from.
//
// Why: glibc serves every block above its mmap threshold (at most 32 MiB) with a fresh mmap and
// returns it with munmap, so each DiT block faulted (and the kernel zeroed) its large temporaries
// again, 4 KiB at a time, and never got huge pages (THP is often `madvise`-only). Here large
// buffers are mapped 2 MiB aligned with MADV_HUGEPAGE and, once freed, kept for the next request
// that fits, so from the second block on a step's activations land on already faulted huge pages.
//
// Peak resident memory does not grow because of the cache:
//  - a miss first unmaps every idle buffer, then maps the new one, so idle cached memory never
//    coexists with a fresh mapping;
//  - a buffer handed to a request smaller than its previous user releases the pages beyond the
//    new request (MADV_DONTNEED), so a reused buffer is never more resident than a fresh one;
//  - in-use plus idle resident bytes never exceed the most that was in use at once since the last
//    release_cached_buffers() (what the same requests would hold at their peak without a cache):
//    a hit that would pass it unmaps idle buffers, least recently freed first. Hits alone could
//    otherwise keep one phase's buffers (e.g. the text stream's in the double blocks) idle and
//    resident through another phase's peak;
//  - idle bytes are capped (DIFFUSE_BUFFER_CACHE_MIB; 0 turns the cache off), and
//    release_cached_buffers() drops them all, e.g. between pipeline phases.
// Memory allocated outside the pool is not seen: a large transient from malloc while buffers are
// idle still adds to them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace diffuse {

struct BufferPoolConfig {
  // Requests below this go to aligned_alloc (glibc's heap reuses them well already).
  size_t threshold_bytes = size_t{1} << 20;
  // Most bytes kept idle; 0 = no cache (large buffers are still huge-page mappings).
  size_t cache_cap_bytes = size_t{4096} << 20;

  // The defaults with cache_cap_bytes from the environment variable DIFFUSE_BUFFER_CACHE_MIB
  // when set (a whole number of MiB; anything else is an Error naming the variable).
  static BufferPoolConfig from_env();
};

struct BufferPoolStats {
  size_t mapped_bytes = 0;  // large buffers mapped now, in use or idle
  size_t idle_bytes = 0;    // of which idle in the cache
  size_t idle_buffers = 0;
  uint64_t hits = 0;    // large requests served from the cache
  uint64_t misses = 0;  // large requests that mapped a new buffer
};

class BufferPool {
 public:
  explicit BufferPool(const BufferPoolConfig& config);
  // Idle buffers are unmapped when the pool and every buffer it handed out are gone; buffers may
  // outlive the pool object.
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // The pool Tensor::empty uses, configured from the environment at first use. Never destroyed,
  // so tensors freed during static destruction still have somewhere to go.
  static BufferPool& global();

  // At least `bytes` of uninitialized memory, 64-byte aligned (large ones 2 MiB aligned), owned by
  // the returned pointer (get() is the memory); releasing the last copy returns it to the pool.
  // An empty pointer when the memory cannot be had.
  std::shared_ptr<void> allocate(size_t bytes);

  // Unmaps every idle buffer and starts a new phase: the in-use peak that bounds idle memory
  // restarts from what is in use now.
  void release_cached();

  BufferPoolStats stats() const;
  // Bytes of idle buffers that are resident now (mincore); what the cache costs in memory.
  size_t idle_resident_bytes() const;

  // The mapping size a large request of `bytes` gets: the next step of 2^k x {1, 1.25, 1.5, 1.75},
  // at least a multiple of 2 MiB. Quarter steps waste at most a quarter of the address space
  // (not of resident memory: only what a request touches is faulted in) and let tensors of
  // slightly different sizes share a buffer; 2 MiB is the huge page.
  static size_t size_class(size_t bytes);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Drops the global pool's idle buffers (BufferPool::global().release_cached()).
void release_cached_buffers();

}  // namespace diffuse
