// ModelOptions::quantization = W8A8 through LinearLayer: float weights are quantized to int8 at
// load and run on the int8 x int8 GEMM, int8-stored weights run there too, layers with K < 64
// keep bf16; plus the mode's name, quantizable() and memory figures.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "io/quantized_tensors.h"
#include "io/safetensors.h"
#include "io/weight_binder.h"
#include "models/common/linear_layer.h"
#include "ops/amx_gemm.h"
#include "random_tensor.h"

namespace diffuse::models {
namespace {

using testing::compare;
using testing::random_tensor;

TEST(W8A8Mode, NameAndQuantizable) {
  EXPECT_EQ(ops::quant_mode_from_name("w8a8", "test"), ops::QuantMode::W8A8);
  EXPECT_STREQ(ops::quant_mode_name(ops::QuantMode::W8A8), "w8a8");
  EXPECT_THROW(ops::quant_mode_from_name("w8a16", "test"), Error);
  EXPECT_TRUE(ops::quantizable({10, 64}, ops::QuantMode::W8A8));
  EXPECT_FALSE(ops::quantizable({10, 63}, ops::QuantMode::W8A8));
  // The AMX tiles alone (oneDNN: int8 values + its prepacked copy) + f32 scales; bf16 when it
  // stays float.
  const uint64_t copies = ops::amx::gemm_available(DType::I8) ? 1 : 2;
  EXPECT_EQ(ops::quantized_weight_bytes({3072, 3072}, ops::QuantMode::W8A8), copies * 3072 * 3072 + 3072 * 4);
  EXPECT_EQ(ops::quantized_weight_bytes({10, 32}, ops::QuantMode::W8A8), 10ull * 32 * 2);
  const Tensor w = random_tensor({6, 70}, 1);
  const ops::QuantizedWeight a = ops::quantize(w, ops::QuantMode::W8A8), b = ops::quantize_int8_per_channel(w);
  EXPECT_EQ(a.format, ops::QuantFormat::Int8PerChannel);
  EXPECT_EQ(compare(a.values, b.values).max_abs, 0.0);
}

class W8A8LinearLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("w8a8_layer_" + std::to_string(getpid()) + ".safetensors")).string();
    io::NamedTensors named = {{"wide.weight", wide_}, {"wide.bias", bias_}, {"narrow.weight", narrow_}};
    for (auto& t : io::quantized_weight_tensors("stored.weight", stored_)) named.push_back(std::move(t));
    io::write_safetensors(path_, named);
  }
  void TearDown() override { std::filesystem::remove(path_); }

  const Tensor wide_ = random_tensor({96, 64}, 2, 0.05f, DType::BF16);
  const Tensor bias_ = random_tensor({96}, 3, 0.1f, DType::BF16);
  const Tensor narrow_ = random_tensor({16, 32}, 4, 0.05f, DType::BF16);
  const ops::QuantizedWeight stored_ = ops::quantize_int8_per_channel(random_tensor({40, 80}, 5, 0.05f));
  std::string path_;
};

TEST_F(W8A8LinearLayer, QuantizesFloatWeightsAndRunsStoredInt8) {
  ModelOptions options;
  options.quantization = ops::QuantMode::W8A8;
  io::WeightBinder binder(io::WeightSource::open_file(path_));
  const auto before = LinearLayer::quantization_counts();
  const LinearLayer wide(binder, "wide", 64, 96, true, options);
  const LinearLayer narrow(binder, "narrow", 32, 16, false, options);
  const LinearLayer stored(binder, "stored", 80, 40, false, options);
  binder.check();
  const auto after = LinearLayer::quantization_counts();
  EXPECT_EQ(after.quantized_at_load - before.quantized_at_load, 1u);
  EXPECT_EQ(after.kept_float - before.kept_float, 1u);
  EXPECT_EQ(after.stored_quantized - before.stored_quantized, 1u);

  // Quantized at load: the same int8 weight and the same outputs as an I8 ops::Linear, and not
  // those of the dequantize-to-bf16 path.
  const Tensor x = random_tensor({5, 64}, 6);
  ASSERT_NE(wide.quantized_weight(), nullptr);
  const ops::QuantizedWeight q = ops::quantize_int8_per_channel(wide_);
  // (the int8 values themselves may be released once packed; the outputs below pin them down)
  EXPECT_EQ(compare(wide.quantized_weight()->scales, q.scales).max_abs, 0.0);
  const Tensor got = wide.forward(x);
  EXPECT_EQ(compare(got, ops::Linear(q, &bias_, DType::I8).forward(x)).max_abs, 0.0);
  EXPECT_GT(compare(got, ops::Linear(q, &bias_, DType::BF16).forward(x)).max_abs, 0.0);

  // K = 32 < 64: stays a bf16 weight.
  EXPECT_EQ(narrow.quantized_weight(), nullptr);
  const Tensor xn = random_tensor({3, 32}, 7);
  EXPECT_EQ(compare(narrow.forward(xn), ops::Linear(narrow_).forward(xn)).max_abs, 0.0);

  // Stored int8: runs as W8A8.
  const Tensor xs = random_tensor({4, 80}, 8);
  EXPECT_EQ(compare(stored.forward(xs), ops::Linear(stored_, nullptr, DType::I8).forward(xs)).max_abs, 0.0);
}

TEST_F(W8A8LinearLayer, StoredInt8WithoutW8A8DequantizesToBf16) {
  io::WeightBinder binder(io::WeightSource::open_file(path_));
  const LinearLayer stored(binder, "stored", 80, 40, false, ModelOptions{});
  const Tensor xs = random_tensor({4, 80}, 9);
  EXPECT_EQ(compare(stored.forward(xs), ops::Linear(stored_, nullptr, DType::BF16).forward(xs)).max_abs, 0.0);
}

}  // namespace
}  // namespace diffuse::models
