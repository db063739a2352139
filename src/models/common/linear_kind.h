// What a Linear layer does in its model, decided once from its module name, so that profiles
// can tell the GEMM kinds apart (runtime/profiler.h: "gemm.qkv", "gemm.ffn_up", ...).
#pragma once

#include <string_view>

namespace diffuse::models {

enum class LinearKind {
  Qkv,         // query / key / value projections (separate or fused)
  OutProj,     // attention output projections
  FfnUp,       // feed-forward input (and gate) projections
  FfnDown,     // feed-forward output projections
  Modulation,  // adaLN modulation linears
  Other,       // embedders, final projections, approximators, ...
};

// The kind of the layer named `name` (full dotted module name, any prefix), by the rule table
// in linear_kind.cpp: the first rule whose pattern matches the name's trailing segments wins.
LinearKind linear_kind_from_name(std::string_view name);

// "gemm.qkv", "gemm.out_proj", "gemm.ffn_up", "gemm.ffn_down", "gemm.modulation", "gemm.other"
// (static strings, usable as profile scope names).
const char* linear_kind_scope_name(LinearKind kind);

}  // namespace diffuse::models
