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

// Limits of read_png: the pixel buffer is allocated from the header's claimed size before
// any pixel data is seen, so a forged header must not be able to ask for gigabytes.
inline constexpr int kMaxPngSide = 1 << 15;
inline constexpr uint64_t kMaxPngPixels = uint64_t{1} << 26;  // e.g. 8192 x 8192

// Reads and validates a PNG; errors name the path.
PngContents read_png(const std::string& path);

}  // namespace diffuse::io
