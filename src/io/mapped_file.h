// A whole file memory-mapped read-only (PROT_READ, MAP_PRIVATE). Tensors that view the
// mapping hold a shared_ptr to it, so the mapping outlives every object that opened it.
// If another process truncates the file while it is mapped, reads past the new end
// fault (SIGBUS); checkpoints are expected not to change while they are loaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace diffuse::io {

class MappedFile {
 public:
  // Throws diffuse::Error naming `path` if it cannot be opened, is not a regular file, or
  // cannot be mapped. An empty file maps to {nullptr, 0}.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Drops the resident pages wholly inside [offset, offset + size) (MADV_DONTNEED; the
  // mapping is private and never written, so touching them again re-reads the file). For
  // data that was converted into a copy at load. Out-of-range parts are ignored.
  void release_pages(size_t offset, size_t size) const;

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace diffuse::io
