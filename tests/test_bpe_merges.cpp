// The BPE merge loop against an independent naive implementation (repeatedly merge every
// occurrence of the lowest-ranked adjacent pair, left to right) on random words and random
// merge tables, plus hand-made examples of each model option.
#include <gtest/gtest.h>

#include <climits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "text/bpe_merges.h"

namespace diffuse::text {
namespace {

using Vocab = std::vector<std::pair<std::string, int32_t>>;
using Merges = std::vector<std::pair<std::string, std::string>>;

BpeModel make(const std::vector<std::string>& tokens, const Merges& merges, BpeOptions options = {}) {
  Vocab vocab;
  for (size_t i = 0; i < tokens.size(); ++i) vocab.emplace_back(tokens[i], static_cast<int32_t>(i));
  return BpeModel::build(vocab, merges, std::move(options), "test");
}

std::vector<std::string> tokens_of(const BpeModel& m, const std::string& word) {
  std::vector<int32_t> ids;
  m.encode_word(word, ids);
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(*m.id_to_token(id));
  return out;
}

using Strings = std::vector<std::string>;

// The textbook formulation, sharing no code with BpeModel.
Strings naive_bpe(const std::string& word, const std::map<std::pair<std::string, std::string>, int>& ranks) {
  Strings s;
  for (char c : word) s.push_back(std::string(1, c));
  while (s.size() > 1) {
    int best = INT_MAX;
    std::pair<std::string, std::string> pair;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const auto it = ranks.find({s[i], s[i + 1]});
      if (it != ranks.end() && it->second < best) {
        best = it->second;
        pair = it->first;
      }
    }
    if (best == INT_MAX) break;
    Strings next;
    for (size_t i = 0; i < s.size();) {
      if (i + 1 < s.size() && s[i] == pair.first && s[i + 1] == pair.second) {
        next.push_back(s[i] + s[i + 1]);
        i += 2;
      } else {
        next.push_back(s[i++]);
      }
    }
    s = next;
  }
  return s;
}

TEST(BpeMerges, AgreesWithNaiveBpeOnRandomTables) {
  std::mt19937 rng(1234);
  for (int table = 0; table < 20; ++table) {
    // A merge table in training order: each merge joins two tokens that already exist.
    std::vector<std::string> tokens = {"a", "b", "c", "d"};
    std::set<std::string> known(tokens.begin(), tokens.end());
    Merges merges;
    std::map<std::pair<std::string, std::string>, int> ranks;
    while (merges.size() < 60) {
      const std::string& l = tokens[rng() % tokens.size()];
      const std::string& r = tokens[rng() % tokens.size()];
      if (l.size() + r.size() > 8 || known.count(l + r)) continue;
      ranks[{l, r}] = static_cast<int>(merges.size());
      merges.emplace_back(l, r);
      known.insert(l + r);
      tokens.push_back(l + r);
    }
    const BpeModel model = make(tokens, merges);
    for (int w = 0; w < 200; ++w) {
      std::string word;
      const size_t len = 1 + rng() % 40;
      for (size_t i = 0; i < len; ++i) word += static_cast<char>('a' + rng() % 4);
      ASSERT_EQ(tokens_of(model, word), naive_bpe(word, ranks)) << "table " << table << " word " << word;
      ASSERT_EQ(tokens_of(model, word), naive_bpe(word, ranks)) << "cached result differs for " << word;
    }
  }
}

TEST(BpeMerges, LowestRankFirstThenLeftmost) {
  const BpeModel bc_first = make({"a", "b", "c", "ab", "bc", "abc"}, {{"b", "c"}, {"a", "b"}, {"a", "bc"}});
  EXPECT_EQ(tokens_of(bc_first, "abc"), (Strings{"abc"}));
  const BpeModel ab_only = make({"a", "b", "c", "ab", "bc"}, {{"a", "b"}, {"b", "c"}});
  EXPECT_EQ(tokens_of(ab_only, "abc"), (Strings{"ab", "c"}));
  const BpeModel aa = make({"a", "aa"}, {{"a", "a"}});
  EXPECT_EQ(tokens_of(aa, "aaa"), (Strings{"aa", "a"}));
  EXPECT_EQ(tokens_of(aa, "aaaaa"), (Strings{"aa", "aa", "a"}));
  // A pair listed twice keeps its last rank (as the reference's map construction does).
  const BpeModel repeated = make({"a", "b", "c", "ab", "bc"}, {{"a", "b"}, {"b", "c"}, {"a", "b"}});
  EXPECT_EQ(tokens_of(repeated, "abc"), (Strings{"a", "bc"}));
}

TEST(BpeMerges, MultiByteCharactersAreSymbols) {
  const BpeModel m = make({"é", "t", "ét", "é中", "中"}, {{"é", "t"}});
  EXPECT_EQ(tokens_of(m, "été"), (Strings{"ét", "é"}));
  EXPECT_EQ(tokens_of(m, "中é"), (Strings{"中", "é"}));
}

TEST(BpeMerges, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  BpeOptions options;
  options.ignore_merges = true;
  const std::vector<std::string> tokens = {"a", "b", "c", "ab", "abc"};
  EXPECT_EQ(tokens_of(make(tokens, {{"a", "b"}}, options), "abc"), (Strings{"abc"}));
  EXPECT_EQ(tokens_of(make(tokens, {{"a", "b"}}), "abc"), (Strings{"ab", "c"}));
}

TEST(BpeMerges, UnknownCharactersFallBackToBytesUnkOrNothing) {
  BpeOptions bytes;
  bytes.byte_fallback = true;
  const BpeModel fb = make({"a", "<0xC3>", "<0xA9>"}, {}, bytes);
  EXPECT_EQ(tokens_of(fb, "aé"), (Strings{"a", "<0xC3>", "<0xA9>"}));

  BpeOptions unk;
  unk.unk_token = "<unk>";
  const BpeModel u = make({"a", "<unk>"}, {}, unk);
  EXPECT_EQ(tokens_of(u, "axya"), (Strings{"a", "<unk>", "<unk>", "a"}));
  unk.fuse_unk = true;
  const BpeModel fused = make({"a", "<unk>"}, {}, unk);
  EXPECT_EQ(tokens_of(fused, "axya"), (Strings{"a", "<unk>", "a"}));

  const BpeModel none = make({"a"}, {});
  EXPECT_EQ(tokens_of(none, "axa"), (Strings{"a", "a"}));  // dropped, as the reference does
  // Byte fallback needs every byte token; otherwise the unk token.
  unk.fuse_unk = false;
  unk.byte_fallback = true;
  const BpeModel partial = make({"a", "<unk>", "<0xC3>"}, {}, unk);
  EXPECT_EQ(tokens_of(partial, "é"), (Strings{"<unk>"}));
}

TEST(BpeMerges, SuffixAndPrefixMarkWordPositions) {
  BpeOptions suffix;
  suffix.end_of_word_suffix = "</w>";
  const BpeModel clip = make({"a", "b", "a</w>", "b</w>", "ab</w>", "ba"}, {{"a", "b</w>"}, {"b", "a"}}, suffix);
  EXPECT_EQ(tokens_of(clip, "ab"), (Strings{"ab</w>"}));
  EXPECT_EQ(tokens_of(clip, "bab"), (Strings{"b", "ab</w>"}));  // (a, b</w>) has rank 0, (b, a) rank 1
  EXPECT_EQ(tokens_of(clip, "ba"), (Strings{"b", "a</w>"}));    // "a" is last: it is "a</w>", no merge
  BpeOptions prefix;
  prefix.continuing_subword_prefix = "##";
  const BpeModel wp = make({"a", "##b", "ab", "##a"}, {{"a", "##b"}}, prefix);
  EXPECT_EQ(tokens_of(wp, "ab"), (Strings{"ab"}));  // "a" + "##b" merges into "ab"
  EXPECT_EQ(tokens_of(wp, "aa"), (Strings{"a", "##a"}));
}

TEST(BpeMerges, ConcurrentEncodingMatchesSerialEncoding) {
  const BpeModel m = make({"a", "b", "ab", "abb", "ba"}, {{"a", "b"}, {"ab", "b"}, {"b", "a"}});
  std::vector<std::string> words;
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    std::string w;
    for (size_t n = 1 + rng() % 12; n > 0; --n) w += (rng() & 1) ? 'a' : 'b';
    words.push_back(w);
  }
  std::vector<Strings> serial;
  for (const auto& w : words) serial.push_back(naive_bpe(w, {{{"a", "b"}, 0}, {{"ab", "b"}, 1}, {{"b", "a"}, 2}}));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < words.size(); ++i)
        if (tokens_of(m, words[(i + static_cast<size_t>(t) * 97) % words.size()]) !=
            serial[(i + static_cast<size_t>(t) * 97) % words.size()])
          ++mismatches[static_cast<size_t>(t)];
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, (std::vector<int>{0, 0, 0, 0}));
}

TEST(BpeMerges, BuildValidatesTheTables) {
  EXPECT_THROW(make({"a", "b"}, {{"a", "b"}}), Error);          // "ab" missing
  EXPECT_THROW(make({"a", "ab"}, {{"a", "b"}}), Error);         // "b" missing
  EXPECT_THROW(BpeModel::build({{"a", 0}, {"a", 1}}, {}, {}, "t"), Error);   // token twice
  EXPECT_THROW(BpeModel::build({{"a", 0}, {"b", 0}}, {}, {}, "t"), Error);   // id twice
  EXPECT_THROW(BpeModel::build({{"a", -1}}, {}, {}, "t"), Error);
  EXPECT_THROW(BpeModel::build({{"a", 1 << 30}}, {}, {}, "t"), Error);       // absurdly sparse ids
  BpeOptions unk;
  unk.unk_token = "<unk>";
  EXPECT_THROW(make({"a"}, {}, unk), Error);
  const BpeModel holes = BpeModel::build({{"a", 0}, {"b", 5}}, {}, {}, "t");
  EXPECT_EQ(holes.max_id(), 5);
  EXPECT_EQ(holes.id_to_token(3), nullptr);
  EXPECT_EQ(*holes.id_to_token(5), "b");
}

}  // namespace
}  // namespace diffuse::text
