// WeightBinder: how a model takes its weights. A model declares each tensor it needs by
// its reference name (relative to a scope) and the shape its config implies; the binder
// looks it up in a WeightSource and keeps a ledger: matched, missing, wrong shape, and,
// after finish(), unexpected (in the checkpoint but never taken). report() prints
//   409/409 tensors matched
//   missing: name (expected 3072x64)
//   wrong shape: name is 3072x32, expected 3072x64
//   unexpected: name
//
// In expected-only mode (no weights) every take is recorded with its shape and returns an
// undefined Tensor, so a model's constructor can run without a checkpoint to list what it
// would load. Constructors must therefore derive sizes from the config, never from the
// weights they take.
//
// Copies and scopes share one ledger.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "ops/quantized_weight.h"
#include "tensor/tensor.h"

namespace diffuse::io {

class WeightBinder {
 public:
  struct Expected {
    std::string name;  // full name
    Shape shape;
    bool optional = false;
    // A Linear layer's [out, in] weight (taken with take_linear_weight): the tensors a
    // quantizer may store in quantized form. Expected lists keep the float name and shape.
    bool linear_weight = false;
  };
  struct Mismatch {
    std::string name;
    Shape expected;
    Shape actual;  // empty for missing tensors
    std::string problem;  // why a quantized weight does not fit, if that is the mismatch
  };
  // A Linear weight as stored: a float tensor, or a quantized one (io/quantized_tensors.h).
  struct LinearWeight {
    Tensor weight;                                 // float storage
    std::optional<ops::QuantizedWeight> quantized;  // quantized storage
    bool defined() const { return weight.defined() || quantized.has_value(); }
  };

  explicit WeightBinder(WeightSource source);
  static WeightBinder expected_only();

  // A binder whose names are prefixed with `prefix` (a '.' is appended if absent), e.g.
  // binder.scope("transformer_blocks").scope("3").take("attn.to_q.weight", ...).
  WeightBinder scope(const std::string& prefix) const;
  const std::string& prefix() const { return prefix_; }

  // The tensor `prefix + name` if present with `shape`; otherwise records the problem and
  // returns an undefined Tensor (check ok() before using the model).
  Tensor take(const std::string& name, const Shape& shape);
  // Like take, but absence is not a problem (returns an undefined Tensor).
  Tensor take_optional(const std::string& name, const Shape& shape);
  // A Linear layer's weight `name` (ending in ".weight") of float shape [out, in]. The
  // checkpoint may store it as a float tensor of that shape or quantized (io/quantized_tensors.h:
  // MLX affine or int8 per channel); a quantized one is checked against the shape (mismatches
  // are reported like wrong shapes) and its companion tensors count as taken. Neither is
  // defined in expected-only mode or on a problem.
  LinearWeight take_linear_weight(const std::string& name, const Shape& shape);

  // Asks the OS to drop the resident pages of `prefix + name`'s bytes in its mapped file (they
  // are read again from disk if touched): for weights the model converted into its own copy.
  // No effect in expected-only mode.
  void release(const std::string& name) const;

  // Whether the checkpoint has `prefix + name` (false in expected-only mode). Lets a model
  // choose between layouts a config does not distinguish.
  bool has(const std::string& name) const;

  // Names matching `pattern` ('*' matches any characters; the whole name must match) are
  // never reported as unexpected, e.g. "*.num_batches_tracked".
  void ignore(const std::string& pattern);

  // Computes the unexpected tensors. ok() and report() call it as well.
  void finish();
  bool ok() const;
  std::string report() const;
  // Throws a one-line diffuse::Error naming the checkpoint and the first problems if !ok().
  void check() const;

  bool binding() const;  // false in expected-only mode
  size_t matched_count() const;
  size_t expected_count() const;  // required takes + optional takes that were present
  const std::vector<Expected>& expected() const;  // every distinct take, in order
  const std::vector<Mismatch>& missing() const;
  const std::vector<Mismatch>& wrong_shape() const;
  const std::vector<std::string>& unexpected() const;

 private:
  struct Ledger;
  WeightBinder(std::shared_ptr<Ledger> ledger, std::string prefix);
  Tensor take_impl(const std::string& name, const Shape& shape, bool optional);

  std::shared_ptr<Ledger> ledger_;
  std::string prefix_;
};

// Glob match with '*' as the only wildcard.
bool glob_match(const std::string& pattern, const std::string& text);

}  // namespace diffuse::io
