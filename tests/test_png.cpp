// PNG writing/reading and the float image -> 8-bit conversion.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "io/png.h"
#include "io/safetensors.h"
#include "test_safetensors_helpers.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::ScratchDir;

std::vector<uint8_t> random_pixels(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(rng());
  return v;
}

// The chunk types of a PNG file in order, read straight from its bytes.
std::vector<std::string> chunk_types(const std::string& bytes) {
  std::vector<std::string> types;
  for (size_t pos = 8; pos + 8 <= bytes.size();) {
    const uint32_t len = (uint8_t(bytes[pos]) << 24) | (uint8_t(bytes[pos + 1]) << 16) |
                         (uint8_t(bytes[pos + 2]) << 8) | uint8_t(bytes[pos + 3]);
    types.push_back(bytes.substr(pos + 4, 4));
    pos += 12 + len;
  }
  return types;
}

TEST(Png, RoundTripRgbAndRgbaWithText) {
  ScratchDir dir;
  for (int channels : {3, 4}) {
    SCOPED_TRACE(channels);
    const int w = 37, h = 23;
    const auto pixels = random_pixels(static_cast<size_t>(w) * h * channels, 7 + channels);
    const io::TextChunks text = {{"prompt", "a red fox, 35mm"},
                                 {"negative", "blurry"},
                                 {"Comment", "ümlaut and 漢字 need iTXt"}};
    const std::string path = dir / ("img" + std::to_string(channels) + ".png");
    io::write_png(path, pixels.data(), w, h, channels, text);
    EXPECT_FALSE(fs::exists(path + ".tmp"));

    const io::PngContents back = io::read_png(path);
    EXPECT_EQ(back.image.width, w);
    EXPECT_EQ(back.image.height, h);
    EXPECT_EQ(back.image.channels, channels);
    EXPECT_EQ(back.image.pixels, pixels);
    EXPECT_EQ(back.text, text);

    // ASCII values go in tEXt chunks, the UTF-8 one in an iTXt chunk.
    const auto types = chunk_types(testing::read_text(path));
    EXPECT_EQ(std::count(types.begin(), types.end(), "tEXt"), 2);
    EXPECT_EQ(std::count(types.begin(), types.end(), "iTXt"), 1);
    EXPECT_EQ(types.front(), "IHDR");
    EXPECT_EQ(types.back(), "IEND");
  }
}

TEST(Png, OverwritesAtomicallyAndCleansUpOnFailure) {
  ScratchDir dir;
  const auto pixels = random_pixels(4 * 4 * 3, 1);
  const std::string path = dir / "out.png";
  testing::write_text(path, "old content");
  io::write_png(path, pixels.data(), 4, 4, 3);
  EXPECT_EQ(io::read_png(path).image.pixels, pixels);
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  // Unwritable location: no such directory.
  const std::string missing_dir = dir / "no/such/dir/x.png";
  expect_error([&] { io::write_png(missing_dir, pixels.data(), 4, 4, 3); }, {missing_dir, "cannot create"});
  EXPECT_FALSE(fs::exists(dir / "no"));

  // The final rename fails (a directory has the target's name): the temp file is removed.
  fs::create_directories(dir / "taken.png/inside");
  expect_error([&] { io::write_png(dir / "taken.png", pixels.data(), 4, 4, 3); },
               {dir / "taken.png", "cannot rename"});
  EXPECT_FALSE(fs::exists(dir / "taken.png.tmp"));
  EXPECT_TRUE(fs::is_directory(dir / "taken.png/inside"));
}

TEST(Png, RejectsBadArguments) {
  ScratchDir dir;
  const auto pixels = random_pixels(64, 2);
  const std::string path = dir / "x.png";
  expect_error([&] { io::write_png(path, pixels.data(), 2, 2, 2); }, {path, "3 or 4 channels"});
  expect_error([&] { io::write_png(path, pixels.data(), 0, 2, 3); }, {path, "bad image size 0x2"});
  expect_error([&] { io::write_png(path, pixels.data(), 2, 2, 3, {{"", "v"}}); }, {path, "text key"});
  expect_error([&] { io::write_png(path, pixels.data(), 2, 2, 3, {{std::string(80, 'k'), "v"}}); },
               {path, "text key"});
  expect_error([&] { io::write_png(path, pixels.data(), 2, 2, 3, {{"bad\nkey", "v"}}); }, {path, "text key"});
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

// ---- a PNG encoder written here from the format specification, to test read_png
// independently of write_png --------------------------------------------------------------

std::string be32(uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

std::string chunk(const std::string& type, const std::string& data) {
  const std::string body = type + data;
  const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  return be32(static_cast<uint32_t>(data.size())) + body + be32(crc);
}

// An unfiltered, non-interlaced PNG of `bit_depth` bits and `color_type` (0 gray, 2 RGB,
// 3 palette, 6 RGBA), rows given as raw sample bytes.
std::string hand_png(uint32_t w, uint32_t h, int bit_depth, int color_type, const std::vector<std::string>& rows,
                     const std::string& extra_chunks = "") {
  std::string raw;
  for (const auto& r : rows) raw += '\0' + r;  // filter type 0 per row
  uLongf cap = compressBound(static_cast<uLong>(raw.size()));
  std::string z(cap, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(z.data()), &cap, reinterpret_cast<const Bytef*>(raw.data()),
                     static_cast<uLong>(raw.size())),
            Z_OK);
  z.resize(cap);
  const std::string ihdr = be32(w) + be32(h) + char(bit_depth) + char(color_type) + std::string(3, '\0');
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + extra_chunks + chunk("IDAT", z) +
         chunk("IEND", "");
}

TEST(Png, ReadsIndependentlyEncodedFiles) {
  ScratchDir dir;
  // 8-bit RGB with a tEXt chunk.
  testing::write_text(dir / "rgb.png", hand_png(2, 1, 8, 2, {std::string("\x01\x02\x03\xfa\xfb\xfc", 6)},
                                                chunk("tEXt", std::string("seed\0" "42", 7))));
  io::PngContents rgb = io::read_png(dir / "rgb.png");
  EXPECT_EQ(rgb.image.channels, 3);
  EXPECT_EQ(rgb.image.pixels, (std::vector<uint8_t>{1, 2, 3, 250, 251, 252}));
  EXPECT_EQ(rgb.text, (io::TextChunks{{"seed", "42"}}));

  // 8-bit gray becomes RGB with the value replicated.
  testing::write_text(dir / "gray.png", hand_png(3, 1, 8, 0, {std::string("\x00\x80\xff", 3)}));
  EXPECT_EQ(io::read_png(dir / "gray.png").image.pixels,
            (std::vector<uint8_t>{0, 0, 0, 128, 128, 128, 255, 255, 255}));

  // 16-bit RGBA is reduced to 8 bits (high byte).
  testing::write_text(dir / "rgba16.png",
                      hand_png(1, 2, 16, 6, {std::string("\x12\x34\x56\x78\x9a\xbc\xde\xf0", 8),
                                             std::string("\xff\xff\x00\x00\x01\x00\x80\x00", 8)}));
  const io::PngContents rgba = io::read_png(dir / "rgba16.png");
  EXPECT_EQ(rgba.image.channels, 4);
  EXPECT_EQ(rgba.image.height, 2);
  EXPECT_EQ(rgba.image.pixels.size(), 8u);
  EXPECT_EQ(rgba.image.pixels[0], 0x12);
  EXPECT_EQ(rgba.image.pixels[4], 0xff);
  EXPECT_EQ(rgba.image.pixels[5], 0x00);

  // Palette (2 entries, 1 bit per pixel) expands to RGB.
  testing::write_text(dir / "pal.png",
                      hand_png(2, 1, 1, 3, {std::string("\x40", 1)},
                               chunk("PLTE", std::string("\x0a\x0b\x0c\xf0\xf1\xf2", 6))));
  EXPECT_EQ(io::read_png(dir / "pal.png").image.pixels, (std::vector<uint8_t>{10, 11, 12, 240, 241, 242}));
}

TEST(Png, RejectsMalformedFiles) {
  ScratchDir dir;
  const std::string good = hand_png(2, 2, 8, 2, {std::string(6, 'a'), std::string(6, 'b')});
  testing::write_text(dir / "notpng.png", "GIF89a....");
  expect_error([&] { io::read_png(dir / "notpng.png"); }, {dir / "notpng.png", "not a PNG"});
  testing::write_text(dir / "truncated.png", good.substr(0, good.size() / 2));
  expect_error([&] { io::read_png(dir / "truncated.png"); }, {dir / "truncated.png", "invalid PNG"});
  std::string bad_crc = good;
  bad_crc[8 + 8 + 13] ^= 0x55;  // IHDR CRC
  testing::write_text(dir / "crc.png", bad_crc);
  expect_error([&] { io::read_png(dir / "crc.png"); }, {dir / "crc.png", "invalid PNG"});
  // A huge declared size must be refused before any allocation.
  testing::write_text(dir / "huge.png", hand_png(100000, 100000, 8, 2, {}));
  expect_error([&] { io::read_png(dir / "huge.png"); }, {dir / "huge.png", "invalid PNG"});
  testing::write_text(dir / "many.png", hand_png(30000, 30000, 8, 2, {}));
  expect_error([&] { io::read_png(dir / "many.png"); }, {dir / "many.png", "exceed the limit"});
  testing::write_text(dir / "zero.png", hand_png(0, 1, 8, 2, {""}));
  expect_error([&] { io::read_png(dir / "zero.png"); }, {dir / "zero.png", "invalid PNG"});
  expect_error([&] { io::read_png(dir / "absent.png"); }, {dir / "absent.png", "cannot open"});
}

// ---- float image -> bytes ---------------------------------------------------------------

// Reference: clamp, float32 product (double product of a float and 255 is exact, then one
// rounding to float), then round half to even by hand.
uint8_t reference_byte(float x) {
  if (std::isnan(x)) return 0;
  const float c = std::min(1.0f, std::max(0.0f, x));
  const float p = static_cast<float>(static_cast<double>(c) * 255.0);
  const double fl = std::floor(p), frac = p - fl;
  double r = frac > 0.5 ? fl + 1 : frac < 0.5 ? fl : (std::fmod(fl, 2.0) == 0 ? fl : fl + 1);
  return static_cast<uint8_t>(r);
}

TEST(ImageToRgb8, RoundsHalfToEven) {
  EXPECT_EQ(io::unit_float_to_byte(0.0f), 0);
  EXPECT_EQ(io::unit_float_to_byte(1.0f), 255);
  EXPECT_EQ(io::unit_float_to_byte(0.5f), 128);   // 127.5 -> 128 (even)
  EXPECT_EQ(io::unit_float_to_byte(0.25f), 64);   // 63.75
  EXPECT_EQ(io::unit_float_to_byte(-3.0f), 0);
  EXPECT_EQ(io::unit_float_to_byte(7.0f), 255);
  EXPECT_EQ(io::unit_float_to_byte(std::nanf("")), 0);
  // Find floats whose float32 product with 255 is exactly k + 0.5, and check ties go to even.
  int ties = 0;
  for (int k = 0; k < 255; ++k) {
    float x = static_cast<float>((k + 0.5) / 255.0);
    for (int step = 0; step < 8; ++step) x = std::nextafter(x, -1.0f);
    for (int step = 0; step < 16; ++step, x = std::nextafter(x, 2.0f)) {
      if (x * 255.0f != k + 0.5f) continue;
      EXPECT_EQ(io::unit_float_to_byte(x), k % 2 == 0 ? k : k + 1) << "k=" << k;
      ++ties;
    }
  }
  EXPECT_GT(ties, 10);  // the search must actually exercise ties, both odd and even k
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-0.2f, 1.2f);
  for (int i = 0; i < 100000; ++i) {
    const float x = dist(rng);
    ASSERT_EQ(io::unit_float_to_byte(x), reference_byte(x)) << x;
  }
}

TEST(ImageToRgb8, InterleavesChannels) {
  // [3, 2, 2]: channel c, pixel i has value (c*4 + i) / 11.
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = i / 11.0f;
  const io::Image8 img = io::image_to_rgb8(Tensor::from_f32({3, 2, 2}, v));
  EXPECT_EQ(img.width, 2);
  EXPECT_EQ(img.height, 2);
  EXPECT_EQ(img.channels, 3);
  for (int p = 0; p < 4; ++p)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(img.pixels[p * 3 + c], reference_byte(v[c * 4 + p])) << p << "," << c;
  // Non-contiguous and bf16 inputs convert the same way.
  const Tensor hwc = Tensor::from_f32({2, 2, 3}, v);
  EXPECT_EQ(io::image_to_rgb8(hwc.permute({2, 0, 1})).pixels.size(), 12u);
  const Tensor bf = Tensor::from_f32({3, 2, 2}, v).to(DType::BF16);
  const io::Image8 from_bf = io::image_to_rgb8(bf);
  const std::vector<float> bf_values = bf.to_f32_vector();
  for (int p = 0; p < 4; ++p)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(from_bf.pixels[p * 3 + c], reference_byte(bf_values[c * 4 + p]));
  expect_error([&] { io::image_to_rgb8(Tensor::zeros({2, 4, 4}, DType::F32)); }, {"[3,H,W]", "2x4x4"});
  expect_error([&] { io::image_to_rgb8(Tensor::zeros({3, 4, 4}, DType::U8)); }, {"float tensor"});
}

// The pipeline fixture's final image [1,3,32,32] in [0,1], through the conversion, into a
// PNG and back.
TEST(ImageToRgb8, GoldenPipelineImageThroughPng) {
  auto io_file = io::SafetensorsFile::open(std::string(DIFFUSE_GOLDEN_DIR) + "/pipeline_flux/io.safetensors");
  const Tensor image = io_file->tensor("out.image").select(0, 0);
  const io::Image8 img = io::image_to_rgb8(image);
  ASSERT_EQ(img.width, 32);
  ASSERT_EQ(img.height, 32);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(img.pixels[(y * 32 + x) * 3 + c], reference_byte(static_cast<float>(image.item({c, y, x}))));
  ScratchDir dir;
  io::write_png(dir / "flux.png", img, {{"model", "pipeline_flux"}});
  EXPECT_EQ(io::read_png(dir / "flux.png").image.pixels, img.pixels);
}

}  // namespace
}  // namespace diffuse
