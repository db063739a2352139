#include "io/atomic_file.h"

#include <cerrno>
#include <cstring>

#include "runtime/error.h"

namespace diffuse::io {

void write_all(std::FILE* file, const void* data, size_t size, const std::string& path) {
  if (size == 0) return;
  DIFFUSE_CHECK(std::fwrite(data, 1, size, file) == size, path, ": write failed: ",
                std::strerror(errno));
}

void write_file_atomically(const std::string& path,
                           const std::function<void(std::FILE*, const std::string&)>& write) {
  const std::string tmp = path + ".tmp";
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  DIFFUSE_CHECK(file != nullptr, path, ": cannot create ", tmp, ": ", std::strerror(errno));
  try {
    write(file, tmp);
  } catch (...) {
    std::fclose(file);
    std::remove(tmp.c_str());
    throw;
  }
  // fclose flushes: a full disk shows up here, not necessarily in fwrite.
  const bool flushed = std::fflush(file) == 0;
  const int flush_err = errno;
  const bool closed = std::fclose(file) == 0;
  const int close_err = errno;
  if (!flushed || !closed) {
    std::remove(tmp.c_str());
    fail(path, ": write failed: ", std::strerror(!flushed ? flush_err : close_err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    fail(path, ": cannot rename ", tmp, " into place: ", std::strerror(err));
  }
}

}  // namespace diffuse::io
