#include "io/safetensors_stream_writer.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/printable.h"
#include "runtime/error.h"

namespace diffuse::io {

std::vector<TensorDecl> safetensors_storage_order(std::vector<TensorDecl> decls) {
  std::stable_sort(decls.begin(), decls.end(), [](const TensorDecl& a, const TensorDecl& b) {
    return dtype_size(a.dtype) > dtype_size(b.dtype);
  });
  return decls;
}

void write_safetensors_streamed(const std::string& path, const std::vector<TensorDecl>& decls,
                                const std::map<std::string, std::string>& metadata,
                                const std::function<Tensor(const TensorDecl&)>& produce,
                                const std::function<void(const TensorDecl&)>& after_write) {
  const std::vector<TensorDecl> order = safetensors_storage_order(decls);
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const TensorDecl& d : order) {
    DIFFUSE_CHECK(d.name != "__metadata__", path, ": '__metadata__' cannot be a tensor name");
    DIFFUSE_CHECK(seen.insert(d.name).second, path, ": tensor '", printable(d.name), "': given twice");
    const uint64_t bytes = static_cast<uint64_t>(shape_numel(d.shape)) * dtype_size(d.dtype);
    header[d.name] = {{"dtype", std::string(dtype_name(d.dtype))},
                      {"shape", d.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  const uint64_t n = json.size();
  uint8_t prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<uint8_t>(n >> (8 * i));

  write_file_atomically(path, [&](std::FILE* f, const std::string&) {
    write_all(f, prefix, 8, path);
    write_all(f, json.data(), json.size(), path);
    for (const TensorDecl& d : order) {
      const Tensor t = produce(d);
      DIFFUSE_CHECK(t.defined() && t.dtype() == d.dtype && t.shape() == d.shape, path, ": tensor '",
                    printable(d.name), "' is ", t.defined() ? std::string(dtype_name(t.dtype())) : "undefined", " ",
                    t.defined() ? shape_str(t.shape()) : "", ", declared ", dtype_name(d.dtype), " ",
                    shape_str(d.shape));
      const Tensor c = t.contiguous();
      write_all(f, c.raw(), c.nbytes(), path);
      if (after_write) after_write(d);
    }
  });
}

}  // namespace diffuse::io
