// Malformed safetensors files, each built by the test: opening must fail with a one-line
// diffuse::Error naming the file, the tensor where there is one, and the specific problem.
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "test_safetensors_helpers.h"

namespace diffuse {
namespace {

using testing::expect_error;
using testing::safetensors_bytes;

// Writes `bytes` to a scratch file and expects open() to fail naming the file and `parts`.
void expect_open_error(const std::string& bytes, std::initializer_list<std::string> parts) {
  testing::ScratchDir dir;
  const std::string path = dir / "bad.safetensors";
  testing::write_text(path, bytes);
  std::vector<std::string> all(parts);
  all.push_back(path);
  try {
    io::SafetensorsFile::open(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << "message does not start with the path: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& p : all) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

std::string one_tensor(const std::string& entry, size_t data_bytes) {
  return safetensors_bytes(R"({"w":)" + entry + "}", std::string(data_bytes, '\0'));
}

TEST(SafetensorsMalformed, TruncatedFile) {
  expect_open_error("", {"0 bytes", "too short"});
  expect_open_error(std::string("\x10\0\0", 3), {"3 bytes", "too short"});
}

TEST(SafetensorsMalformed, HeaderLength) {
  expect_open_error(testing::le64(0), {"header length is 0"});
  expect_open_error(testing::le64(1000) + "{}", {"header length 1000", "past the end of the file", "10 bytes"});
  expect_open_error(testing::le64(uint64_t{1} << 62) + "{}", {"header length 4611686018427387904", "100 MiB"});
  expect_open_error(testing::le64(~uint64_t{0}) + "{}", {"100 MiB"});
}

TEST(SafetensorsMalformed, HeaderNotJsonOrNotObject) {
  expect_open_error(safetensors_bytes("{\"w\": tru}", ""), {"not valid JSON", "line 1, column"});
  expect_open_error(safetensors_bytes("{\"w\": \"\xff\"}", ""), {"not valid JSON", "UTF-8"});
  expect_open_error(safetensors_bytes("[1, 2]", ""), {"header is an array", "expected a JSON object"});
  expect_open_error(safetensors_bytes("\"text\"", ""), {"header is a string"});
  expect_open_error(safetensors_bytes(std::string(100, '[') + std::string(100, ']'), ""),
                    {"nests deeper than"});
}

TEST(SafetensorsMalformed, DuplicateTensorName) {
  const std::string e = R"({"dtype":"U8","shape":[1],"data_offsets":[0,1]})";
  expect_open_error(safetensors_bytes(R"({"w":)" + e + R"(,"w":)" + e + "}", "x"),
                    {"tensor 'w'", "appears twice"});
}

TEST(SafetensorsMalformed, Metadata) {
  expect_open_error(safetensors_bytes(R"({"__metadata__":[1]})", ""), {"__metadata__ is an array"});
  expect_open_error(safetensors_bytes(R"({"__metadata__":{"k":3}})", ""),
                    {"__metadata__ 'k'", "expected a string"});
}

TEST(SafetensorsMalformed, EntryNotObjectOrMissingFields) {
  expect_open_error(one_tensor("7", 0), {"tensor 'w'", "entry is an integer"});
  expect_open_error(one_tensor(R"({"shape":[1],"data_offsets":[0,4]})", 4), {"tensor 'w'", "missing \"dtype\""});
  expect_open_error(one_tensor(R"({"dtype":"F32","data_offsets":[0,4]})", 4), {"tensor 'w'", "missing \"shape\""});
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[1]})", 4), {"tensor 'w'", "missing \"data_offsets\""});
}

TEST(SafetensorsMalformed, Dtype) {
  expect_open_error(one_tensor(R"({"dtype":"Q7","shape":[1],"data_offsets":[0,1]})", 1),
                    {"tensor 'w'", "unknown dtype 'Q7'"});
  expect_open_error(one_tensor(R"({"dtype":"F64","shape":[1],"data_offsets":[0,8]})", 8),
                    {"tensor 'w'", "unsupported dtype F64"});
  expect_open_error(one_tensor(R"({"dtype":"U16","shape":[1],"data_offsets":[0,2]})", 2),
                    {"tensor 'w'", "unsupported dtype U16"});
  expect_open_error(one_tensor(R"({"dtype":5,"shape":[1],"data_offsets":[0,1]})", 1),
                    {"tensor 'w'", "dtype is an integer"});
}

TEST(SafetensorsMalformed, Shape) {
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":4,"data_offsets":[0,16]})", 16),
                    {"tensor 'w'", "shape is an integer", "expected an array"});
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[2,-3],"data_offsets":[0,0]})", 0),
                    {"tensor 'w'", "shape[1] is -3", "non-negative integer"});
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,0]})", 0),
                    {"tensor 'w'", "shape[0] is 2.5"});
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":["2"],"data_offsets":[0,0]})", 0),
                    {"tensor 'w'", "shape[0]"});
}

TEST(SafetensorsMalformed, ShapeProductOverflow) {
  // 2^32 * 2^32 overflows uint64; 2^62 * 2 overflows int64; 2^62 elements fit but not their
  // 8-byte size; a dimension of 2^64 - 1 is beyond int64 on its own.
  expect_open_error(one_tensor(R"({"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]})", 0),
                    {"tensor 'w'", "more elements than fit in 64 bits"});
  expect_open_error(one_tensor(R"({"dtype":"U8","shape":[4611686018427387904,2],"data_offsets":[0,0]})", 0),
                    {"tensor 'w'", "more elements than fit in 64 bits"});
  expect_open_error(one_tensor(R"({"dtype":"I64","shape":[4611686018427387904],"data_offsets":[0,0]})", 0),
                    {"tensor 'w'", "overflows 64 bits in bytes"});
  expect_open_error(one_tensor(R"({"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,0]})", 0),
                    {"tensor 'w'", "too large"});
}

TEST(SafetensorsMalformed, DataOffsets) {
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 4),
                    {"tensor 'w'", "expected [begin, end]"});
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0,-4]})", 4),
                    {"tensor 'w'", "not non-negative integers"});
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[0],"data_offsets":[8,4]})", 8),
                    {"tensor 'w'", "begin 8 > end 4"});
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})", 12),
                    {"tensor 'w'", "end 16 is past the end of the data section (12 bytes"});
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[3],"data_offsets":[0,16]})", 16),
                    {"tensor 'w'", "shape 3 of F32 needs 12 bytes but data_offsets span 16"});
}

TEST(SafetensorsMalformed, OverlappingTensors) {
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})";
  expect_open_error(safetensors_bytes(header, std::string(20, '\0')),
                    {"tensor 'b'", "overlaps tensor 'a'", "[12, 20)", "[0, 16)"});
  // Touching ranges and empty tensors inside another tensor's range are fine.
  testing::ScratchDir dir;
  const std::string ok_header =
      R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},)"
      R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})";
  testing::write_text(dir / "ok.safetensors", safetensors_bytes(ok_header, std::string(20, '\0')));
  EXPECT_EQ(io::SafetensorsFile::open(dir / "ok.safetensors")->names().size(), 3u);
}

TEST(SafetensorsMalformed, ControlCharactersInNamesAreEscaped) {
  expect_open_error(safetensors_bytes(R"({"bad\nname":{"dtype":"Q","shape":[],"data_offsets":[0,0]}})", ""),
                    {"tensor 'bad\\x0aname'", "unknown dtype"});
}

TEST(SafetensorsMalformed, NotAFile) {
  testing::ScratchDir dir;
  expect_error([&] { io::SafetensorsFile::open(dir.path()); }, {dir.path(), "not a regular file"});
  expect_error([&] { io::SafetensorsFile::open(dir / "absent.safetensors"); },
               {dir / "absent.safetensors", "cannot open"});
}

}  // namespace
}  // namespace diffuse
