// `diffuse quantize` end to end on a tiny FLUX.1 folder in the real layout: the written folder
// loads in `generate` and `inspect`, and produces exactly the image a load-time `--quantize`
// run of the original folder produces; sharded components keep their shards and a correct
// index; a damaged quantized tensor stops generate with an error naming it.
#include <gtest/gtest.h>

#include <filesystem>

#include "generate_cli_helpers.h"
#include "io/checkpoint.h"
#include "io/quantized_tensors.h"
#include "tiny_model_folder.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

testing::CliOutput run_cli(const std::string& args) { return testing::run_cli_combined(args); }

const fs::path kClipTokenizer = fs::path(DIFFUSE_GOLDEN_DIR) / "tokenizers" / "clip_synthetic" / "slow";

class QuantizeCli : public ::testing::Test {
 protected:
  fs::path path(const std::string& name) const { return fs::path(dir.path()) / name; }
  // Generates a 32x32 image in 2 steps from `model`, returns its pixels.
  std::vector<uint8_t> generate(const fs::path& model, const std::string& extra, const std::string& png) {
    const auto r = run_cli("generate -m " + model.string() + " -p 'a cat' -W 32 -H 32 --steps 2 --seed 3 --threads 2 " +
                           extra + " -o " + path(png).string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    last_output = r.output;
    return r.exit_code == 0 ? io::read_png(path(png).string()).image.pixels : std::vector<uint8_t>{};
  }
  testing::ScratchDir dir;
  std::string last_output;
};

TEST_F(QuantizeCli, QuantizedFolderMatchesLoadTimeQuantization) {
  const fs::path model = path("flux");
  testing::write_tiny_flux_family_folder(model, /*chroma=*/false, /*guidance_embeds=*/true, kClipTokenizer);
  const auto plain = generate(model, "", "plain.png");
  for (const std::string mode : {"int8", "q4"}) {
    SCOPED_TRACE(mode);
    const fs::path out = path("flux-" + mode);
    const auto r = run_cli("quantize " + model.string() + " " + out.string() + " --mode " + mode + " --threads 2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("Linear weights to " + mode), std::string::npos) << r.output;
    for (const char* f : {"model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json",
                          "tokenizer_2/spiece.model", "transformer/config.json"})
      EXPECT_TRUE(fs::exists(out / f)) << f;

    // The transformer's Linear weights are stored quantized, marked in the metadata.
    const io::WeightSource source = io::WeightSource::open_folder((out / "transformer").string());
    EXPECT_EQ(source.files().at(0)->metadata().at(io::kQuantizationMetadataKey), mode);
    const std::string w = "transformer_blocks.0.ff.net.2.weight";  // [32, 128]: quantizable in both modes
    EXPECT_EQ(io::stored_weight_kind(source, w), mode == "q4" ? io::StoredWeightKind::Affine : io::StoredWeightKind::Int8);
    EXPECT_EQ(io::stored_weight_kind(source, "norm_out.linear.weight"),
              mode == "q4" ? io::StoredWeightKind::Float : io::StoredWeightKind::Int8);  // K = 32: q4 keeps it
    EXPECT_EQ(source.info("x_embedder.bias").dtype, DType::BF16);  // biases are not quantized

    // inspect reads it and matches every tensor against the architecture.
    const auto inspected = run_cli("inspect " + out.string());
    ASSERT_EQ(inspected.exit_code, 0) << inspected.output;
    EXPECT_EQ(inspected.output.find("unexpected"), std::string::npos) << inspected.output;
    EXPECT_EQ(inspected.output.find("wrong shape"), std::string::npos) << inspected.output;

    // The same pixels as quantizing the original at load time; not the unquantized ones.
    const auto from_file = generate(out, "", "file-" + mode + ".png");
    EXPECT_NE(last_output.find("stored quantized"), std::string::npos) << last_output;
    const auto at_load = generate(model, "--quantize " + mode, "load-" + mode + ".png");
    EXPECT_NE(last_output.find("quantized at load"), std::string::npos) << last_output;
    ASSERT_FALSE(from_file.empty());
    EXPECT_EQ(from_file, at_load);
    EXPECT_NE(from_file, plain);
    // A quantized folder ignores --quantize of the other mode for stored weights but still runs.
    EXPECT_FALSE(generate(out, "--quantize int8", "mixed-" + mode + ".png").empty());
  }
}

TEST_F(QuantizeCli, ShardedComponentKeepsShardsAndIndex) {
  const fs::path model = path("flux");
  testing::write_tiny_flux_family_folder(model, /*chroma=*/false, /*guidance_embeds=*/false, kClipTokenizer);
  // Split the transformer into two shards with an index, as large checkpoints ship.
  const fs::path tdir = model / "transformer";
  const io::WeightSource whole = io::WeightSource::open_folder(tdir.string());
  io::NamedTensors a, b;
  io::Json map = io::Json::object();
  int i = 0;
  for (const std::string& name : whole.names()) {
    const bool first = i++ % 2 == 0;
    (first ? a : b).emplace_back(name, whole.tensor(name).clone());
    map[name] = first ? "diffusion_pytorch_model-00001-of-00002.safetensors" : "diffusion_pytorch_model-00002-of-00002.safetensors";
  }
  fs::remove(tdir / "diffusion_pytorch_model.safetensors");
  io::write_safetensors((tdir / "diffusion_pytorch_model-00001-of-00002.safetensors").string(), a);
  io::write_safetensors((tdir / "diffusion_pytorch_model-00002-of-00002.safetensors").string(), b);
  testing::write_file(tdir / "diffusion_pytorch_model.safetensors.index.json",
                      io::Json{{"metadata", {{"total_size", 1}}}, {"weight_map", map}}.dump());

  const fs::path out = path("transformer-q4");
  const auto r = run_cli("quantize " + tdir.string() + " " + out.string() + " --mode q4 -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(out / "diffusion_pytorch_model-00001-of-00002.safetensors"));
  EXPECT_TRUE(fs::exists(out / "diffusion_pytorch_model-00002-of-00002.safetensors"));
  const io::Json index = io::load_json((out / "diffusion_pytorch_model.safetensors.index.json").string());
  EXPECT_EQ(index.at("metadata").at(io::kQuantizationMetadataKey), "q4");
  // The index opens, names every tensor of both shards, and its total is their byte sum.
  const io::WeightSource q = io::WeightSource::open_folder(out.string());
  uint64_t sum = 0;
  for (const auto& f : q.files()) sum += f->data_bytes();
  EXPECT_EQ(index.at("metadata").at("total_size").get<uint64_t>(), sum);
  EXPECT_EQ(index.at("weight_map").size(), q.size());
  const std::string w = "transformer_blocks.0.ff.net.2.weight";
  ASSERT_EQ(io::stored_weight_kind(q, w), io::StoredWeightKind::Affine);
  EXPECT_EQ(q.file_of(io::affine_scales_name(w)), q.file_of(w));  // companions live beside their weight
  EXPECT_EQ(fs::path(q.file_of(w)).filename(), map[w].get<std::string>());
  // Every tensor is aligned to its element size in the file (no copies needed at load).
  for (const auto& name : q.names())
    EXPECT_EQ(reinterpret_cast<uintptr_t>(q.tensor(name).raw()) % dtype_size(q.info(name).dtype), 0u) << name;
  // An existing, non-empty output folder is refused.
  EXPECT_NE(run_cli("quantize " + tdir.string() + " " + out.string() + " --mode q4 -q").exit_code, 0);
}

TEST_F(QuantizeCli, DamagedQuantizedTensorIsNamed) {
  const fs::path model = path("flux");
  testing::write_tiny_flux_family_folder(model, /*chroma=*/false, /*guidance_embeds=*/true, kClipTokenizer);
  const fs::path out = path("flux-q4");
  ASSERT_EQ(run_cli("quantize " + model.string() + " " + out.string() + " --mode q4 -q").exit_code, 0);
  // Replace one weight's scales and biases by 3 groups: 128 columns do not split into 3.
  const std::string w = "transformer_blocks.0.ff.net.2.weight";
  const std::string file = (out / "transformer" / "diffusion_pytorch_model.safetensors").string();
  io::NamedTensors tensors;
  {
    const io::WeightSource s = io::WeightSource::open_file(file);
    for (const std::string& name : s.names()) {
      const bool damaged = name == io::affine_scales_name(w) || name == io::affine_biases_name(w);
      tensors.emplace_back(name, damaged ? Tensor::zeros({32, 3}, DType::BF16) : s.tensor(name).clone());
    }
  }
  io::write_safetensors(file, tensors);
  const auto r = run_cli("generate -m " + out.string() + " -p 'a cat' -W 32 -H 32 --steps 1 -o " + path("x.png").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find(w), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("group"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("step 1/1"), std::string::npos) << r.output;  // stopped before any compute
  // Bad arguments.
  EXPECT_NE(run_cli("quantize " + model.string() + " " + path("o2").string() + " --mode q3").exit_code, 0);
  EXPECT_NE(run_cli("quantize " + model.string() + " " + path("o3").string()).exit_code, 0);
  EXPECT_NE(run_cli("quantize " + model.string() + " " + path("o4").string() + " --mode q4 --components nope").exit_code, 0);
  EXPECT_NE(run_cli("generate -m " + model.string() + " -p x --quantize q5 -o " + path("y.png").string()).exit_code, 0);
}

}  // namespace
}  // namespace diffuse
