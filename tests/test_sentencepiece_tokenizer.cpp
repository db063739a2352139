// SentencePiece + T5 tokenizer conventions. No real spiece.model is available offline, so
// the tests train a small unigram model with T5's special-token layout (pad 0, eos 1,
// unk 2, no bos) and check the T5 rules against the model's own segmentation: EOS appended,
// truncation keeps the EOS last, right padding with the pad id, mask over pieces + EOS,
// decode inverting encode, and clear errors for missing or damaged model files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_safetensors_helpers.h"
#include "tiny_spiece.h"
#include "text/sentencepiece_tokenizer.h"
#include "text/t5_tokenizer.h"

namespace diffuse::text {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::ScratchDir;

class SentencePieceTest : public ::testing::Test {
 protected:
  // One model for the suite: training takes a noticeable fraction of a second.
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    fs::create_directories(path("tokenizer"));
    serialized_ = new std::string(testing::train_tiny_spiece(1));
    write("tokenizer/spiece.model", *serialized_);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete serialized_;
  }
  static std::string path(const std::string& name) { return *dir_ / name; }
  static void write(const std::string& name, const std::string& bytes) { testing::write_text(path(name), bytes); }
  static T5Tokenizer t5() { return T5Tokenizer::from_folder(path("tokenizer")); }

  static ScratchDir* dir_;
  static std::string* serialized_;
};
ScratchDir* SentencePieceTest::dir_ = nullptr;
std::string* SentencePieceTest::serialized_ = nullptr;

// Pieces joined with the SentencePiece word marker turned back into spaces.
std::string join_pieces(const SentencePieceTokenizer& sp, const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += sp.id_to_piece(id);
  std::string out;
  const std::string marker = "\xE2\x96\x81";  // U+2581
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, marker.size(), marker) == 0) {
      out += ' ';
      i += marker.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

TEST_F(SentencePieceTest, SpecialIdsFollowT5Layout) {
  const T5Tokenizer tok = t5();
  const auto& sp = tok.model();
  EXPECT_EQ(sp.pad_id(), 0);
  EXPECT_EQ(sp.eos_id(), 1);
  EXPECT_EQ(sp.unk_id(), 2);
  EXPECT_EQ(sp.bos_id(), -1);
  EXPECT_GT(sp.vocab_size(), 50);
  EXPECT_LE(sp.vocab_size(), 150);
  EXPECT_EQ(sp.id_to_piece(1), "</s>");
  EXPECT_EQ(sp.piece_to_id("</s>"), 1);
  EXPECT_EQ(sp.piece_to_id("no-such-piece"), sp.unk_id());
}

TEST_F(SentencePieceTest, EncodeSegmentsTextAndDecodeInvertsIt) {
  const auto sp = SentencePieceTokenizer::from_file(path("tokenizer/spiece.model"));
  for (const std::string text : {"a cat on a red chair", "the dog and the dragon over the lake",
                                 "a photo of an astronaut, studio lighting"}) {
    const std::vector<int32_t> ids = sp.encode(text);
    ASSERT_FALSE(ids.empty());
    for (int32_t id : ids) {
      EXPECT_GE(id, 3) << "control or unknown id in the segmentation of '" << text << "'";
      EXPECT_LT(id, sp.vocab_size());
    }
    // The pieces spell the text with a leading word marker (the "dummy prefix").
    EXPECT_EQ(join_pieces(sp, ids), " " + text);
    EXPECT_EQ(sp.encode_pieces(text).size(), ids.size());
    EXPECT_EQ(sp.decode(ids), text);
  }
  // Normalization: runs of spaces collapse, so decode gives the normalized text.
  EXPECT_EQ(sp.decode(sp.encode("  a   cat  ")), "a cat");
  // A character never seen in training is unknown.
  const std::vector<int32_t> unk = sp.encode("cat \xE2\x82\xAC");  // euro sign
  EXPECT_NE(std::find(unk.begin(), unk.end(), sp.unk_id()), unk.end());
}

TEST_F(SentencePieceTest, T5AppendsEosAndPadsToMaxLength) {
  const T5Tokenizer tok = t5();
  const std::string text = "a red car in front of a blue house";
  const std::vector<int32_t> pieces = tok.model().encode(text);
  const int64_t n = static_cast<int64_t>(pieces.size());
  const int64_t L = n + 7;

  const std::vector<int32_t> ids = tok.encode(text, L);
  ASSERT_EQ(static_cast<int64_t>(ids.size()), n + 1);
  EXPECT_TRUE(std::equal(pieces.begin(), pieces.end(), ids.begin()));
  EXPECT_EQ(ids.back(), 1);

  const TokenBatch batch = tok({text}, L);
  ASSERT_EQ(batch.input_ids.shape(), (Shape{1, L}));
  ASSERT_EQ(batch.attention_mask.shape(), (Shape{1, L}));
  EXPECT_EQ(batch.input_ids.dtype(), DType::I64);
  EXPECT_EQ(batch.attention_mask.dtype(), DType::I64);
  for (int64_t j = 0; j < L; ++j) {
    const int64_t want_id = j < n ? pieces[static_cast<size_t>(j)] : (j == n ? 1 : 0);
    EXPECT_EQ(batch.input_ids.item({0, j}), want_id) << "position " << j;
    EXPECT_EQ(batch.attention_mask.item({0, j}), j <= n ? 1 : 0) << "position " << j;
  }
  // Decoding the padded row gives back the text: EOS and pad are control tokens.
  std::vector<int32_t> row;
  for (int64_t j = 0; j < L; ++j) row.push_back(static_cast<int32_t>(batch.input_ids.item({0, j})));
  EXPECT_EQ(tok.model().decode(row), text);
}

TEST_F(SentencePieceTest, T5TruncationKeepsEosLast) {
  const T5Tokenizer tok = t5();
  const std::string text = "highly detailed illustration of a dragon flying over the sea at sunset";
  const std::vector<int32_t> pieces = tok.model().encode(text);
  ASSERT_GT(pieces.size(), 8u);
  for (int64_t L : {int64_t{1}, int64_t{2}, int64_t{8}, static_cast<int64_t>(pieces.size()),
                    static_cast<int64_t>(pieces.size()) + 1}) {
    const TokenBatch b = tok({text}, L);
    ASSERT_EQ(b.input_ids.shape(), (Shape{1, L}));
    const int64_t kept = std::min<int64_t>(L - 1, static_cast<int64_t>(pieces.size()));
    for (int64_t j = 0; j < kept; ++j) EXPECT_EQ(b.input_ids.item({0, j}), pieces[static_cast<size_t>(j)]);
    EXPECT_EQ(b.input_ids.item({0, kept}), 1) << "EOS after " << kept << " pieces, max_length " << L;
    for (int64_t j = 0; j < L; ++j) EXPECT_EQ(b.attention_mask.item({0, j}), j <= kept ? 1 : 0);
  }
  expect_error([&] { tok({text}, 0); }, {"max_length"});
}

TEST_F(SentencePieceTest, T5BatchRowsAreIndependentAndEmptyPromptIsEos) {
  const T5Tokenizer tok = t5();
  const std::vector<std::string> prompts = {"a cat", "", "a bowl of fruit on a wooden table"};
  const int64_t L = 16;
  const TokenBatch b = tok(prompts, L);
  ASSERT_EQ(b.input_ids.shape(), (Shape{3, L}));
  for (size_t r = 0; r < prompts.size(); ++r) {
    const std::vector<int32_t> want = tok.encode(prompts[r], L);
    int64_t mask_sum = 0;
    for (int64_t j = 0; j < L; ++j) {
      const int64_t w = j < static_cast<int64_t>(want.size()) ? want[static_cast<size_t>(j)] : 0;
      EXPECT_EQ(b.input_ids.item({static_cast<int64_t>(r), j}), w) << "row " << r << " position " << j;
      mask_sum += static_cast<int64_t>(b.attention_mask.item({static_cast<int64_t>(r), j}));
    }
    EXPECT_EQ(mask_sum, static_cast<int64_t>(want.size())) << "row " << r;
  }
  EXPECT_EQ(tok.encode("", L), (std::vector<int32_t>{1}));
}

TEST_F(SentencePieceTest, MissingOrDamagedModelFilesAreClearErrors) {
  const std::string missing = path("nope/spiece.model");
  expect_error([&] { SentencePieceTokenizer::from_file(missing); }, {missing});
  expect_error([&] { T5Tokenizer::from_folder(path("nope")); }, {path("nope"), "spiece.model"});

  write("empty.model", "");
  write("garbage.model", std::string("\x12\x34 this is not a protobuf \xff\xfe\x00\x01", 30));
  write("truncated.model", serialized_->substr(0, serialized_->size() / 2));
  for (const std::string name : {"empty.model", "garbage.model", "truncated.model"}) {
    const std::string p = path(name);
    expect_error([&] { SentencePieceTokenizer::from_file(p); }, {p, "model"});
  }
  // A directory where the file should be.
  expect_error([&] { SentencePieceTokenizer::from_file(path("tokenizer")); }, {path("tokenizer")});
}

TEST_F(SentencePieceTest, ModelWithoutEosIsRejectedForT5) {
  auto sp = SentencePieceTokenizer::from_serialized(testing::train_tiny_spiece(-1), "no-eos model");
  EXPECT_EQ(sp.eos_id(), -1);
  expect_error([&] { T5Tokenizer t(std::move(sp)); }, {"no-eos model", "EOS"});
}

TEST_F(SentencePieceTest, DecodeRejectsIdsOutsideVocabulary) {
  const T5Tokenizer tok = t5();
  const int32_t v = tok.model().vocab_size();
  expect_error([&] { tok.model().decode({3, v}); }, {"token id " + std::to_string(v), "outside the vocabulary"});
  expect_error([&] { tok.model().decode({-1}); }, {"token id -1", "outside the vocabulary"});
}

}  // namespace
}  // namespace diffuse::text
