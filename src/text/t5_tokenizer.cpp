#include "text/t5_tokenizer.h"

#include <filesystem>

#include "runtime/error.h"

namespace diffuse::text {

T5Tokenizer::T5Tokenizer(SentencePieceTokenizer model) : model_(std::move(model)) {
  DIFFUSE_CHECK(model_.pad_id() >= 0 && model_.eos_id() >= 0, model_.origin(),
                ": a T5 tokenizer needs pad and EOS tokens, the model defines pad id ", model_.pad_id(),
                " and eos id ", model_.eos_id());
}

T5Tokenizer T5Tokenizer::from_folder(const std::string& tokenizer_dir) {
  const std::filesystem::path path = std::filesystem::path(tokenizer_dir) / "spiece.model";
  std::error_code ec;
  DIFFUSE_CHECK(std::filesystem::is_regular_file(path, ec), tokenizer_dir,
                ": no spiece.model (the T5 tokenizer is read from the SentencePiece model file)");
  return T5Tokenizer(SentencePieceTokenizer::from_file(path.string()));
}

std::vector<int32_t> T5Tokenizer::encode(const std::string& text, int64_t max_length) const {
  DIFFUSE_CHECK(max_length >= 1, "T5 tokenizer: max_length ", max_length,
                " leaves no room for the EOS token");
  std::vector<int32_t> ids = model_.encode(text);
  // Truncation removes pieces from the end and keeps the EOS, like the reference's
  // truncation of the sequence before special tokens are added.
  if (static_cast<int64_t>(ids.size()) > max_length - 1) ids.resize(static_cast<size_t>(max_length - 1));
  ids.push_back(model_.eos_id());
  return ids;
}

TokenBatch T5Tokenizer::operator()(const std::vector<std::string>& prompts, int64_t max_length) const {
  DIFFUSE_CHECK(!prompts.empty(), "T5 tokenizer: no prompts");
  const int64_t batch = static_cast<int64_t>(prompts.size());
  TokenBatch out;
  out.input_ids = Tensor::empty({batch, max_length}, DType::I64);
  out.attention_mask = Tensor::zeros({batch, max_length}, DType::I64);
  int64_t* ids = out.input_ids.data_mut<int64_t>();
  int64_t* mask = out.attention_mask.data_mut<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    const std::vector<int32_t> row = encode(prompts[static_cast<size_t>(b)], max_length);
    for (int64_t j = 0; j < max_length; ++j) {
      const bool real = j < static_cast<int64_t>(row.size());
      ids[b * max_length + j] = real ? row[static_cast<size_t>(j)] : model_.pad_id();
      mask[b * max_length + j] = real ? 1 : 0;
    }
  }
  return out;
}

}  // namespace diffuse::text
