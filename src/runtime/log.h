// Minimal leveled logging to stderr; stdout is reserved for command results.
#pragma once

#include <cstdio>
#include <string>

namespace diffuse {

enum class LogLevel { Quiet = 0, Info = 1, Debug = 2 };

LogLevel log_level();
void set_log_level(LogLevel level);

void log_info(const std::string& message);
void log_debug(const std::string& message);

}  // namespace diffuse
