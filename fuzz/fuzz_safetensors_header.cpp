// libFuzzer target: parse_safetensors_header on arbitrary bytes. It must either return a
// header whose every range lies inside the input, or throw diffuse::Error; anything else
// (a crash, a sanitizer report, another exception type) is a bug.
#include <cstddef>
#include <cstdint>

#include "io/safetensors_header.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto header = diffuse::io::parse_safetensors_header(data, size, "fuzz-input");
    if (header.data_offset + header.data_bytes != size) __builtin_trap();
    uint8_t checksum = 0;
    for (const auto& t : header.tensors) {
      if (t.begin > t.end || t.end > header.data_bytes) __builtin_trap();
      if (static_cast<uint64_t>(diffuse::shape_numel(t.shape)) * diffuse::dtype_size(t.dtype) != t.nbytes())
        __builtin_trap();
      // Touch the first and last byte so ASan checks the range against the input buffer.
      if (t.nbytes() > 0) checksum ^= data[header.data_offset + t.begin] ^ data[header.data_offset + t.end - 1];
    }
    volatile uint8_t sink = checksum;
    (void)sink;
  } catch (const diffuse::Error&) {
    // Rejected input: the expected outcome for almost every mutation.
  }
  return 0;
}
