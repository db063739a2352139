#include "io/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "runtime/error.h"

namespace diffuse::io {

using Json = nlohmann::json;

const TensorInfo* SafetensorsHeader::find(std::string_view name) const {
  auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                             [](const TensorInfo& t, std::string_view n) { return t.name < n; });
  return it != tensors.end() && it->name == name ? &*it : nullptr;
}

uint64_t SafetensorsHeader::tensor_bytes() const {
  uint64_t total = 0;
  for (const auto& t : tensors) total += t.nbytes();  // disjoint ranges inside the file: no overflow
  return total;
}

namespace {

// A safetensors header nests 3 levels deep (object -> entry -> shape array); anything much
// deeper is not a header, and refusing it early bounds the parser's memory.
constexpr int kMaxJsonDepth = 16;

struct TooDeep {};
struct DuplicateName {
  std::string name;
};

// Dtypes the safetensors format defines but the engine does not load.
bool is_unsupported_dtype(std::string_view s) {
  static const char* names[] = {"F64",     "I16",     "U16",     "U64",
                                "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4",      "F6_E2M3",
                                "F6_E3M2", "C64",     "F8_E4M3FNUZ", "F8_E5M2FNUZ"};
  return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return s == n; });
}

const char* json_type(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_float()) return "a float";
  if (v.is_number()) return "an integer";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "something else";
}

// A JSON value as a non-negative integer, or false.
bool as_count(const Json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(v.get<int64_t>());
    return true;
  }
  return false;
}

std::string short_json(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return printable(s);
}

Json parse_header_json(const uint8_t* begin, const uint8_t* end, const std::string& label) {
  std::unordered_set<std::string> top_level_keys;
  auto guard = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth > kMaxJsonDepth) throw TooDeep{};
    if (depth == 1 && event == Json::parse_event_t::key) {
      // nlohmann keeps the last of duplicate keys; a header naming a tensor twice is corrupt.
      if (!top_level_keys.insert(parsed.get<std::string>()).second)
        throw DuplicateName{parsed.get<std::string>()};
    }
    return true;
  };
  try {
    return Json::parse(begin, end, guard, /*allow_exceptions=*/true);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    const auto pos = what.find("] ");  // drop nlohmann's "[json.exception.parse_error.101] "
    if (pos != std::string::npos) what = what.substr(pos + 2);
    fail(label, ": header is not valid JSON: ", printable(what));
  } catch (const TooDeep&) {
    fail(label, ": header JSON nests deeper than ", kMaxJsonDepth, " levels");
  } catch (const DuplicateName& d) {
    fail(label, ": tensor '", printable(d.name), "': appears twice in the header");
  } catch (const Json::exception& e) {
    fail(label, ": header JSON: ", printable(e.what()));
  }
}

std::map<std::string, std::string> parse_metadata(const Json& meta, const std::string& label) {
  DIFFUSE_CHECK(meta.is_object(), label, ": __metadata__ is ", json_type(meta),
                ", expected an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : meta.items()) {
    DIFFUSE_CHECK(value.is_string(), label, ": __metadata__ '", printable(key), "' is ",
                  json_type(value), ", expected a string");
    out.emplace(key, value.get<std::string>());
  }
  return out;
}

TensorInfo parse_entry(const std::string& name, const Json& entry, uint64_t data_bytes,
                       const std::string& label) {
  const std::string where = str_cat(label, ": tensor '", printable(name), "': ");
  DIFFUSE_CHECK(entry.is_object(), where, "entry is ", json_type(entry), ", expected an object");
  TensorInfo info;
  info.name = name;

  const auto dtype_it = entry.find("dtype");
  DIFFUSE_CHECK(dtype_it != entry.end(), where, "missing \"dtype\"");
  DIFFUSE_CHECK(dtype_it->is_string(), where, "dtype is ", json_type(*dtype_it), ", expected a string");
  const std::string dtype_text = dtype_it->get<std::string>();
  const auto dtype = dtype_from_name(dtype_text);
  if (!dtype) {
    if (is_unsupported_dtype(dtype_text)) fail(where, "unsupported dtype ", dtype_text);
    fail(where, "unknown dtype '", printable(dtype_text), "'");
  }
  info.dtype = *dtype;

  const auto shape_it = entry.find("shape");
  DIFFUSE_CHECK(shape_it != entry.end(), where, "missing \"shape\"");
  DIFFUSE_CHECK(shape_it->is_array(), where, "shape is ", json_type(*shape_it), ", expected an array");
  // The running product must stay within int64 in dimension order, so that any later
  // shape arithmetic (shape_numel multiplies in the same order) cannot overflow.
  uint64_t numel = 1;
  const uint64_t int64_max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  for (size_t i = 0; i < shape_it->size(); ++i) {
    const Json& d = (*shape_it)[i];
    uint64_t dim = 0;
    DIFFUSE_CHECK(as_count(d, &dim), where, "shape[", i, "] is ", short_json(d),
                  ", expected a non-negative integer");
    DIFFUSE_CHECK(dim <= int64_max, where, "shape[", i, "] = ", dim, " is too large");
    DIFFUSE_CHECK(!__builtin_mul_overflow(numel, dim, &numel) && numel <= int64_max, where,
                  "shape ", short_json(*shape_it), " has more elements than fit in 64 bits");
    info.shape.push_back(static_cast<int64_t>(dim));
  }
  uint64_t expected_bytes = 0;
  DIFFUSE_CHECK(!__builtin_mul_overflow(numel, dtype_size(info.dtype), &expected_bytes), where,
                "shape ", short_json(*shape_it), " of ", dtype_text, " overflows 64 bits in bytes");

  const auto off_it = entry.find("data_offsets");
  DIFFUSE_CHECK(off_it != entry.end(), where, "missing \"data_offsets\"");
  DIFFUSE_CHECK(off_it->is_array() && off_it->size() == 2, where, "data_offsets is ",
                short_json(*off_it), ", expected [begin, end]");
  DIFFUSE_CHECK(as_count((*off_it)[0], &info.begin) && as_count((*off_it)[1], &info.end), where,
                "data_offsets ", short_json(*off_it), " are not non-negative integers");
  DIFFUSE_CHECK(info.begin <= info.end, where, "data_offsets begin ", info.begin, " > end ", info.end);
  DIFFUSE_CHECK(info.end <= data_bytes, where, "data_offsets end ", info.end,
                " is past the end of the data section (", data_bytes, " bytes; file truncated?)");
  DIFFUSE_CHECK(info.end - info.begin == expected_bytes, where, "shape ", shape_str(info.shape), " of ",
                dtype_text, " needs ", expected_bytes, " bytes but data_offsets span ",
                info.end - info.begin);
  return info;
}

void check_no_overlap(std::vector<TensorInfo>& tensors, const std::string& label) {
  // Sort by position; empty tensors occupy no bytes and cannot overlap anything.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : tensors)
    if (t.nbytes() > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->name < b->name;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& prev = *by_offset[i - 1];
    const TensorInfo& cur = *by_offset[i];
    DIFFUSE_CHECK(prev.end <= cur.begin, label, ": tensor '", printable(cur.name), "': data [",
                  cur.begin, ", ", cur.end, ") overlaps tensor '", printable(prev.name), "' [",
                  prev.begin, ", ", prev.end, ")");
  }
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& label) {
  DIFFUSE_CHECK(size >= 8, label, ": file is ", size,
                " bytes, too short to hold the 8-byte safetensors header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  DIFFUSE_CHECK(n > 0, label, ": header length is 0");
  DIFFUSE_CHECK(n <= kMaxSafetensorsHeaderBytes, label, ": header length ", n,
                " exceeds the 100 MiB limit (not a safetensors file?)");
  DIFFUSE_CHECK(n <= size - 8, label, ": header length ", n, " runs past the end of the file (",
                size, " bytes)");

  SafetensorsHeader header;
  header.header_bytes = n;
  header.data_offset = 8 + n;
  header.data_bytes = size - 8 - n;

  const Json root = parse_header_json(data + 8, data + 8 + n, label);
  DIFFUSE_CHECK(root.is_object(), label, ": header is ", json_type(root), ", expected a JSON object");
  for (const auto& [name, entry] : root.items()) {
    if (name == "__metadata__") {
      header.metadata = parse_metadata(entry, label);
      continue;
    }
    header.tensors.push_back(parse_entry(name, entry, header.data_bytes, label));
  }
  check_no_overlap(header.tensors, label);
  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return header;
}

}  // namespace diffuse::io
