// Slow-tokenizer folders as diffusers checkpoints ship them: vocab.json + merges.txt +
// tokenizer_config.json, without a tokenizer.json. Each supported tokenizer_class is turned
// into the tokenizer.json document transformers' converter writes for its fast twin, so both
// forms run through one engine (BpeTokenizer):
//   CLIPTokenizer  -> text/clip_vocab_files.h   (FLUX.1's CLIP-L)
//   Qwen2Tokenizer -> text/qwen2_vocab_files.h  (Qwen-Image's Qwen2.5-VL)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "io/json_config.h"
#include "text/tokenizer_config.h"

namespace diffuse::text {

// The tokenizer.json document for the folder, picked by config.tokenizer_class; an
// unsupported class is an error naming the config file.
io::Json tokenizer_json_from_vocab_files(const std::string& folder, const TokenizerConfig& config);

// Shared readers for the converters.
// vocab.json: an object {token: id} with ids in [0, INT32_MAX].
io::Json read_vocab_json(const std::string& path);
// merges.txt: a "#version" header line, then one whitespace-separated pair per line (as the
// slow tokenizers' str.split() reads it); at most `max_merges` pairs are kept.
io::Json read_merges_txt(const std::string& path, size_t max_merges = SIZE_MAX);
// The id of `token` in a vocab.json object; `what` names the config field in errors.
int32_t vocab_id(const io::Json& vocab, const std::string& token, const std::string& config_label,
                 const char* what, const std::string& vocab_path);
// The config file's label for messages (its path, or where it would be).
std::string config_label(const std::string& folder, const TokenizerConfig& config);

}  // namespace diffuse::text
