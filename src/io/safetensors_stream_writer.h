// Writing a safetensors file one tensor at a time, for rewriting checkpoints larger than
// memory: the header is built from declarations (name, dtype, shape), then each tensor is
// requested from a producer just before its bytes are written and dropped right after.
//
// Layout: tensors are stored by element size, largest first (declaration order within a
// size), so with the 8-byte-aligned data section every tensor starts aligned to its element
// size and there are no gaps (strict readers reject gaps). The file appears atomically.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace diffuse::io {

struct TensorDecl {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
};

// The order write_safetensors_streamed stores (and requests) `decls` in.
std::vector<TensorDecl> safetensors_storage_order(std::vector<TensorDecl> decls);

// Writes `path` (via `<path>.tmp`), calling produce(decl) once per tensor in storage order; the
// returned tensor (any strides) must have the declared dtype and shape. `after_write(decl)`,
// if given, runs once its bytes are written (e.g. to release the source pages). Throws
// diffuse::Error naming the file and tensor on a mismatch or I/O failure.
void write_safetensors_streamed(const std::string& path, const std::vector<TensorDecl>& decls,
                                const std::map<std::string, std::string>& metadata,
                                const std::function<Tensor(const TensorDecl&)>& produce,
                                const std::function<void(const TensorDecl&)>& after_write = {});

}  // namespace diffuse::io
