// `diffuse tokenize --tokenizer DIR_OR_FILE --text "..." [--add-special-tokens]`: the ids a
// BPE tokenizer (tokenizer.json, or a CLIP vocab.json + merges.txt folder) gives a text,
// as one JSON array on the last line of stdout. --verbose lists each id with its token
// above it; --max-length truncates like the pipelines do, --pad pads to that length.
#include <cstdio>
#include <string>

#include "args.h"
#include "command.h"
#include "io/printable.h"
#include "runtime/error.h"
#include "text/bpe_tokenizer.h"

namespace diffuse::cli {
namespace {

std::string json_array(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(ids[i]);
  }
  return out + "]";
}

int run_tokenize(int argc, char** argv) {
  Args args;
  args.option("tokenizer", "tokenizer folder (tokenizer.json, or CLIP vocab.json + merges.txt) or tokenizer.json");
  args.option("text", "the text to encode (UTF-8)");
  args.flag("add-special-tokens", "add the special tokens of the post-processor (e.g. <s>)");
  args.option("max-length", "truncate to this many ids (special tokens included)");
  args.flag("pad", "pad with the pad token to exactly --max-length ids");
  args.flag("verbose", "print every id with its token before the JSON line", "-v");
  if (!args.parse(argc, argv,
                  "diffuse tokenize --tokenizer DIR_OR_FILE --text TEXT [--add-special-tokens] [--max-length N [--pad]] "
                  "[--verbose]"))
    return 0;
  const auto tokenizer = text::BpeTokenizer::load(args.get("tokenizer"));
  const std::string input = args.get("text");
  const bool specials = args.has("add-special-tokens");
  DIFFUSE_CHECK(!args.has("pad") || args.has("max-length"), "--pad needs --max-length");

  std::vector<int32_t> ids;
  if (args.has("max-length")) {
    const int max_length = args.get_int("max-length");
    DIFFUSE_CHECK(max_length >= 0, "--max-length must not be negative");
    const size_t n = static_cast<size_t>(max_length);
    ids = args.has("pad") ? tokenizer.encode_padded(input, n, specials).ids : tokenizer.encode_truncated(input, n, specials);
  } else {
    ids = tokenizer.encode(input, specials);
  }
  if (args.has("verbose")) {
    std::printf("tokenizer %s: vocab size %d, %zu ids\n", tokenizer.origin().c_str(), tokenizer.vocab_size(),
                ids.size());
    for (int32_t id : ids) {
      const std::string token = io::printable(tokenizer.id_to_token(id).value_or("?"));
      const std::string text = io::printable(tokenizer.decode({id}, false));
      std::printf("%8d  %-24s  \"%s\"\n", id, token.c_str(), text.c_str());
    }
  }
  std::printf("%s\n", json_array(ids).c_str());
  return 0;
}

const Command tokenize_command("tokenize", "encode a text with a BPE tokenizer and print the ids", run_tokenize);

}  // namespace
}  // namespace diffuse::cli
