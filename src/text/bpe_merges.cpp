#include "text/bpe_merges.h"

#include <algorithm>
#include <mutex>
#include <queue>

#include "io/printable.h"
#include "runtime/error.h"
#include "text/utf8_codec.h"

namespace diffuse::text {

namespace {

// Pieces at least this long are not cached: they rarely repeat and would crowd the cache.
constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kCacheCapacity = 10000;

// Ids beyond this multiple of the entry count would make the id -> token table mostly
// holes; real vocabularies are dense, so such a file is malformed (or hostile).
constexpr int64_t kMaxIdSlack = 1 << 16;

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

struct BpeModel::WordCache {
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> words;
};

BpeModel::BpeModel() : cache_(std::make_unique<WordCache>()) {}
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;
BpeModel::~BpeModel() = default;

BpeModel BpeModel::build(std::vector<std::pair<std::string, int32_t>> vocab,
                         const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
                         const std::string& context) {
  BpeModel m;
  m.options_ = std::move(options);
  m.token_to_id_.reserve(vocab.size());
  int64_t max_id = -1;
  for (auto& [token, id] : vocab) {
    DIFFUSE_CHECK(id >= 0, context, ": vocab['", io::printable(token), "'] has negative id ", id);
    max_id = std::max<int64_t>(max_id, id);
    DIFFUSE_CHECK(max_id < static_cast<int64_t>(vocab.size()) + kMaxIdSlack, context, ": vocab['",
                  io::printable(token), "'] has id ", id, ", far beyond the ", vocab.size(), " entries");
    const auto [it, inserted] = m.token_to_id_.emplace(std::move(token), id);
    DIFFUSE_CHECK(inserted, context, ": vocab lists token '", io::printable(it->first), "' twice");
  }
  m.id_to_token_.assign(static_cast<size_t>(max_id + 1), nullptr);
  for (const auto& [token, id] : m.token_to_id_) {
    const std::string*& slot = m.id_to_token_[static_cast<size_t>(id)];
    DIFFUSE_CHECK(slot == nullptr, context, ": vocab gives id ", id, " to both '", io::printable(*slot),
                  "' and '", io::printable(token), "'");
    slot = &token;
  }

  if (m.options_.unk_token) {
    const auto unk = m.token_to_id(*m.options_.unk_token);
    DIFFUSE_CHECK(unk.has_value(), context, ": unk_token '", io::printable(*m.options_.unk_token),
                  "' is not in the vocabulary");
    m.unk_id_ = unk;
  }

  const size_t prefix_len = m.options_.continuing_subword_prefix.size();
  m.merges_.reserve(merges.size());
  std::string merged;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const auto a = m.token_to_id(left), b = m.token_to_id(right);
    DIFFUSE_CHECK(a && b, context, ": merges[", rank, "] ('", io::printable(left), "' '", io::printable(right),
                  "') uses a token that is not in the vocabulary");
    // The merged token drops the right side's continuing-subword prefix ("a" + "##b" -> "ab").
    const bool has_prefix = prefix_len > 0 && right.compare(0, prefix_len, m.options_.continuing_subword_prefix) == 0;
    merged.assign(left).append(right, has_prefix ? prefix_len : 0, std::string::npos);
    const auto c = m.token_to_id(merged);
    DIFFUSE_CHECK(c.has_value(), context, ": merges[", rank, "] ('", io::printable(left), "' '",
                  io::printable(right), "') makes '", io::printable(merged), "', which is not in the vocabulary");
    // A repeated pair keeps its last rank, as the reference's map construction does.
    m.merges_.insert_or_assign(pair_key(*a, *b), Merge{static_cast<int32_t>(rank), *c});
  }
  return m;
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  const auto it = token_to_id_.find(token);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return nullptr;
  return id_to_token_[static_cast<size_t>(id)];
}

std::optional<BpeModel::Merge> BpeModel::find_merge(int32_t left, int32_t right) const {
  const auto it = merges_.find(pair_key(left, right));
  if (it == merges_.end()) return std::nullopt;
  return it->second;
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const auto id = token_to_id(word)) {
      out.push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() < kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    const auto it = cache_->words.find(word);
    if (it != cache_->words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->words.size() < kCacheCapacity)
      cache_->words.emplace(std::string(word), std::vector<int32_t>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  // 1. Characters -> initial symbols.
  std::vector<int32_t> ids;
  std::optional<int32_t> pending_unk;  // an unk not yet emitted (so that fuse_unk can extend it)
  std::string piece;
  for (size_t pos = 0; pos < word.size();) {
    const size_t len = decode_utf8_at(word, pos).length;
    piece.clear();
    if (pos > 0) piece += options_.continuing_subword_prefix;
    piece.append(word.substr(pos, len));
    pos += len;
    if (pos == word.size()) piece += options_.end_of_word_suffix;

    if (const auto id = token_to_id(piece)) {
      if (pending_unk) ids.push_back(*std::exchange(pending_unk, std::nullopt));
      ids.push_back(*id);
      continue;
    }
    if (options_.byte_fallback) {
      std::vector<int32_t> bytes;
      for (unsigned char b : piece) {
        static const char* hex = "0123456789ABCDEF";
        const char name[] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        const auto id = token_to_id(std::string_view(name, sizeof(name)));
        if (!id) break;
        bytes.push_back(*id);
      }
      if (bytes.size() == piece.size()) {
        ids.insert(ids.end(), bytes.begin(), bytes.end());
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk && !options_.fuse_unk) ids.push_back(*pending_unk);
      pending_unk = unk_id_;
    }
  }
  if (pending_unk) ids.push_back(*pending_unk);

  // 2. Merge loop over a linked list of symbols, lowest (rank, position) first. Queue
  // entries made stale by an earlier merge are recognised and skipped when popped.
  struct Symbol {
    int32_t id, prev, next;
    bool alive;
  };
  struct Candidate {
    int32_t rank, pos, new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const int32_t n = static_cast<int32_t>(ids.size());
  std::vector<Symbol> sym(ids.size());
  for (int32_t i = 0; i < n; ++i) sym[static_cast<size_t>(i)] = {ids[static_cast<size_t>(i)], i - 1, i + 1 < n ? i + 1 : -1, true};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto consider = [&](int32_t left) {
    const int32_t right = sym[static_cast<size_t>(left)].next;
    if (right < 0) return;
    if (const auto m = find_merge(sym[static_cast<size_t>(left)].id, sym[static_cast<size_t>(right)].id))
      queue.push({m->rank, left, m->new_id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = sym[static_cast<size_t>(c.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = sym[static_cast<size_t>(left.next)];
    const auto m = find_merge(left.id, right.id);
    if (!m || m->new_id != c.new_id) continue;
    left.id = c.new_id;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0) sym[static_cast<size_t>(left.next)].prev = c.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(c.pos);
  }
  for (int32_t i = 0; i >= 0 && i < n; i = sym[static_cast<size_t>(i)].next) out.push_back(sym[static_cast<size_t>(i)].id);
}

}  // namespace diffuse::text
