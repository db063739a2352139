#!/usr/bin/env bash
# Builds the safetensors header fuzzer (libFuzzer + ASan + UBSan, outside the CMake build)
# and runs it for the given number of seconds (default 60).
#   fuzz/build_and_run.sh [seconds]
# Output (binary, working corpus, crash files) goes to $FUZZ_OUT (default build-fuzz/).
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_OUT:-$root/build-fuzz}"
cxx="${CXX:-$(command -v clang++-14 || command -v clang++)}"
mkdir -p "$out/corpus"

# Only what the parser needs: no oneDNN, OpenMP or libpng.
"$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/src" \
  "$root/fuzz/fuzz_safetensors_header.cpp" \
  "$root/src/io/safetensors_header.cpp" \
  "$root/src/io/printable.cpp" \
  "$root/src/tensor/dtype.cpp" \
  "$root/src/tensor/tensor.cpp" \
  "$root/src/tensor/half.cpp" \
  "$root/src/runtime/buffer_pool.cpp" \
  -o "$out/fuzz_safetensors_header"

# Seeds: the first 64 KiB of every golden safetensors file (header plus some data).
find "$root/tests/golden" -name '*.safetensors' -print0 | while IFS= read -r -d '' f; do
  head -c 65536 "$f" > "$out/corpus/seed-$(printf '%s' "${f#$root/}" | md5sum | cut -c1-16)"
done

cd "$out"  # crash-* / leak-* files land here
exec "$out/fuzz_safetensors_header" -max_total_time="$seconds" -max_len=65536 \
  -dict="$root/fuzz/safetensors.dict" -print_final_stats=1 "$out/corpus"
