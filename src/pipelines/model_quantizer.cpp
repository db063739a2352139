#include "pipelines/model_quantizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/json_config.h"
#include "io/model_folder.h"
#include "io/quantized_tensors.h"
#include "io/safetensors_stream_writer.h"
#include "pipelines/model_catalog.h"
#include "runtime/log.h"
#include "runtime/progress.h"

namespace diffuse::pipelines {

namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_weight_file(const fs::path& p) {
  const std::string name = p.filename().string();
  return ends_with(name, ".safetensors") || ends_with(name, ".safetensors.index.json");
}

// Copies `from` (file or folder, following symlinks) to `to`.
void copy_tree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy(from, to, fs::copy_options::recursive, ec);
  DIFFUSE_CHECK(!ec, "cannot copy ", from.string(), " to ", to.string(), ": ", ec.message());
}

// One Linear weight of the component to be rewritten quantized.
struct Plan {
  Shape shape;  // [N, K]
};

struct ComponentQuantizer {
  const ops::QuantMode mode;
  const bool progress;
  QuantizeModelSummary& summary;

  // Rewrites one component folder `in` -> `out` for architecture `class_name`.
  void run(const fs::path& in, const fs::path& out, const std::string& class_name) {
    const std::string config_path = (in / "config.json").string();
    const auto expected = expected_tensors(class_name, io::load_json(config_path), config_path);
    const io::WeightSource source = io::WeightSource::open_folder(in.string());
    std::map<std::string, Plan> plans;  // float Linear weights this mode quantizes
    std::set<std::string> used_files;
    for (const auto& f : source.files()) used_files.insert(fs::path(f->path()).filename().string());
    for (const auto& e : expected) {
      if (!e.linear_weight || !source.contains(e.name)) continue;
      if (io::stored_weight_kind(source, e.name) != io::StoredWeightKind::Float) continue;
      const io::TensorInfo& info = source.info(e.name);
      DIFFUSE_CHECK(info.shape == e.shape, source.origin(), ": '", e.name, "' is ", shape_str(info.shape),
                    ", the architecture expects ", shape_str(e.shape));
      if (ops::quantizable(e.shape, mode)) {
        plans[e.name] = {e.shape};
      } else {
        ++summary.kept_float;
      }
    }

    fs::create_directories(out);
    std::map<std::string, std::string> weight_map;  // output tensor -> output file name
    for (const auto& entry : fs::directory_iterator(in)) {
      const std::string name = entry.path().filename().string();
      if (!is_weight_file(entry.path())) {
        copy_tree(entry.path(), out / name);
      } else if (ends_with(name, ".safetensors") && !used_files.count(name)) {
        log_info(str_cat(entry.path().string(), ": not part of the component's weights, not copied"));
      }
    }
    for (const auto& file : source.files()) rewrite_file(*file, source, plans, out, weight_map);
    for (const auto& entry : fs::directory_iterator(in))
      if (ends_with(entry.path().filename().string(), ".safetensors.index.json"))
        rewrite_index(entry.path(), out / entry.path().filename(), source, plans);
  }

  void rewrite_file(const io::SafetensorsFile& file, const io::WeightSource& source,
                    const std::map<std::string, Plan>& plans, const fs::path& out_dir,
                    std::map<std::string, std::string>& weight_map) {
    const std::string out_name = fs::path(file.path()).filename().string();
    std::vector<io::TensorDecl> decls;
    std::map<std::string, std::string> part_of;  // output tensor -> source weight it comes from
    for (const io::TensorInfo& t : file.tensors()) {
      summary.bytes_in += t.end - t.begin;
      const auto plan = plans.find(t.name);
      if (plan == plans.end()) {
        decls.push_back({t.name, t.dtype, t.shape});
        ++summary.copied;
        continue;
      }
      for (io::TensorDecl d : quantized_decls(t.name, plan->second.shape, t.dtype)) {
        part_of[d.name] = t.name;
        decls.push_back(std::move(d));
      }
      ++summary.quantized;
    }
    for (const auto& d : decls) {
      weight_map[d.name] = out_name;
      summary.bytes_out += static_cast<uint64_t>(shape_numel(d.shape)) * dtype_size(d.dtype);
    }
    std::map<std::string, std::string> metadata = file.metadata();
    metadata[io::kQuantizationMetadataKey] = ops::quant_mode_name(mode);

    // Parts of one weight are requested at different times (they are stored by element size),
    // so the last quantized weight is kept and recomputed when another one intervened.
    std::string cached_name;
    std::optional<ops::QuantizedWeight> cached;
    std::optional<ProgressBar> bar;
    if (progress) bar.emplace(out_name, static_cast<int>(decls.size()));
    int done = 0;
    io::write_safetensors_streamed(
        (out_dir / out_name).string(), decls, metadata,
        [&](const io::TensorDecl& d) -> Tensor {
          const auto it = part_of.find(d.name);
          if (it == part_of.end()) return source.tensor(d.name);
          if (cached_name != it->second) {
            cached = ops::quantize(source.tensor(it->second), mode);
            cached_name = it->second;
          }
          for (const auto& [name, t] : io::quantized_weight_tensors(it->second, *cached))
            if (name == d.name) return t;
          fail("quantize: no part '", d.name, "' for ", it->second);
        },
        [&](const io::TensorDecl& d) {
          const auto it = part_of.find(d.name);
          source.release_pages(it == part_of.end() ? d.name : it->second);
          if (bar) bar->update(++done);
        });
    if (bar) bar->finish();
  }

  // Declarations of the stored tensors of weight `name` [N, K] quantized under `mode`.
  std::vector<io::TensorDecl> quantized_decls(const std::string& name, const Shape& shape, DType stored) const {
    const int64_t n = shape[0], k = shape[1];
    if (mode == ops::QuantMode::Int8)
      return {{name, DType::I8, {n, k}}, {io::int8_scale_name(name), DType::F32, {n}}};
    // Affine scales and biases take the weight's dtype (quantize_affine).
    const Shape groups{n, k / ops::kQ4GroupSize};
    return {{name, DType::U32, {n, k * 4 / 32}},
            {io::affine_scales_name(name), stored, groups},
            {io::affine_biases_name(name), stored, groups}};
  }

  // The index json with every quantized weight's companions mapped to the weight's shard and
  // the total size updated; other fields kept.
  void rewrite_index(const fs::path& in, const fs::path& out, const io::WeightSource& source,
                     const std::map<std::string, Plan>& plans) {
    io::Json index = io::load_json(in.string());
    DIFFUSE_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(), in.string(),
                  ": expected a JSON object with a \"weight_map\"");
    io::Json map = io::Json::object();
    uint64_t total = 0;
    for (const auto& [name, file] : index["weight_map"].items()) {
      map[name] = file;
      const auto plan = plans.find(name);
      if (plan == plans.end()) {
        if (source.contains(name)) total += source.info(name).end - source.info(name).begin;
        continue;
      }
      for (const auto& d : quantized_decls(name, plan->second.shape, source.info(name).dtype)) {
        map[d.name] = file;
        total += static_cast<uint64_t>(shape_numel(d.shape)) * dtype_size(d.dtype);
      }
    }
    index["weight_map"] = map;
    if (!index.contains("metadata") || !index["metadata"].is_object()) index["metadata"] = io::Json::object();
    index["metadata"]["total_size"] = total;
    index["metadata"][io::kQuantizationMetadataKey] = ops::quant_mode_name(mode);
    const std::string text = index.dump(2) + "\n";
    io::write_file_atomically(out.string(), [&](std::FILE* f, const std::string&) {
      io::write_all(f, text.data(), text.size(), out.string());
    });
  }
};

}  // namespace

QuantizeModelSummary quantize_model_folder(const std::string& in_arg, const std::string& out_arg,
                                           const QuantizeModelOptions& options) {
  DIFFUSE_CHECK(options.mode == ops::QuantMode::Int8 || options.mode == ops::QuantMode::Q4,
                "quantize: choose a storage mode (int8 or q4), got ", ops::quant_mode_name(options.mode));
  // A component folder is taken as is; a model folder may also be a Hugging Face cache path.
  const fs::path in = fs::exists(fs::path(in_arg) / "config.json") ? fs::path(in_arg) : fs::path(io::resolve_model_path(in_arg));
  const fs::path out = out_arg;
  DIFFUSE_CHECK(fs::is_directory(in), in.string(), ": not a folder");
  DIFFUSE_CHECK(!fs::exists(out) || (fs::is_directory(out) && fs::is_empty(out)), out.string(),
                ": already exists and is not an empty folder");
  std::error_code ec;
  DIFFUSE_CHECK(!fs::exists(out) || !fs::equivalent(in, out, ec), "quantize: input and output are the same folder");
  QuantizeModelSummary summary;
  ComponentQuantizer q{options.mode, options.progress, summary};

  if (!fs::exists(in / "model_index.json")) {
    const std::string config_path = (in / "config.json").string();
    DIFFUSE_CHECK(fs::exists(config_path), in.string(), ": neither model_index.json nor config.json");
    const std::string cls = config_class_name(io::load_json(config_path));
    DIFFUSE_CHECK(architecture_builder(cls), config_path, ": no known architecture '", cls, "' to quantize");
    q.run(in, out, cls);
    return summary;
  }

  const io::ModelIndex index = io::read_model_index(in.string());
  std::set<std::string> chosen(options.components.begin(), options.components.end());
  for (const std::string& c : chosen) {
    const io::ComponentSpec* spec = index.find(c);
    DIFFUSE_CHECK(spec, in.string(), ": no component '", c, "' in model_index.json");
    DIFFUSE_CHECK(architecture_builder(spec->class_name), in.string(), ": component '", c, "' (", spec->class_name,
                  ") has no architecture diffuse can quantize");
  }
  if (chosen.empty())
    for (const auto& c : index.components)
      if (architecture_builder(c.class_name)) chosen.insert(c.name);

  fs::create_directories(out);
  for (const auto& entry : fs::directory_iterator(in)) {
    const std::string name = entry.path().filename().string();
    if (chosen.count(name)) {
      log_info(str_cat("quantizing ", name, " (", index.find(name)->class_name, ") to ",
                       ops::quant_mode_name(options.mode)));
      q.run(entry.path(), out / name, index.find(name)->class_name);
    } else {
      copy_tree(entry.path(), out / name);
    }
  }
  return summary;
}

}  // namespace diffuse::pipelines
