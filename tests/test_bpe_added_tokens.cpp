// Added-token matching (leftmost-longest, normalized / raw, lstrip / rstrip / single_word),
// post-processor templates and the ByteLevel decoder, on hand-made examples.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/json_config.h"
#include "runtime/error.h"
#include "text/added_tokens.h"
#include "text/post_processor.h"
#include "text/token_decoder.h"

namespace diffuse::text {
namespace {

AddedToken token(int32_t id, const std::string& content) {
  AddedToken t;
  t.id = id;
  t.content = content;
  t.special = true;
  return t;
}

// The segments as "text" or "#id:covered text".
std::vector<std::string> show(const AddedVocabulary& v, const std::string& text, bool normalized = false) {
  std::vector<std::string> out;
  for (const TextSegment& s : v.split(text, normalized)) {
    const std::string covered = text.substr(s.begin, s.end - s.begin);
    out.push_back(s.token_id < 0 ? covered : "#" + std::to_string(s.token_id) + ":" + covered);
  }
  return out;
}

using Strings = std::vector<std::string>;

TEST(BpeAddedTokens, LeftmostLongestNonOverlapping) {
  AddedVocabulary v;
  v.add(token(1, "ab"), "t");
  v.add(token(2, "abc"), "t");
  v.add(token(3, "bcd"), "t");
  EXPECT_EQ(show(v, "xabcd"), (Strings{"x", "#2:abc", "d"}));  // bcd overlaps the earlier match
  EXPECT_EQ(show(v, "abab"), (Strings{"#1:ab", "#1:ab"}));
  EXPECT_EQ(show(v, "xbcdx"), (Strings{"x", "#3:bcd", "x"}));
  EXPECT_EQ(show(v, ""), Strings{});
  EXPECT_EQ(show(v, "none here"), (Strings{"none here"}));
}

TEST(BpeAddedTokens, NormalizedTokensMatchOnlyInTheirPass) {
  AddedVocabulary v;
  AddedToken n = token(1, "<n>");
  n.normalized = true;
  v.add(n, "t");
  v.add(token(2, "<r>"), "t");
  EXPECT_EQ(show(v, "<n><r>", false), (Strings{"<n>", "#2:<r>"}));
  EXPECT_EQ(show(v, "<n><r>", true), (Strings{"#1:<n>", "<r>"}));
}

TEST(BpeAddedTokens, StripFlagsSwallowNeighbouringWhitespace) {
  AddedVocabulary v;
  AddedToken m = token(7, "<m>");
  m.lstrip = m.rstrip = true;
  v.add(m, "t");
  EXPECT_EQ(show(v, "a \t<m>\u3000 b"), (Strings{"a", "#7: \t<m>\u3000 ", "b"}));
  // The second token's lstrip cannot reach back into what the first one swallowed.
  EXPECT_EQ(show(v, "<m> <m>"), (Strings{"#7:<m> ", "#7:<m>"}));
}

TEST(BpeAddedTokens, SingleWordTokensNeedWordBoundaries) {
  AddedVocabulary v;
  AddedToken w = token(5, "ab");
  w.single_word = true;
  v.add(w, "t");
  EXPECT_EQ(show(v, "ab cd"), (Strings{"#5:ab", " cd"}));
  EXPECT_EQ(show(v, "x ab!"), (Strings{"x ", "#5:ab", "!"}));
  EXPECT_EQ(show(v, "xab"), (Strings{"xab"}));
  EXPECT_EQ(show(v, "ab_"), (Strings{"ab_"}));   // '_' is a word character
  EXPECT_EQ(show(v, "éab"), (Strings{"éab"}));   // so are non-ASCII letters
}

TEST(BpeAddedTokens, DeclarationsMustAgree) {
  AddedVocabulary v;
  v.add(token(1, "<s>"), "t");
  v.add(token(1, "<s>"), "t");  // the same declaration again (tokenizer.json and config)
  EXPECT_EQ(v.tokens().size(), 1u);
  EXPECT_THROW(v.add(token(1, "<x>"), "t"), Error);
  EXPECT_THROW(v.add(token(2, "<s>"), "t"), Error);
  EXPECT_THROW(v.add(token(3, ""), "t"), Error);
  EXPECT_THROW(v.add(token(-4, "<y>"), "t"), Error);
  EXPECT_EQ(v.find_content("<s>")->id, 1);
  EXPECT_EQ(v.find_id(1)->content, "<s>");
  EXPECT_EQ(v.find_id(2), nullptr);
  EXPECT_EQ(v.max_id(), 1);
}

PostProcessor post(const char* spec) { return PostProcessor::from_json(io::Json::parse(spec), "tok.json"); }

TEST(BpePostProcessor, TemplateRobertaAndSequence) {
  const PostProcessor tmpl = post(R"({"type":"TemplateProcessing",
      "single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},
                {"SpecialToken":{"id":"</s>","type_id":0}}],
      "pair":[],
      "special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]},"</s>":{"id":"</s>","ids":[2],"tokens":["</s>"]}}})");
  EXPECT_EQ(tmpl.apply({10, 11}), (std::vector<int32_t>{1, 10, 11, 2}));
  EXPECT_EQ(tmpl.added_count(), 2u);
  const PostProcessor roberta = post(R"({"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0]})");
  EXPECT_EQ(roberta.apply({}), (std::vector<int32_t>{0, 2}));
  const PostProcessor seq = post(R"({"type":"Sequence","processors":[{"type":"ByteLevel"},
      {"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|bos|>"}},{"Sequence":{"id":"A"}}],
       "special_tokens":{"<|bos|>":{"id":"<|bos|>","ids":[9]}}}]})");
  EXPECT_EQ(seq.apply({5}), (std::vector<int32_t>{9, 5}));
  EXPECT_TRUE(post("null").empty());
  EXPECT_TRUE(post(R"({"type":"ByteLevel","add_prefix_space":false})").empty());
  EXPECT_EQ(PostProcessor::wrap(1, std::nullopt).apply({7}), (std::vector<int32_t>{1, 7}));
}

TEST(BpePostProcessor, MalformedTemplatesAreErrors) {
  EXPECT_THROW(post(R"({"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}},{"Sequence":{"id":"A"}}],
                        "special_tokens":{}})"),
               Error);  // <s> undefined
  EXPECT_THROW(post(R"({"type":"TemplateProcessing","single":[],"special_tokens":{}})"), Error);  // no A
  EXPECT_THROW(post(R"({"type":"TemplateProcessing","single":[{"Sequence":{"id":"B"}}]})"), Error);
  EXPECT_THROW(post(R"({"type":"RobertaProcessing","sep":["</s>",-2],"cls":["<s>",0]})"), Error);
  EXPECT_THROW(post(R"({"type":"RobertaProcessing","sep":"</s>","cls":["<s>",0]})"), Error);
  EXPECT_THROW(post(R"({"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}},{"Sequence":{"id":"A"}}],
                        "special_tokens":{"<s>":{"ids":["1"]}}})"),
               Error);
  EXPECT_THROW(post(R"({"type":"BertPreTokenizer"})"), Error);
}

TEST(BpeDecoder, ByteLevelAndPlain) {
  const TokenDecoder byte_level = TokenDecoder::from_json(io::Json::parse(R"({"type":"ByteLevel"})"), "t");
  EXPECT_EQ(byte_level.decode({"Ġhello", "Ġworld", "Ċ"}), " hello world\n");
  // A token with characters outside the byte alphabet contributes its own UTF-8.
  EXPECT_EQ(byte_level.decode({"<｜end｜>", "Ġok"}), "<｜end｜> ok");
  EXPECT_EQ(byte_level.decode({"Ã"}), "\xEF\xBF\xBD");  // byte C3 alone: a cut character
  EXPECT_EQ(byte_level.decode({"Ã", "©"}), "é");       // C3 A9
  const TokenDecoder plain = TokenDecoder::from_json(io::Json(), "t");
  EXPECT_EQ(plain.decode({"a", "b"}), "a b");
  EXPECT_THROW(TokenDecoder::from_json(io::Json::parse(R"({"type":"WordPiece"})"), "t"), Error);
}

}  // namespace
}  // namespace diffuse::text
