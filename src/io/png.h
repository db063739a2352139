// PNG encoding and decoding (libpng). Generated images carry their parameters as text
// chunks: tEXt for ASCII values, iTXt (UTF-8) for anything else.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "io/image.h"

namespace diffuse::io {

using TextChunks = std::vector<std::pair<std::string, std::string>>;

// Writes 8-bit RGB (channels 3) or RGBA (channels 4) pixels, row-major interleaved, to
// `path` atomically (via `<path>.tmp`, removed on failure). Keys must be 1-79 printable
// ASCII characters. Throws diffuse::Error naming the path.
void write_png(const std::string& path, const uint8_t* pixels, int width, int height, int channels,
               const TextChunks& text = {});
inline void write_png(const std::string& path, const Image8& image, const TextChunks& text = {}) {
  write_png(path, image.pixels.data(), image.width, image.height, image.channels, text);
}

struct PngContents {
  Image8 image;     // 8-bit RGB or RGBA (gray, palette and 16-bit files are converted)
  TextChunks text;  // tEXt, zTXt and iTXt chunks in file order
};

// Largest width or height read_png accepts; guards against absurd allocations.
inline constexpr int kMaxPngSide = 1 << 15;

// Reads and validates a PNG; errors name the path.
PngContents read_png(const std::string& path);

}  // namespace diffuse::io
