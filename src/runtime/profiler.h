// A process-wide wall-clock profiler for whole generations: where does the time go, by
// component (text encoder, transformer, VAE) and, within each, by op category (GEMM kinds,
// attention, norms and elementwise ops, convolutions).
//
// Code marks regions with an RAII `ProfileScope scope("attention");`. Off by default: a scope
// then costs one relaxed atomic load. When on, each scope measures steady_clock time on the
// thread that opened it and adds it, thread-safely, under its *path*: the names of the scopes
// open around it on that thread, outermost first ("transformer" / "gemm.qkv" / "gemm.other").
// Scopes opened inside a parallel region (by worker threads) are ignored: ops parallelize
// inside, and their callers' scopes already count the wall time. A scope with the same name as
// the scope directly around it is transparent (a norm calling a norm counts once).
//
// The table (profile_table) reads two levels without double counting: top-level scopes are the
// components (their times add up to the profiled total), and the outermost scopes directly
// inside a component are its parts; deeper scopes are part of the part that contains them (a
// GEMM kernel inside a tagged linear layer counts as that layer's kind). The component's time
// not covered by any part is shown as "other".
//
// Scope names must be string literals (or otherwise outlive the profile): only the pointer is
// kept while the scope is open.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace diffuse {

// The scope names the engine uses, in one place (the GEMM kinds of tagged linear layers are
// in models/common/linear_kind.h).
namespace profile_scopes {
// Components (top level).
inline constexpr char kTextEncoder[] = "text_encoder";
inline constexpr char kTransformer[] = "transformer";  // the whole denoising loop
inline constexpr char kVae[] = "vae";
// Op categories.
inline constexpr char kAttention[] = "attention";
inline constexpr char kNormElementwise[] = "norm+elementwise";  // norms, elementwise, activations, RoPE
inline constexpr char kConv[] = "conv";
inline constexpr char kGemm[] = "gemm.other";  // a GEMM not inside a tagged linear layer
}  // namespace profile_scopes

namespace profiler_detail {
inline std::atomic<bool> enabled{false};
}  // namespace profiler_detail

// Turns recording on or off for scopes opened from now on (scopes already open when it is turned
// on are not recorded; scopes already recording when it is turned off still record on close).
void set_profiling(bool on);
inline bool profiling() { return profiler_detail::enabled.load(std::memory_order_relaxed); }

// Drops everything recorded so far (scopes open at the time still record when they close).
void reset_profile();

// Accumulated inclusive time of one scope path.
struct ProfileRecord {
  std::vector<std::string> path;  // outermost first
  double seconds = 0;
  int64_t calls = 0;
};

// Every recorded path, components in the order they were first recorded, each followed by the
// paths below it.
std::vector<ProfileRecord> profile_records();

class ProfileScope {
 public:
  explicit ProfileScope(const char* name) noexcept {
    if (profiling()) open(name);
  }
  ~ProfileScope() {
    if (open_) close();
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  void open(const char* name) noexcept;
  void close() noexcept;

  bool open_ = false;
  std::chrono::steady_clock::time_point start_{};
};

// One row of the table.
struct ProfileRow {
  std::string name;
  double seconds = 0;
  int64_t calls = 0;            // 0 for the computed "other" row
  double percent_of_component = 0;
  double percent_of_total = 0;
};

struct ProfileComponent {
  ProfileRow total;              // percent_of_component = 100
  std::vector<ProfileRow> parts;  // by time, largest first, then "other" (when there are parts)
};

struct ProfileTable {
  double total_seconds = 0;  // sum of the components' times
  std::vector<ProfileComponent> components;
};

// Builds the two-level table from records (see the top of this file).
ProfileTable profile_table(const std::vector<ProfileRecord>& records);

// A fixed-width text table, one line per row, parts indented under their component.
std::string format_profile_table(const ProfileTable& table);

}  // namespace diffuse
