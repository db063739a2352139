// A tiny T5-style SentencePiece unigram model trained by the test itself (no real
// spiece.model can be shipped): pad 0, eos 1 (or as given), unk 2, no bos.
#pragma once

#include <sentencepiece_trainer.h>

#include <string>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

namespace diffuse::testing {

inline const std::vector<std::string>& spiece_training_sentences() {
  static const std::vector<std::string> s = {
      "a photo of a cat sitting on a red chair",
      "a painting of a mountain lake at sunset",
      "an astronaut riding a horse on the moon",
      "a close up photo of a dog wearing sunglasses",
      "a watercolor painting of a small town in the rain",
      "the cat and the dog are sleeping on the sofa",
      "a bowl of fruit on a wooden table, studio lighting",
      "portrait of an old man with a white beard",
      "a futuristic city skyline at night with neon lights",
      "a cup of coffee next to an open book",
      "two birds sitting on a branch in winter",
      "a red car parked in front of a blue house",
      "highly detailed illustration of a dragon flying over the sea",
      "a child playing with a kite on the beach",
      "a bright green forest path in the morning fog",
  };
  return s;
}

// Serialized unigram model (vocabulary of at most ~150 pieces).
inline std::string train_tiny_spiece(int eos_id = 1) {
  class Sentences : public sentencepiece::SentenceIterator {
   public:
    explicit Sentences(std::vector<std::string> s) : s_(std::move(s)) {}
    bool done() const override { return i_ >= s_.size(); }
    void Next() override { ++i_; }
    const std::string& value() const override { return s_[i_]; }
    sentencepiece::util::Status status() const override { return {}; }

   private:
    std::vector<std::string> s_;
    size_t i_ = 0;
  };
  // The corpus is repeated so the unigram trainer sees enough sentences to reach its size.
  std::vector<std::string> corpus;
  for (int r = 0; r < 20; ++r)
    for (const auto& s : spiece_training_sentences()) corpus.push_back(s);
  Sentences it(corpus);
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", "unigram"}, {"vocab_size", "150"},       {"hard_vocab_limit", "false"},
      {"pad_id", "0"},           {"eos_id", std::to_string(eos_id)},
      {"unk_id", "2"},           {"bos_id", "-1"},             {"character_coverage", "1.0"},
      {"num_threads", "1"},      {"minloglevel", "2"},
  };
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return model;
}

}  // namespace diffuse::testing
