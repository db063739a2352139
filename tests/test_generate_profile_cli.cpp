// `diffuse generate --profile` on the complete tiny FLUX.1-dev folder: the table after the
// timings names every component and, within them, the GEMM kinds, attention, norms and
// convolutions, with percentages that add up.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "generate_cli_helpers.h"
#include "tiny_model_folder.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

struct Row {
  double seconds = 0, percent_of_component = 0, percent_of_total = 0;
  std::map<std::string, Row> parts;  // for components
};

// Reads the table's rows: components at column 0, their parts indented by two spaces.
std::map<std::string, Row> parse_table(const std::string& output) {
  std::map<std::string, Row> components;
  std::istringstream in(output.substr(output.find("\nscope ") + 1));
  std::string line, current;
  std::getline(in, line);  // header
  while (std::getline(in, line) && !line.empty()) {
    const bool part = line.rfind("  ", 0) == 0;
    std::istringstream f(line);
    std::string name, calls;
    Row r;
    f >> name >> r.seconds;
    if (name == "total") break;
    f >> calls >> r.percent_of_component >> r.percent_of_total;
    EXPECT_FALSE(f.fail()) << line;
    if (part) {
      EXPECT_FALSE(current.empty()) << line;
      components[current].parts[name] = r;
    } else {
      current = name;
      components[name] = r;
    }
  }
  return components;
}

TEST(GenerateProfileCli, TinyFluxTableHasEveryComponentAndOpRow) {
  ::diffuse::testing::ScratchDir dir;
  const fs::path model = fs::path(dir.path()) / "FLUX.1-tiny";
  const fs::path clip_tokenizer = fs::path(DIFFUSE_GOLDEN_DIR) / "tokenizers" / "clip_synthetic" / "slow";
  testing::write_tiny_flux_family_folder(model, /*chroma=*/false, /*guidance_embeds=*/true, clip_tokenizer);
  const std::string out = (fs::path(dir.path()) / "cat.png").string();
  // -q: the table is printed even when progress output is off.
  const auto r = testing::run_cli_combined("generate -q --profile -m " + model.string() +
                                           " -p 'a photo of a cat' -W 32 -H 32 --steps 2 --seed 3 --threads 2 -o " +
                                           out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_NE(r.output.find("profile: "), std::string::npos) << r.output;
  const auto table = parse_table(r.output);
  ASSERT_EQ(table.size(), 3u) << r.output;
  for (const char* component : {"text_encoder", "transformer", "vae"}) {
    ASSERT_EQ(table.count(component), 1u) << component << "\n" << r.output;
  }
  const auto& parts = table.at("transformer").parts;
  for (const char* part : {"gemm.qkv", "gemm.out_proj", "gemm.ffn_up", "gemm.ffn_down", "gemm.modulation",
                           "gemm.other", "attention", "norm+elementwise", "other"}) {
    EXPECT_EQ(parts.count(part), 1u) << part << "\n" << r.output;
  }
  // T5 and CLIP run all their GEMM kinds; the VAE runs convolutions and group norms.
  for (const char* part : {"gemm.qkv", "gemm.out_proj", "gemm.ffn_up", "gemm.ffn_down", "attention"}) {
    EXPECT_EQ(table.at("text_encoder").parts.count(part), 1u) << part << "\n" << r.output;
  }
  for (const char* part : {"conv", "norm+elementwise", "attention"}) {
    EXPECT_EQ(table.at("vae").parts.count(part), 1u) << part << "\n" << r.output;
  }
  // Percentages as printed (one decimal): components add up to the total, parts to their component.
  double components = 0;
  for (const auto& [name, c] : table) {
    components += c.percent_of_total;
    double of_component = 0;
    for (const auto& [part, p] : c.parts) of_component += p.percent_of_component;
    EXPECT_NEAR(of_component, 100.0, 0.1 * static_cast<double>(c.parts.size())) << name << "\n" << r.output;
  }
  EXPECT_NEAR(components, 100.0, 0.3) << r.output;

  // Without --profile there is no table.
  const auto plain = testing::run_cli_combined("generate -q -m " + model.string() +
                                               " -p 'a photo of a cat' -W 32 -H 32 --steps 1 --seed 3 -o " + out);
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_EQ(plain.output.find("profile: "), std::string::npos) << plain.output;
}

}  // namespace
}  // namespace diffuse
