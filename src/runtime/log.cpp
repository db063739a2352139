#include "runtime/log.h"

namespace diffuse {
namespace {
LogLevel g_level = LogLevel::Info;
}

LogLevel log_level() { return g_level; }
void set_log_level(LogLevel level) { g_level = level; }

void log_info(const std::string& message) {
  if (g_level >= LogLevel::Info) std::fprintf(stderr, "%s\n", message.c_str());
}

void log_debug(const std::string& message) {
  if (g_level >= LogLevel::Debug) std::fprintf(stderr, "[debug] %s\n", message.c_str());
}

}  // namespace diffuse
