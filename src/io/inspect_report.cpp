#include "io/inspect_report.h"

#include <cstdio>
#include <filesystem>

#include "io/model_folder.h"
#include "runtime/error.h"

namespace diffuse::io {

namespace fs = std::filesystem;

WeightSummary summarize_weights(const WeightSource& source) {
  WeightSummary s;
  for (const auto& name : source.names()) {
    const TensorInfo& t = source.info(name);
    ++s.tensors;
    ++s.dtype_counts[t.dtype];
    s.bytes += t.nbytes();
  }
  return s;
}

std::string human_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return str_cat(bytes, " B");
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string describe_summary(const WeightSummary& summary) {
  std::string out = str_cat(summary.tensors, summary.tensors == 1 ? " tensor" : " tensors");
  for (const auto& [dtype, count] : summary.dtype_counts) out += str_cat(", ", dtype_name(dtype), " x", count);
  return out + str_cat(", ", human_bytes(summary.bytes), " (", summary.bytes, " bytes)");
}

std::string list_tensors(const WeightSource& source, const std::string& indent) {
  std::string out;
  for (const auto& name : source.names()) {
    const TensorInfo& t = source.info(name);
    out += str_cat(indent, printable(name), " ", dtype_name(t.dtype), " ", shape_str(t.shape), " ",
                   t.nbytes(), "\n");
  }
  return out;
}

namespace {

std::string metadata_line(const WeightSource& source) {
  std::string out;
  for (const auto& file : source.files()) {
    for (const auto& [k, v] : file->metadata()) {
      out += out.empty() ? "metadata: " : ", ";
      out += printable(k) + "=" + printable(v.size() > 60 ? v.substr(0, 57) + "..." : v);
    }
  }
  return out.empty() ? out : out + "\n";
}

std::string inspect_weights(const std::string& path, const InspectOptions& options) {
  const WeightSource source = WeightSource::open(path);
  std::string out = str_cat("weights: ", source.origin());
  if (source.files().size() > 1) out += str_cat(" (", source.files().size(), " files)");
  out += str_cat("\n", describe_summary(summarize_weights(source)), "\n");
  out += metadata_line(source);
  if (options.list_tensors) out += list_tensors(source, "  ");
  return out;
}

std::string inspect_model(const std::string& root, const InspectOptions& options) {
  const ModelIndex index = read_model_index(root);
  std::string out = str_cat("model: ", root, " (", index.class_name, ")\n");
  WeightSummary total;
  for (const auto& c : index.components) {
    out += str_cat("  ", c.name, ": ", c.library, " ", c.class_name);
    const fs::path folder = fs::path(root) / c.name;
    if (!fs::is_directory(folder)) {
      out += " (folder missing)\n";
      continue;
    }
    if (!folder_has_weights(folder.string())) {
      out += "\n";
      continue;
    }
    const WeightSource source = WeightSource::open_folder(folder.string());
    const WeightSummary s = summarize_weights(source);
    out += str_cat(": ", describe_summary(s), "\n");
    if (options.list_tensors) out += list_tensors(source, "    ");
    total.tensors += s.tensors;
    total.bytes += s.bytes;
    for (const auto& [dtype, count] : s.dtype_counts) total.dtype_counts[dtype] += count;
  }
  out += str_cat("total: ", describe_summary(total), "\n");
  return out;
}

}  // namespace

std::string inspect_path(const std::string& path, const InspectOptions& options) {
  DIFFUSE_CHECK(fs::exists(path), path, ": no such file or directory");
  if (!fs::is_directory(path)) return inspect_weights(path, options);
  const std::string root = is_hf_cache_path(path) ? resolve_model_path(path) : path;
  if (fs::is_regular_file(fs::path(root) / "model_index.json")) return inspect_model(root, options);
  return inspect_weights(root, options);
}

}  // namespace diffuse::io
