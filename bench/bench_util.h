// Shared bits of the benchmark programs: command-line flags and a noise-resistant timer.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <ctime>

#include "runtime/parallel.h"
#include "runtime/timer.h"

namespace diffuse::bench {

struct Flags {
  int threads = 0;     // 0 = all cores
  bool quick = false;  // fewer shapes / repetitions (smoke runs)
};

inline Flags parse_flags(int argc, char** argv, const char* usage) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      f.threads = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--quick")) {
      f.quick = true;
    } else {
      std::fprintf(stderr, "usage: %s\n", usage);
      std::exit(2);
    }
  }
  if (f.threads > 0) set_num_threads(f.threads);
  return f;
}

// Process CPU time (all threads) in seconds.
inline double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Two clocks per measurement. On a shared, oversubscribed machine wall time includes the
// time our threads were descheduled; CPU time divided by the thread count does not, so rates
// from it are steadier (they still feel contention for caches and shared cores).
struct Timing {
  double wall = 0;  // seconds
  double cpu = 0;   // CPU seconds / threads
};

// Best-of-n timing of fn() (each clock's minimum), after one warm-up call; stops early once
// `budget_s` seconds have been spent.
template <typename Fn>
Timing best_timing(Fn&& fn, int reps = 5, double budget_s = 3.0) {
  Timer total;
  fn();
  Timing best{1e30, 1e30};
  const double threads = num_threads();
  for (int i = 0; i < reps; ++i) {
    Timer t;
    const double c0 = cpu_seconds();
    fn();
    best.cpu = std::min(best.cpu, (cpu_seconds() - c0) / threads);
    best.wall = std::min(best.wall, t.seconds());
    if (total.seconds() > budget_s && i >= 1) break;
  }
  return best;
}

// Best-of-n wall time in seconds (see best_timing).
template <typename Fn>
double best_time(Fn&& fn, int reps = 5, double budget_s = 3.0) {
  return best_timing(fn, reps, budget_s).wall;
}

}  // namespace diffuse::bench
