#include "io/png.h"

#include <png.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "io/atomic_file.h"
#include "io/printable.h"
#include "runtime/error.h"

namespace diffuse::io {

// libpng reports errors by longjmp. The functions that call setjmp below hold no C++
// objects with destructors (a longjmp over one is undefined behaviour): everything they
// allocate lives in a plain context struct that the caller releases.

namespace {

struct PngError {
  char message[256] = {0};
};

void on_png_error(png_structp png, png_const_charp msg) {
  auto* err = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(err->message, sizeof err->message, "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

bool is_plain_ascii(const std::string& s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

struct WriteJob {
  std::FILE* file;
  const uint8_t* pixels;
  uint32_t width, height;
  int channels;
  png_text* text;
  int text_count;
  PngError error;
};

// Returns false (with job->error set) if libpng failed.
bool write_png_protected(WriteJob* job) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job->error, on_png_error, on_png_warning);
  if (!png) {
    std::snprintf(job->error.message, sizeof job->error.message, "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    if (!info) std::snprintf(job->error.message, sizeof job->error.message, "out of memory");
    png_destroy_write_struct(&png, info ? &info : nullptr);
    return false;
  }
  png_init_io(png, job->file);
  png_set_IHDR(png, info, job->width, job->height, 8,
               job->channels == 4 ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (job->text_count > 0) png_set_text(png, info, job->text, job->text_count);
  png_write_info(png, info);
  const size_t stride = static_cast<size_t>(job->width) * job->channels;
  for (uint32_t y = 0; y < job->height; ++y)
    png_write_row(png, const_cast<png_bytep>(job->pixels + y * stride));
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
}

struct ReadJob {
  std::FILE* file;
  png_structp png = nullptr;
  png_infop info = nullptr;
  png_infop end_info = nullptr;
  uint8_t* pixels = nullptr;  // malloc'ed, owned by the caller afterwards
  png_bytep* rows = nullptr;  // malloc'ed
  uint32_t width = 0, height = 0;
  int channels = 0;
  PngError error;
};

bool read_png_protected(ReadJob* job) {
  job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job->error, on_png_error, on_png_warning);
  if (!job->png) {
    std::snprintf(job->error.message, sizeof job->error.message, "out of memory");
    return false;
  }
  job->info = png_create_info_struct(job->png);
  job->end_info = png_create_info_struct(job->png);
  if (!job->info || !job->end_info) {
    std::snprintf(job->error.message, sizeof job->error.message, "out of memory");
    return false;
  }
  if (setjmp(png_jmpbuf(job->png))) return false;
  png_set_user_limits(job->png, kMaxPngSide, kMaxPngSide);
  png_init_io(job->png, job->file);
  png_read_info(job->png, job->info);
  // Normalise every colour type and depth to 8-bit RGB or RGBA.
  png_set_expand(job->png);  // palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha
  png_set_strip_16(job->png);
  png_set_gray_to_rgb(job->png);
  png_set_interlace_handling(job->png);
  png_read_update_info(job->png, job->info);
  job->width = png_get_image_width(job->png, job->info);
  job->height = png_get_image_height(job->png, job->info);
  job->channels = png_get_channels(job->png, job->info);
  if (png_get_bit_depth(job->png, job->info) != 8 || (job->channels != 3 && job->channels != 4)) {
    std::snprintf(job->error.message, sizeof job->error.message,
                  "unsupported layout after conversion (%d channels, %d bits)", job->channels,
                  png_get_bit_depth(job->png, job->info));
    return false;
  }
  if (static_cast<uint64_t>(job->width) * job->height > kMaxPngPixels) {
    std::snprintf(job->error.message, sizeof job->error.message, "%ux%u pixels exceed the limit of %llu",
                  job->width, job->height, static_cast<unsigned long long>(kMaxPngPixels));
    return false;
  }
  const size_t stride = static_cast<size_t>(job->width) * job->channels;
  if (png_get_rowbytes(job->png, job->info) != stride) {
    std::snprintf(job->error.message, sizeof job->error.message, "unexpected row size");
    return false;
  }
  job->pixels = static_cast<uint8_t*>(std::malloc(stride * job->height));
  job->rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * job->height));
  if (!job->pixels || !job->rows) {
    std::snprintf(job->error.message, sizeof job->error.message, "out of memory for a %ux%u image",
                  job->width, job->height);
    return false;
  }
  for (uint32_t y = 0; y < job->height; ++y) job->rows[y] = job->pixels + y * stride;
  png_read_image(job->png, job->rows);
  png_read_end(job->png, job->end_info);
  return true;
}

void collect_text(png_structp png, png_infop info, TextChunks* out) {
  png_textp text = nullptr;
  int count = 0;
  png_get_text(png, info, &text, &count);
  for (int i = 0; i < count; ++i) {
    const size_t len = text[i].compression > 0 ? text[i].itxt_length : text[i].text_length;
    out->emplace_back(text[i].key, std::string(text[i].text ? text[i].text : "", len));
  }
}

}  // namespace

void write_png(const std::string& path, const uint8_t* pixels, int width, int height, int channels,
               const TextChunks& text) {
  DIFFUSE_CHECK(channels == 3 || channels == 4, path, ": PNG needs 3 or 4 channels, got ", channels);
  DIFFUSE_CHECK(width > 0 && height > 0 && width <= kMaxPngSide && height <= kMaxPngSide, path,
                ": bad image size ", width, "x", height);
  DIFFUSE_CHECK(pixels != nullptr, path, ": no pixels");
  std::vector<png_text> chunks(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto& [key, value] = text[i];
    bool key_ok = !key.empty() && key.size() <= 79 && key.front() != ' ' && key.back() != ' ';
    for (char c : key) key_ok = key_ok && c >= 0x20 && c < 0x7f;
    DIFFUSE_CHECK(key_ok, path, ": PNG text key '", printable(key), "' must be 1-79 printable ASCII characters");
    png_text& t = chunks[i];
    std::memset(&t, 0, sizeof t);
    t.key = const_cast<char*>(key.c_str());
    t.text = const_cast<char*>(value.c_str());
    if (is_plain_ascii(value)) {
      t.compression = PNG_TEXT_COMPRESSION_NONE;  // tEXt
      t.text_length = value.size();
    } else {
      t.compression = PNG_ITXT_COMPRESSION_NONE;  // iTXt: UTF-8
      t.itxt_length = value.size();
      t.lang = const_cast<char*>("");
      t.lang_key = const_cast<char*>("");
    }
  }
  write_file_atomically(path, [&](std::FILE* file, const std::string&) {
    WriteJob job{file, pixels, static_cast<uint32_t>(width), static_cast<uint32_t>(height), channels,
                 chunks.data(), static_cast<int>(chunks.size()), {}};
    if (!write_png_protected(&job)) fail(path, ": PNG encoding failed: ", job.error.message);
  });
}

PngContents read_png(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  DIFFUSE_CHECK(file != nullptr, path, ": cannot open: ", std::strerror(errno));
  uint8_t signature[8] = {0};
  const size_t got = std::fread(signature, 1, 8, file);
  if (got != 8 || png_sig_cmp(signature, 0, 8) != 0) {
    std::fclose(file);
    fail(path, ": not a PNG file");
  }
  std::rewind(file);

  ReadJob job;
  job.file = file;
  const bool ok = read_png_protected(&job);
  PngContents out;
  if (ok) {
    out.image.width = static_cast<int>(job.width);
    out.image.height = static_cast<int>(job.height);
    out.image.channels = job.channels;
    out.image.pixels.assign(job.pixels, job.pixels + static_cast<size_t>(job.width) * job.height * job.channels);
    collect_text(job.png, job.info, &out.text);
    collect_text(job.png, job.end_info, &out.text);
  }
  std::free(job.rows);
  std::free(job.pixels);
  if (job.png) png_destroy_read_struct(&job.png, job.info ? &job.info : nullptr, job.end_info ? &job.end_info : nullptr);
  std::fclose(file);
  DIFFUSE_CHECK(ok, path, ": invalid PNG: ", job.error.message);
  return out;
}

}  // namespace diffuse::io
