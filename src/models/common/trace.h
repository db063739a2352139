// Intermediate activations for layer-by-layer parity ("dump-anchor" method): a model's
// forward pass reports each submodule output under its reference module path (e.g.
// "transformer_blocks.3.1"), the names the golden fixtures use after their "dump." prefix.
// Production runs pass no trace and pay nothing.
#pragma once

#include <functional>
#include <string>

#include "tensor/tensor.h"

namespace diffuse::models {

class Trace {
 public:
  using Sink = std::function<void(const std::string& module_path, const Tensor& value)>;
  explicit Trace(Sink sink) : sink_(std::move(sink)) {}
  void record(const std::string& module_path, const Tensor& value) const { sink_(module_path, value); }

 private:
  Sink sink_;
};

// Records `value` (copied, so later in-place updates do not alter it) when tracing.
inline void trace(const Trace* t, const std::string& module_path, const Tensor& value) {
  if (t) t->record(module_path, value.clone());
}

}  // namespace diffuse::models
