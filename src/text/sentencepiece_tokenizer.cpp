#include "text/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <string_view>

#include "io/mapped_file.h"
#include "runtime/error.h"

namespace diffuse::text {

namespace {

// spiece.model files are well under 10 MB (T5: 0.8 MB); a far larger file is not one.
constexpr size_t kMaxModelBytes = size_t{1} << 30;

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp,
                                               std::string origin)
    : sp_(std::move(sp)), origin_(std::move(origin)) {}

SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer& SentencePieceTokenizer::operator=(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

SentencePieceTokenizer SentencePieceTokenizer::from_file(const std::string& path) {
  const auto file = io::MappedFile::open(path);
  DIFFUSE_CHECK(file->size() <= kMaxModelBytes, path, ": ", file->size(),
                " bytes is too large for a SentencePiece model");
  const std::string_view bytes(reinterpret_cast<const char*>(file->data()), file->size());
  return from_serialized(std::string(bytes), path);
}

SentencePieceTokenizer SentencePieceTokenizer::from_serialized(const std::string& bytes,
                                                               const std::string& label) {
  // An empty buffer parses as an empty ModelProto; reject it here with a clearer message.
  DIFFUSE_CHECK(!bytes.empty(), label, ": empty file, not a SentencePiece model");
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = sp->LoadFromSerializedProto(bytes);
  DIFFUSE_CHECK(status.ok(), label, ": not a valid SentencePiece model: ", status.ToString());
  DIFFUSE_CHECK(sp->GetPieceSize() > 0, label, ": SentencePiece model has no pieces");
  return SentencePieceTokenizer(std::move(sp), label);
}

std::vector<int32_t> SentencePieceTokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(text, &ids);
  DIFFUSE_CHECK(status.ok(), origin_, ": cannot encode text: ", status.ToString());
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::vector<std::string> SentencePieceTokenizer::encode_pieces(const std::string& text) const {
  std::vector<std::string> pieces;
  const auto status = sp_->Encode(text, &pieces);
  DIFFUSE_CHECK(status.ok(), origin_, ": cannot encode text: ", status.ToString());
  return pieces;
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids) const {
  for (int32_t id : ids) check_id(id);
  std::string text;
  const auto status = sp_->Decode(std::vector<int>(ids.begin(), ids.end()), &text);
  DIFFUSE_CHECK(status.ok(), origin_, ": cannot decode ids: ", status.ToString());
  return text;
}

int32_t SentencePieceTokenizer::vocab_size() const { return sp_->GetPieceSize(); }
int32_t SentencePieceTokenizer::pad_id() const { return sp_->pad_id(); }
int32_t SentencePieceTokenizer::eos_id() const { return sp_->eos_id(); }
int32_t SentencePieceTokenizer::bos_id() const { return sp_->bos_id(); }
int32_t SentencePieceTokenizer::unk_id() const { return sp_->unk_id(); }

int32_t SentencePieceTokenizer::piece_to_id(const std::string& piece) const { return sp_->PieceToId(piece); }

const std::string& SentencePieceTokenizer::id_to_piece(int32_t id) const {
  check_id(id);
  return sp_->IdToPiece(id);
}

void SentencePieceTokenizer::check_id(int32_t id) const {
  DIFFUSE_CHECK(id >= 0 && id < vocab_size(), origin_, ": token id ", id, " is outside the vocabulary [0, ",
                vocab_size(), ")");
}

}  // namespace diffuse::text
