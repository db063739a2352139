// The BPE model of a tokenizer.json ("model": {"type": "BPE", ...}): a vocabulary, ranked
// merges, and the merge loop that turns one pre-tokenized piece into ids.
//
// Each piece is split into characters (continuing_subword_prefix on all but the first,
// end_of_word_suffix on the last); characters missing from the vocabulary become byte
// tokens "<0xAB>" (byte_fallback) or the unk token (fused when fuse_unk) or are dropped
// when neither exists, as in the reference. Then the adjacent pair with the lowest merge
// rank is merged, leftmost first, until no pair has a merge. A priority queue over the
// pairs keeps this O(n log n) in the piece length; results for pieces shorter than 256
// bytes are cached (thread-safe), because real text repeats its words.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace diffuse::text {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;  // a piece that is itself in the vocabulary skips the merges
};

class BpeModel {
 public:
  // Validates and indexes the model. `vocab` maps tokens to ids (ids >= 0, each token and
  // id at most once); `merges` are (left, right) token pairs in rank order. Both sides of a
  // merge and their concatenation (the right side without continuing_subword_prefix) must
  // be in the vocabulary. Errors name `context` and the offending entry.
  static BpeModel build(std::vector<std::pair<std::string, int32_t>> vocab,
                        const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
                        const std::string& context);

  BpeModel(BpeModel&&) noexcept;
  BpeModel& operator=(BpeModel&&) noexcept;
  ~BpeModel();

  // Appends the ids of one piece (characters of a UTF-8 string).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(int32_t id) const;  // nullptr if no vocabulary entry has this id
  int32_t max_id() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }  // -1 if empty
  size_t vocab_entries() const { return token_to_id_.size(); }
  size_t merge_count() const { return merges_.size(); }
  const BpeOptions& options() const { return options_; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  struct WordCache;

  BpeModel();
  std::optional<Merge> find_merge(int32_t left, int32_t right) const;
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> token_to_id_;
  std::vector<const std::string*> id_to_token_;  // into token_to_id_'s keys (stable addresses)
  std::unordered_map<uint64_t, Merge> merges_;    // key: left id << 32 | right id
  BpeOptions options_;
  std::optional<int32_t> unk_id_;
  std::unique_ptr<WordCache> cache_;
};

}  // namespace diffuse::text
