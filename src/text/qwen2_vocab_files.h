// Qwen2Tokenizer folders (Qwen-Image's tokenizer/: vocab.json + merges.txt +
// tokenizer_config.json, no tokenizer.json), turned into the tokenizer.json document
// transformers' Qwen2 converter writes for Qwen2TokenizerFast:
//   normalizer     NFC
//   pre_tokenizer  Split on the Qwen2 pattern (isolated matches), then ByteLevel without its
//                  own regex
//   model          byte-level BPE, every merge of merges.txt, no unk token
//   post_processor ByteLevel (adds no tokens: Qwen adds no BOS / EOS)
// The special tokens come from tokenizer_config.json's added_tokens_decoder.
#pragma once

#include <string>

#include "io/json_config.h"
#include "text/tokenizer_config.h"

namespace diffuse::text {

io::Json qwen2_tokenizer_json_from_files(const std::string& folder, const TokenizerConfig& config);

}  // namespace diffuse::text
