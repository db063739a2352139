#include "text/clip_tokenizer.h"

#include "runtime/error.h"

namespace diffuse::text {

namespace {

constexpr size_t kClipPositions = 77;

}  // namespace

ClipTokenizer::ClipTokenizer(BpeTokenizer tokenizer)
    : tokenizer_(std::move(tokenizer)),
      max_length_(static_cast<size_t>(tokenizer_.model_max_length().value_or(kClipPositions))) {
  const BpeTokenizer& t = tokenizer_;
  DIFFUSE_CHECK(t.bos_id() && t.eos_id() && t.pad_id(), t.origin(),
                ": a CLIP tokenizer needs bos, eos and pad tokens in its tokenizer config");
  // encode() relies on the post-processor framing every prompt as bos ... eos.
  const std::vector<int32_t> framed = t.encode("", true);
  DIFFUSE_CHECK(framed == std::vector<int32_t>({*t.bos_id(), *t.eos_id()}), t.origin(),
                ": a CLIP tokenizer must put bos and eos around the text with special tokens");
  DIFFUSE_CHECK(max_length_ >= 2, t.origin(), ": model_max_length ", max_length_, " leaves no room for bos and eos");
}

ClipTokenizer ClipTokenizer::load(const std::string& path) { return ClipTokenizer(BpeTokenizer::load(path)); }

PaddedTokens ClipTokenizer::encode(std::string_view prompt) const {
  return tokenizer_.encode_padded(prompt, max_length_, /*add_special_tokens=*/true);
}

}  // namespace diffuse::text
