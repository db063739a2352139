// Safetensors reader and writer: round trips through the writer, reading hand-built files
// (independent of the writer), and the real golden fixtures checked against case.json.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "io/json_config.h"
#include "io/safetensors.h"
#include "tensor/half.h"
#include "test_safetensors_helpers.h"

namespace diffuse {
namespace {

using io::SafetensorsFile;
using testing::ScratchDir;

// A tensor of `dtype` whose bytes follow a pattern derived from `seed`, so each tensor's
// content is distinct and every byte matters.
Tensor patterned(const Shape& shape, DType dtype, uint8_t seed) {
  Tensor t = Tensor::empty(shape, dtype);
  auto* p = static_cast<uint8_t*>(t.raw_mut());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(seed + 31 * i + (i >> 3));
  if (dtype == DType::Bool)
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] &= 1;
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TEST(Safetensors, RoundTripEveryDtypeAndMetadata) {
  ScratchDir dir;
  const std::string path = dir / "all.safetensors";
  io::NamedTensors tensors = {
      {"f32", patterned({3, 5}, DType::F32, 1)},   {"bf16", patterned({7}, DType::BF16, 2)},
      {"f16", patterned({2, 2, 3}, DType::F16, 3)}, {"i8", patterned({9}, DType::I8, 4)},
      {"u8", patterned({1, 11}, DType::U8, 5)},     {"i32", patterned({4, 1}, DType::I32, 6)},
      {"i64", patterned({3}, DType::I64, 7)},       {"bool", patterned({6}, DType::Bool, 8)},
      {"scalar", patterned({}, DType::F32, 9)},     {"empty", patterned({0, 4}, DType::F32, 10)},
  };
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "ünïcode ok"}};
  io::write_safetensors(path, tensors, meta);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->path(), path);
  EXPECT_EQ(file->metadata(), meta);
  std::vector<std::string> want_names;
  for (const auto& [name, t] : tensors) want_names.push_back(name);
  std::sort(want_names.begin(), want_names.end());
  EXPECT_EQ(file->names(), want_names);
  uint64_t total = 0;
  for (const auto& [name, t] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(file->contains(name));
    const io::TensorInfo& info = file->info(name);
    EXPECT_EQ(info.dtype, t.dtype());
    EXPECT_EQ(info.shape, t.shape());
    EXPECT_EQ(info.nbytes(), t.nbytes());
    const Tensor v = file->tensor(name);
    EXPECT_EQ(v.dtype(), t.dtype());
    EXPECT_EQ(v.shape(), t.shape());
    EXPECT_FALSE(v.writable());
    EXPECT_TRUE(same_bytes(v, t));
    total += t.nbytes();
  }
  EXPECT_EQ(file->data_bytes(), total);
  EXPECT_FALSE(file->contains("missing"));
  testing::expect_error([&] { file->info("missing"); }, {path, "tensor 'missing'", "not in this file"});
}

TEST(Safetensors, HeaderIsPaddedToAMultipleOfEightWithSpaces) {
  ScratchDir dir;
  for (int name_len = 1; name_len <= 8; ++name_len) {
    const std::string path = dir / "pad.safetensors";
    io::write_safetensors(path, {{std::string(name_len, 'w'), patterned({3}, DType::U8, 1)}});
    const std::string bytes = testing::read_text(path);
    ASSERT_GE(bytes.size(), 8u);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
    EXPECT_EQ(n % 8, 0u);
    EXPECT_EQ(bytes.size(), 8 + n + 3);
    const std::string header = bytes.substr(8, n);
    const size_t close = header.rfind('}');
    EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos) << header;
  }
}

TEST(Safetensors, WriterStoresNonContiguousTensorsInLogicalOrder) {
  ScratchDir dir;
  const Tensor base = Tensor::from_f32({2, 3}, {0, 1, 2, 3, 4, 5});
  const Tensor transposed = base.transpose(0, 1);  // [[0,3],[1,4],[2,5]]
  io::write_safetensors(dir / "t.safetensors", {{"t", transposed}});
  const Tensor back = SafetensorsFile::open(dir / "t.safetensors")->tensor("t");
  EXPECT_EQ(back.shape(), (Shape{3, 2}));
  EXPECT_EQ(back.to_f32_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Safetensors, WriterRejectsBadInput) {
  ScratchDir dir;
  const std::string path = dir / "bad.safetensors";
  const Tensor t = Tensor::zeros({2}, DType::F32);
  testing::expect_error([&] { io::write_safetensors(path, {{"a", t}, {"a", t}}); }, {path, "'a'", "twice"});
  testing::expect_error([&] { io::write_safetensors(path, {{"__metadata__", t}}); }, {path, "__metadata__"});
  testing::expect_error([&] { io::write_safetensors(path, {{"u", Tensor()}}); }, {path, "'u'", "undefined"});
  testing::expect_error([&] { io::write_safetensors(dir / "no/such/dir/x.safetensors", {{"a", t}}); },
                        {"no/such/dir/x.safetensors", "cannot create"});
  EXPECT_FALSE(std::filesystem::exists(path));
}

// Reading a file built byte by byte: offsets are relative to the data section, tensors
// need not be in offset order, and a view points exactly at its bytes.
TEST(Safetensors, ReadsHandBuiltFile) {
  ScratchDir dir;
  const std::string header =
      R"({"b":{"dtype":"I32","shape":[2],"data_offsets":[3,11]},)"
      R"("a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"__metadata__":{"k":"v"}})";
  std::string data = {'\x01', '\x02', '\x03'};
  const int32_t ints[2] = {-5, 123456789};
  data.append(reinterpret_cast<const char*>(ints), 8);
  testing::write_text(dir / "h.safetensors", testing::safetensors_bytes(header, data));

  auto file = SafetensorsFile::open(dir / "h.safetensors");
  EXPECT_EQ(file->names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(file->metadata().at("k"), "v");
  const Tensor a = file->tensor("a");
  EXPECT_EQ(a.item({0}), 1);
  EXPECT_EQ(a.item({2}), 3);
  const Tensor b = file->tensor("b");  // starts at an odd address: views need no alignment
  EXPECT_EQ(b.item({0}), -5);
  EXPECT_EQ(b.item({1}), 123456789);
  EXPECT_EQ(file->info("b").begin, 3u);
  EXPECT_EQ(file->info("b").end, 11u);
}

TEST(Safetensors, ViewsKeepTheMappingAlive) {
  ScratchDir dir;
  const Tensor original = patterned({64}, DType::F32, 42);
  io::write_safetensors(dir / "alive.safetensors", {{"x", original}});
  Tensor view;
  {
    auto file = SafetensorsFile::open(dir / "alive.safetensors");
    view = file->tensor("x").reshape({8, 8}).slice(0, 2, 6);
  }
  // The file object is gone and the file is deleted; the mapping lives on in the view.
  std::filesystem::remove(dir / "alive.safetensors");
  EXPECT_EQ(view.shape(), (Shape{4, 8}));
  EXPECT_EQ(std::memcmp(view.contiguous().raw(), static_cast<const float*>(original.raw()) + 16, 32 * 4), 0);
}

TEST(Safetensors, ParseHeaderWithoutAFile) {
  const std::string bytes = testing::safetensors_bytes(
      R"({"x":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  const auto header =
      io::parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem");
  ASSERT_EQ(header.tensors.size(), 1u);
  EXPECT_EQ(header.tensors[0].name, "x");
  EXPECT_EQ(header.tensors[0].dtype, DType::BF16);
  EXPECT_EQ(header.tensors[0].shape, (Shape{2, 2}));
  EXPECT_EQ(header.data_offset, bytes.size() - 8);
  EXPECT_EQ(header.data_bytes, 8u);
  EXPECT_TRUE(header.metadata.empty());
}

// ---- golden fixtures -------------------------------------------------------------------

std::string golden(const std::string& rel) { return std::string(DIFFUSE_GOLDEN_DIR) + "/" + rel; }

// The recorded statistics of a tensor (torch: std is the unbiased estimator; the fixtures
// record 0 for one-element tensors).
void expect_stats_match(const Tensor& t, const io::Json& stats, const std::string& name) {
  SCOPED_TRACE(name);
  const std::vector<float> v = t.to_f32_vector();
  ASSERT_FALSE(v.empty());
  double sum = 0, mn = v[0], mx = v[0];
  for (float x : v) {
    sum += x;
    mn = std::min<double>(mn, x);
    mx = std::max<double>(mx, x);
  }
  const double mean = sum / v.size();
  double ss = 0;
  for (float x : v) ss += (x - mean) * (x - mean);
  const double stdev = v.size() > 1 ? std::sqrt(ss / (v.size() - 1)) : 0.0;
  EXPECT_NEAR(mean, stats["mean"].get<double>(), 1e-5 * std::max(1.0, std::fabs(mean)));
  EXPECT_NEAR(stdev, stats["std"].get<double>(), 1e-5 * std::max(1.0, stdev));
  EXPECT_EQ(static_cast<float>(mn), stats["min"].get<float>());
  EXPECT_EQ(static_cast<float>(mx), stats["max"].get<float>());
}

// Every input/output named in case.json is in io.safetensors with the recorded shape, every
// listed dump is present, nothing else is, and the recorded output statistics match the data.
void check_fixture_case(const std::string& folder) {
  const io::Json c = io::load_json(golden(folder + "/case.json"));
  auto io_file = SafetensorsFile::open(golden(folder + "/io.safetensors"));
  size_t listed = 0;
  for (const char* section : {"inputs", "outputs"}) {
    for (const auto& entry : c[section]) {
      if (!entry.contains("shape")) continue;  // pattern entries such as out.latents.step<i>
      const std::string name = entry["name"];
      ASSERT_TRUE(io_file->contains(name)) << name;
      EXPECT_EQ(io_file->info(name).shape, entry["shape"].get<Shape>()) << name;
      ++listed;
    }
  }
  if (c["dumps"].is_array()) {
    for (const auto& d : c["dumps"]) {
      EXPECT_TRUE(io_file->contains(d.get<std::string>())) << d;
      ++listed;
    }
    EXPECT_EQ(io_file->names().size(), listed);
  }
  for (const auto& [name, stats] : c["stats"].items()) {
    ASSERT_TRUE(io_file->contains(name)) << name;
    EXPECT_EQ(io_file->info(name).shape, stats["shape"].get<Shape>()) << name;
    expect_stats_match(io_file->tensor(name), stats, name);
  }
}

TEST(SafetensorsFixtures, FluxTransformerGuidanceMatchesCaseJson) {
  check_fixture_case("flux_transformer_guidance");
  auto weights = SafetensorsFile::open(golden("flux_transformer_guidance/diffusion_pytorch_model.safetensors"));
  const io::Json config = io::load_json(golden("flux_transformer_guidance/config.json"));
  // Shapes the config implies for a few weights (diffusers FluxTransformer2DModel names).
  const int64_t inner = config["num_attention_heads"].get<int64_t>() * config["attention_head_dim"].get<int64_t>();
  EXPECT_EQ(weights->info("x_embedder.weight").shape, (Shape{inner, config["in_channels"].get<int64_t>()}));
  EXPECT_EQ(weights->info("context_embedder.weight").shape,
            (Shape{inner, config["joint_attention_dim"].get<int64_t>()}));
  EXPECT_TRUE(weights->contains("time_text_embed.guidance_embedder.linear_1.weight"));
  for (const auto& t : weights->tensors()) EXPECT_EQ(t.dtype, DType::F32) << t.name;
}

TEST(SafetensorsFixtures, FluxTransformerBf16WeightsAreBf16) {
  check_fixture_case("flux_transformer_noguidance_b2");
  const io::Json c = io::load_json(golden("flux_transformer_noguidance_b2/case.json"));
  ASSERT_EQ(c["weights_dtype"].get<std::string>().substr(0, 4), "BF16");
  auto weights = SafetensorsFile::open(golden("flux_transformer_noguidance_b2/diffusion_pytorch_model.safetensors"));
  EXPECT_FALSE(weights->contains("time_text_embed.guidance_embedder.linear_1.weight"));
  for (const auto& t : weights->tensors()) EXPECT_EQ(t.dtype, DType::BF16) << t.name;
  // A norm scale is 1 + N(0, 0.1): its bf16 values sit near 1, which a misread byte order would not.
  const Tensor scale = weights->tensor("transformer_blocks.0.attn.norm_q.weight");
  for (float x : scale.to_f32_vector()) EXPECT_NEAR(x, 1.0f, 0.6f);
}

TEST(SafetensorsFixtures, PipelineFluxIoMatchesCaseJson) { check_fixture_case("pipeline_flux"); }

}  // namespace
}  // namespace diffuse
