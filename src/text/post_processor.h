// The "post_processor" of a tokenizer.json: the special tokens wrapped around an encoded
// text when add_special_tokens is requested. Supported types: TemplateProcessing (its
// "single" template), RobertaProcessing and BertProcessing (cls + text + sep), ByteLevel
// (adds nothing to ids) and Sequence of those. Every single-text template reduces to fixed
// id lists before and after the text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/json_config.h"

namespace diffuse::text {

class PostProcessor {
 public:
  // `spec` is the "post_processor" value (null = adds nothing).
  static PostProcessor from_json(const io::Json& spec, const std::string& context);
  // What Llama-style tokenizer configs ask for with add_bos_token / add_eos_token.
  static PostProcessor wrap(std::optional<int32_t> bos, std::optional<int32_t> eos);

  bool empty() const { return prefix_.empty() && suffix_.empty(); }
  // Ids added around one text (what truncation must leave room for).
  size_t added_count() const { return prefix_.size() + suffix_.size(); }
  const std::vector<int32_t>& prefix() const { return prefix_; }
  const std::vector<int32_t>& suffix() const { return suffix_; }

  std::vector<int32_t> apply(const std::vector<int32_t>& ids) const;

 private:
  void wrap_with(const PostProcessor& outer);  // this = outer applied after this

  std::vector<int32_t> prefix_, suffix_;
};

}  // namespace diffuse::text
