// A SentencePiece model (spiece.model: a serialized ModelProto holding the pieces, their
// scores, the normalizer and the special-token ids), run through libsentencepiece. This is
// the plain text <-> id mapping; model conventions (T5's EOS and padding) live in the
// tokenizers built on it (text/t5_tokenizer.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace diffuse::text {

class SentencePieceTokenizer {
 public:
  // Reads and validates a model file. Errors (diffuse::Error) name the path: a missing or
  // unreadable file, or bytes that are not a valid SentencePiece model.
  static SentencePieceTokenizer from_file(const std::string& path);
  // A model already in memory; `label` names its origin in errors.
  static SentencePieceTokenizer from_serialized(const std::string& bytes, const std::string& label);

  SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept;
  SentencePieceTokenizer& operator=(SentencePieceTokenizer&&) noexcept;
  ~SentencePieceTokenizer();

  const std::string& origin() const { return origin_; }

  // Normalizes and segments `text` (no special tokens are added); unknown characters map to
  // unk_id().
  std::vector<int32_t> encode(const std::string& text) const;
  std::vector<std::string> encode_pieces(const std::string& text) const;
  // Inverse of encode; control ids (pad, eos, bos) produce no text. Ids outside
  // [0, vocab_size()) are an error.
  std::string decode(const std::vector<int32_t>& ids) const;

  int32_t vocab_size() const;
  // -1 when the model does not define the token.
  int32_t pad_id() const;
  int32_t eos_id() const;
  int32_t bos_id() const;
  int32_t unk_id() const;
  // Id of a piece, or unk_id() if it is not in the vocabulary.
  int32_t piece_to_id(const std::string& piece) const;
  const std::string& id_to_piece(int32_t id) const;  // checks the range

 private:
  SentencePieceTokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp, std::string origin);
  void check_id(int32_t id) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string origin_;
};

}  // namespace diffuse::text
