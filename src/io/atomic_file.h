// Atomic file replacement: content is written to `<path>.tmp` in the same directory and
// renamed over `path` only once it is complete, so a crash or error never leaves a
// half-written checkpoint or image under the final name.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

namespace diffuse::io {

// Calls write(file, tmp_path) on a freshly created `<path>.tmp`; then flushes, closes and
// renames it to `path`. If `write` throws, or any step fails, the temporary file is removed
// and a diffuse::Error naming `path` is thrown (`write`'s own Error is rethrown as is).
void write_file_atomically(const std::string& path,
                           const std::function<void(std::FILE* file, const std::string& tmp_path)>& write);

// fwrite that throws a diffuse::Error naming `path` on a short write.
void write_all(std::FILE* file, const void* data, size_t size, const std::string& path);

}  // namespace diffuse::io
