// The text stages of the BPE tokenizer checked against hand-computed examples: UTF-8
// validation and repair (the examples of the Unicode standard), the byte-level alphabet,
// the regex wrapper, normalizers and pre-tokenizers (the reference's documented examples).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/json_config.h"
#include "runtime/error.h"
#include "text/byte_unicode.h"
#include "text/normalizer.h"
#include "text/pretokenizer.h"
#include "text/text_regex.h"
#include "text/utf8_codec.h"

namespace diffuse::text {
namespace {

using Strings = std::vector<std::string>;

TEST(BpeUtf8, FindsTheFirstIllFormedByte) {
  EXPECT_FALSE(find_invalid_utf8("plain ascii, é, 中, 🍕").has_value());
  EXPECT_EQ(find_invalid_utf8("ab\xC0\x80"), 2u);          // overlong
  EXPECT_EQ(find_invalid_utf8("a\xED\xA0\x80"), 1u);       // surrogate U+D800
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);    // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("xyz\xE4\xB8"), 3u);         // cut at the end
  EXPECT_EQ(find_invalid_utf8("\x80"), 0u);                // lone continuation
  EXPECT_EQ(find_invalid_utf8(std::string("a\0b", 3)), std::nullopt);  // NUL is a valid character
}

TEST(BpeUtf8, RepairReplacesMaximalSubparts) {
  // Unicode 15, §3.9, Table 3-8: <61 F1 80 80 E1 80 C2 62 80 63 80 BF 64> decodes to
  // a FFFD FFFD FFFD b FFFD c FFFD FFFD d.
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(repair_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + fffd + fffd + fffd + "b" + fffd + "c" + fffd + fffd + "d");
  EXPECT_EQ(repair_utf8("ok é"), "ok é");
}

TEST(BpeUtf8, DecodesAndEncodesCodePoints) {
  const std::string s = "aé中🍕";
  std::string rebuilt;
  std::vector<char32_t> cps;
  for (size_t pos = 0; pos < s.size();) {
    const CodePoint cp = decode_utf8_at(s, pos);
    cps.push_back(cp.value);
    append_utf8(rebuilt, cp.value);
    pos += cp.length;
  }
  EXPECT_EQ(cps, (std::vector<char32_t>{0x61, 0xE9, 0x4E2D, 0x1F355}));
  EXPECT_EQ(rebuilt, s);
}

TEST(BpeByteLevel, AlphabetMatchesGpt2) {
  EXPECT_EQ(byte_to_unicode(' '), "Ġ");     // U+0120: 33rd non-printable byte
  EXPECT_EQ(byte_to_unicode('\n'), "Ċ");    // U+010A
  EXPECT_EQ(byte_to_unicode(0), "Ā");       // U+0100
  EXPECT_EQ(byte_to_unicode(0x7F), "ġ");    // U+0121: after the 33 control bytes and space
  EXPECT_EQ(byte_to_unicode(0xAD), "Ń");    // U+0143: the last one (soft hyphen)
  EXPECT_EQ(byte_to_unicode('a'), "a");
  EXPECT_EQ(byte_to_unicode(0xE9), "é");    // printable Latin-1 stands for itself
  EXPECT_EQ(bytes_to_unicode("hi there\n"), "hiĠthereĊ");
}

TEST(BpeByteLevel, RoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string back;
  ASSERT_TRUE(unicode_to_bytes(bytes_to_unicode(all), back));
  EXPECT_EQ(back, all);
  std::string out = "x";
  EXPECT_FALSE(unicode_to_bytes("ab中", out));  // 中 is not in the alphabet
  EXPECT_EQ(out, "x");                           // nothing appended
}

TEST(BpeRegex, FindsNonOverlappingMatchesWithUnicodeClasses) {
  const TextRegex letters = TextRegex::compile(R"(\p{L}+|\p{N})", "test");
  const auto spans = letters.find_all("héllo 42 мир");
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(spans[0].begin, 0u);
  EXPECT_EQ(spans[0].end, 6u);  // "héllo" is 6 bytes
  EXPECT_EQ(spans[3].begin, 10u);
  const TextRegex space = TextRegex::compile(R"(\s+)", "test");
  EXPECT_EQ(space.find_all("a\u00a0b\u3000c").size(), 2u);  // NBSP and ideographic space are \s
  const TextRegex dot = TextRegex::literal("a.b", "test");
  EXPECT_EQ(dot.find_all("a.b axb a.b").size(), 2u);  // literal: '.' is not a wildcard
  EXPECT_THROW(TextRegex::compile("(unclosed", "test"), Error);
}

TEST(BpeRegex, EmptyMatchesAdvanceByOneCharacter) {
  const TextRegex empty = TextRegex::compile("x*", "test");
  const auto spans = empty.find_all("éxx");
  // Empty at 0, "xx" at 2..4, empty at the end: no infinite loop, no split character.
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[1].begin, 2u);
  EXPECT_EQ(spans[1].end, 4u);
}

io::Json parse(const char* text) { return io::Json::parse(text); }

TEST(BpeNormalizer, UnicodeForms) {
  const std::string decomposed = "e\xCC\x81";  // e + U+0301
  EXPECT_EQ(Normalizer::from_json(parse(R"({"type":"NFC"})"), "t").apply(decomposed), "é");
  EXPECT_EQ(Normalizer::from_json(parse(R"({"type":"NFD"})"), "t").apply("é"), decomposed);
  EXPECT_EQ(Normalizer::from_json(parse(R"({"type":"NFKC"})"), "t").apply("ﬁ Ⅻ"), "fi XII");
  EXPECT_EQ(Normalizer::from_json(parse(R"({"type":"NFC"})"), "t").apply("ﬁ"), "ﬁ");
  EXPECT_EQ(Normalizer::from_json(parse(R"({"type":"NFKD"})"), "t").apply("é"), decomposed);
  EXPECT_EQ(Normalizer::from_json(parse(R"({"type":"NFC"})"), "t").apply(""), "");
}

TEST(BpeNormalizer, LowercaseAppliesTheContextRules) {
  EXPECT_EQ(unicode_lowercase("HeLLo ÀÉ Straße ẞ"), "hello àé straße ß");
  EXPECT_EQ(unicode_lowercase("İ"), "i\xCC\x87");                 // i + combining dot above
  EXPECT_EQ(unicode_lowercase("ΟΔΟΣ ΣΟΦΙΑΣ"), "οδος σοφιας");     // word-final sigma
  EXPECT_EQ(unicode_lowercase("Σ"), "σ");                          // no letter before: not final
  EXPECT_EQ(unicode_lowercase("ΑΣ."), "ας.");
  EXPECT_EQ(unicode_lowercase("ΑΣΑ"), "ασα");
}

TEST(BpeNormalizer, ReplaceStripAndSequence) {
  const Normalizer clip = Normalizer::from_json(parse(R"({"type":"Sequence","normalizers":[
      {"type":"NFC"},
      {"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "},
      {"type":"Lowercase"}]})"),
                                                "t");
  EXPECT_EQ(clip.apply("  A\t\tB\nC  "), " a b c ");
  const Normalizer literal =
      Normalizer::from_json(parse(R"({"type":"Replace","pattern":{"String":"."},"content":"$1"})"), "t");
  EXPECT_EQ(literal.apply("a.b.c"), "a$1b$1c");  // content is literal, pattern too
  const Normalizer strip = Normalizer::from_json(parse(R"({"type":"Strip","strip_left":true,"strip_right":false})"), "t");
  EXPECT_EQ(strip.apply("\u3000 x \u00a0"), "x \u00a0");
  EXPECT_TRUE(Normalizer::from_json(io::Json(), "t").empty());
  EXPECT_EQ(Normalizer::from_json(io::Json(), "t").apply("As Is"), "As Is");
}

TEST(BpeNormalizer, UnknownTypeNamesFileAndType) {
  try {
    Normalizer::from_json(parse(R"({"type":"Sequence","normalizers":[{"type":"BertNormalizer"}]})"), "tok.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("tok.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("BertNormalizer"), std::string::npos) << msg;
  }
}

Strings split(const char* spec, const std::string& text) {
  Strings out;
  PreTokenizer::from_json(io::Json::parse(spec), "t").split(text, out);
  return out;
}

TEST(BpePreTokenizer, SplitBehaviorsMatchTheReferenceDocumentation) {
  // The examples of the reference's SplitDelimiterBehavior documentation ("-" on
  // "the-final--countdown").
  const std::string text = "the-final--countdown";
  auto spec = [](const char* behavior) {
    return std::string(R"({"type":"Split","pattern":{"String":"-"},"behavior":")") + behavior +
           R"(","invert":false})";
  };
  EXPECT_EQ(split(spec("Removed").c_str(), text), (Strings{"the", "final", "countdown"}));
  EXPECT_EQ(split(spec("Isolated").c_str(), text), (Strings{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split(spec("MergedWithPrevious").c_str(), text), (Strings{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split(spec("MergedWithNext").c_str(), text), (Strings{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split(spec("Contiguous").c_str(), text), (Strings{"the", "-", "final", "--", "countdown"}));
}

TEST(BpePreTokenizer, InvertKeepsTheMatches) {
  EXPECT_EQ(split(R"({"type":"Split","pattern":{"Regex":"\\p{N}+"},"behavior":"Removed","invert":true})", "ab12cd3"),
            (Strings{"12", "3"}));
  EXPECT_EQ(split(R"({"type":"Split","pattern":{"Regex":"\\p{N}+"},"behavior":"Isolated","invert":true})", "ab12cd3"),
            (Strings{"ab", "12", "cd", "3"}));
}

TEST(BpePreTokenizer, ByteLevelMapsBytesAndOptionallySplits) {
  EXPECT_EQ(split(R"({"type":"ByteLevel","add_prefix_space":true,"use_regex":true})", "hello world's 42!!"),
            (Strings{"Ġhello", "Ġworld", "'s", "Ġ42", "!!"}));
  EXPECT_EQ(split(R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":false})", "hello world\n"),
            (Strings{"helloĠworldĊ"}));
  EXPECT_EQ(split(R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":true})", "a  b"),
            (Strings{"a", "Ġ", "Ġb"}));  // \s+(?!\S) leaves the last space to the word
  EXPECT_EQ(split(R"({"type":"ByteLevel","add_prefix_space":true})", ""), Strings{});
}

TEST(BpePreTokenizer, SequenceAppliesStepsToEveryPiece) {
  // Qwen's pattern then ByteLevel without regex: digits split one by one, space stays on words.
  const char* qwen = R"({"type":"Sequence","pretokenizers":[
      {"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
       "behavior":"Isolated","invert":false},
      {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]})";
  EXPECT_EQ(split(qwen, "In 2024, IT'S\n\nok"),
            (Strings{"In", "Ġ", "2", "0", "2", "4", ",", "ĠIT", "'S", "ĊĊ", "ok"}));
}

TEST(BpePreTokenizer, RejectsUnknownTypesAndBehaviors) {
  EXPECT_THROW(split(R"({"type":"Metaspace"})", "x"), Error);
  EXPECT_THROW(split(R"({"type":"Split","pattern":{"String":"-"},"behavior":"Sideways"})", "x"), Error);
  EXPECT_THROW(split(R"({"type":"Split","pattern":{"Regex":"[a-"},"behavior":"Removed"})", "x"), Error);
  EXPECT_THROW(split(R"({"type":"Split","pattern":"-","behavior":"Removed"})", "x"), Error);
  EXPECT_THROW(split(R"({"type":"Sequence"})", "x"), Error);
  EXPECT_THROW(split(R"(["ByteLevel"])", "x"), Error);
}

}  // namespace
}  // namespace diffuse::text
