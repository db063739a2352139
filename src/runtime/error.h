// Errors: every failure the engine reports is a diffuse::Error whose message names
// the file, tensor or field at fault. Messages are built with str_cat.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace diffuse {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(str_cat(std::forward<Args>(args)...));
}

}  // namespace diffuse

// DIFFUSE_CHECK(cond, "tensor ", name, " has ", n, " dims") throws diffuse::Error.
#define DIFFUSE_CHECK(cond, ...)                    \
  do {                                              \
    if (!(cond)) ::diffuse::fail(__VA_ARGS__);      \
  } while (0)
