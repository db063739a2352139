// The two big tables of a BPE tokenizer.json, model.vocab ({token: id}) and model.merges
// ("left right" strings, or [left, right] pairs since tokenizers 0.20), read and checked
// for shape. They are almost all of a real file (Qwen: 150k tokens + 150k merges), so
// parse_json_extracting_bpe_tables takes them out of the token stream as it parses instead
// of building (and then freeing) a JSON node for each entry; that halves loading time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/json_config.h"

namespace diffuse::text {

struct BpeTables {
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  bool has_vocab = false, has_merges = false;  // the fields were present
};

// From a parsed "model" object. `context` names the file in errors.
BpeTables read_bpe_tables(const io::Json& model, const std::string& context);

// Parses a whole tokenizer.json text. model.vocab and model.merges land in `tables`; the
// returned document holds everything else (those two fields are left empty in it).
io::Json parse_json_extracting_bpe_tables(std::string_view text, const std::string& context, BpeTables& tables);

}  // namespace diffuse::text
