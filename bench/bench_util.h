// Shared bits of the benchmark programs: command-line flags and a noise-resistant timer.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

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

// Best-of-n wall time in seconds of fn(), after one warm-up call; stops early once
// `budget_s` seconds have been spent (shared machines: the minimum is the least noisy).
template <typename Fn>
double best_time(Fn&& fn, int reps = 5, double budget_s = 3.0) {
  Timer total;
  fn();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    Timer t;
    fn();
    best = std::min(best, t.seconds());
    if (total.seconds() > budget_s && i >= 1) break;
  }
  return best;
}

}  // namespace diffuse::bench
