// CLIP tokenizer folders as diffusers checkpoints ship them (FLUX.1 / SD `tokenizer/`):
// vocab.json + merges.txt + tokenizer_config.json (+ special_tokens_map.json), without a
// tokenizer.json. They are turned into the tokenizer.json document that transformers'
// CLIP converter writes for CLIPTokenizerFast, so both forms run through one engine:
//   normalizer     NFC, whitespace runs -> " ", lowercase
//   pre_tokenizer  the CLIP regex ('s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+),
//                  keeping the matches only, then ByteLevel
//   model          BPE with end_of_word_suffix "</w>", unk = the config's unk_token
//   post_processor <|startoftext|> text <|endoftext|> (the config's bos / eos)
#pragma once

#include <string>

#include "io/json_config.h"
#include "text/tokenizer_config.h"

namespace diffuse::text {

// `folder` holds vocab.json and merges.txt; `config` is its tokenizer_config.json (tokenizer_class
// CLIPTokenizer(Fast), checked by text/vocab_files.h), which must name bos, eos and unk tokens.
io::Json clip_tokenizer_json_from_files(const std::string& folder, const TokenizerConfig& config);

}  // namespace diffuse::text
