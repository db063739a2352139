// Untrusted text (tensor names, JSON excerpts, file-supplied keys) made safe for the
// one-line error messages the engine prints: control characters become \xNN escapes.
#pragma once

#include <string>
#include <string_view>

namespace diffuse::io {

std::string printable(std::string_view text);

}  // namespace diffuse::io
