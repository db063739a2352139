#include "runtime/progress.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include "runtime/log.h"

namespace diffuse {

ProgressBar::ProgressBar(std::string label, int total)
    : label_(std::move(label)), total_(total), tty_(isatty(fileno(stderr)) != 0) {}

void ProgressBar::update(int done) {
  if (log_level() == LogLevel::Quiet) return;
  const double elapsed = timer_.seconds();
  const double per_item = done > 0 ? elapsed / done : 0.0;
  const int eta = static_cast<int>(per_item * (total_ - done) + 0.5);
  constexpr int kWidth = 24;
  const int filled = total_ > 0 ? kWidth * done / total_ : kWidth;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '-');
  std::fprintf(stderr, "%s%s %d/%d [%s] %.2f s/it ETA %d:%02d%s", tty_ ? "\r" : "", label_.c_str(), done, total_,
               bar.c_str(), per_item, eta / 60, eta % 60, tty_ ? "" : "\n");
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (tty_ && log_level() != LogLevel::Quiet) std::fprintf(stderr, "\n");
}

size_t peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<size_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

}  // namespace diffuse
