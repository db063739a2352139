// What the kernel reports about this process's memory, for benchmarks and memory reports.
// (The process peak so far, ru_maxrss, is peak_resident_bytes() in runtime/progress.h.)
#pragma once

#include <cstddef>
#include <cstdint>

namespace diffuse {

// Minor page faults of the whole process so far (all threads; getrusage ru_minflt). Each one is
// a page the kernel had to map, and for fresh anonymous memory also zero.
uint64_t minor_page_faults();

// Resident memory now, in bytes (/proc/self/statm); 0 where unavailable.
size_t resident_bytes();

// Resets the process's peak resident memory to its current value (Linux: "5" into
// /proc/self/clear_refs), so a later peak_resident_bytes() covers only what ran since.
// Returns false where the kernel does not allow it; the peak then stays the process peak.
bool reset_peak_resident();

}  // namespace diffuse
