// A one-line progress bar on stderr for long loops: "step 3/28 [###-----] 2.41 s/it ETA 1:00".
// Redraws in place on a terminal; prints one line per update otherwise (logs, CI).
#pragma once

#include <string>

#include "runtime/timer.h"

namespace diffuse {

class ProgressBar {
 public:
  ProgressBar(std::string label, int total);
  void update(int done);  // `done` items finished
  void finish();          // ends the line

 private:
  std::string label_;
  int total_;
  Timer timer_;
  bool tty_;
};

// Peak resident memory of this process so far, in bytes (getrusage).
size_t peak_resident_bytes();

}  // namespace diffuse
