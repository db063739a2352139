// A Hugging Face tokenizer.json document, parsed and validated into the pipeline stages of
// a byte-level (or plain) BPE tokenizer. "truncation" and "padding" are ignored: they are
// per-call settings (see BpeTokenizer::encode_padded).
#pragma once

#include <string>

#include "io/json_config.h"
#include "text/added_tokens.h"
#include "text/bpe_merges.h"
#include "text/normalizer.h"
#include "text/post_processor.h"
#include "text/pretokenizer.h"
#include "text/token_decoder.h"

namespace diffuse::text {

struct TokenizerParts {
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  BpeModel model;
  AddedVocabulary added;
  PostProcessor post_processor;
  bool has_post_processor = false;  // false when the document's post_processor is null
  TokenDecoder decoder;
};

// Reads and parses a tokenizer.json file. Only model type BPE is supported.
TokenizerParts load_tokenizer_json(const std::string& path);

// The same from a document in memory; `context` names its origin in errors.
TokenizerParts parse_tokenizer_json(const io::Json& root, const std::string& context);

}  // namespace diffuse::text
