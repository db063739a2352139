#include "pipelines/qwen_image_text.h"

#include <algorithm>

#include "runtime/error.h"
#include "runtime/profiler.h"

namespace diffuse::pipelines {

namespace {

void check_max_sequence_length(int64_t max_sequence_length) {
  DIFFUSE_CHECK(max_sequence_length >= 1 && max_sequence_length <= kQwenImageMaxSequenceLengthLimit,
                "Qwen-Image: max_sequence_length ", max_sequence_length, " must be in [1, ",
                kQwenImageMaxSequenceLengthLimit, "]");
}

}  // namespace

std::string qwen_image_prompt_text(const std::string& prompt) {
  return "<|im_start|>system\nDescribe the image by detailing the color, shape, size, texture, quantity, text, "
         "spatial relationships of the objects and background:<|im_end|>\n<|im_start|>user\n" +
         prompt + "<|im_end|>\n<|im_start|>assistant\n";
}

QwenImageTokens tokenize_qwen_image_prompts(const text::BpeTokenizer& tokenizer, const std::vector<std::string>& prompts,
                                            int64_t drop_idx) {
  DIFFUSE_CHECK(!prompts.empty(), "Qwen-Image: no prompt to tokenize");
  DIFFUSE_CHECK(drop_idx >= 0, "Qwen-Image: negative drop_idx ", drop_idx);
  const auto pad = tokenizer.pad_id();
  DIFFUSE_CHECK(pad.has_value(), tokenizer.origin(), ": the tokenizer has no pad token (Qwen-Image pads batches)");
  const size_t max_length = static_cast<size_t>(kQwenImageTokenizerMaxLength + drop_idx);
  std::vector<std::vector<int32_t>> rows;
  size_t longest = 0;
  for (const auto& p : prompts) {
    rows.push_back(tokenizer.encode_truncated(qwen_image_prompt_text(p), max_length, false));
    longest = std::max(longest, rows.back().size());
  }
  const int64_t batch = static_cast<int64_t>(rows.size()), len = static_cast<int64_t>(longest);
  QwenImageTokens t{Tensor::empty({batch, len}, DType::I64), Tensor::zeros({batch, len}, DType::I64)};
  int64_t* ids = t.input_ids.data_mut<int64_t>();
  int64_t* mask = t.attention_mask.data_mut<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& r = rows[static_cast<size_t>(b)];
    for (int64_t j = 0; j < len; ++j) {
      const bool real = static_cast<size_t>(j) < r.size();
      ids[b * len + j] = real ? r[static_cast<size_t>(j)] : *pad;
      mask[b * len + j] = real;
    }
  }
  return t;
}

QwenImagePromptEmbeds qwen_image_select_prompt_tokens(const Tensor& hidden, const Tensor& attention_mask,
                                                      int64_t drop_idx, int64_t max_sequence_length) {
  check_max_sequence_length(max_sequence_length);
  DIFFUSE_CHECK(drop_idx >= 0, "Qwen-Image: negative drop_idx ", drop_idx);
  DIFFUSE_CHECK(hidden.ndim() == 3 && hidden.dtype() == DType::F32, "Qwen-Image: hidden states must be [B, S, H] f32, got ",
                shape_str(hidden.shape()));
  const int64_t batch = hidden.dim(0), len = hidden.dim(1), width = hidden.dim(2);
  DIFFUSE_CHECK(attention_mask.ndim() == 2 && attention_mask.dim(0) == batch && attention_mask.dim(1) == len,
                "Qwen-Image: attention_mask ", shape_str(attention_mask.shape()), " does not match hidden states ",
                shape_str(hidden.shape()));
  // Per row, the positions of real tokens after the first drop_idx of them.
  std::vector<std::vector<int64_t>> kept(static_cast<size_t>(batch));
  size_t longest = 0;
  for (int64_t b = 0; b < batch; ++b) {
    int64_t seen = 0;
    for (int64_t j = 0; j < len; ++j) {
      const double m = attention_mask.item({b, j});
      DIFFUSE_CHECK(m == 0.0 || m == 1.0, "Qwen-Image: attention_mask[", b, ", ", j, "] = ", m, " (expected 0 or 1)");
      if (m != 0.0 && seen++ >= drop_idx) kept[static_cast<size_t>(b)].push_back(j);
    }
    longest = std::max(longest, kept[static_cast<size_t>(b)].size());
  }
  const int64_t out_len = std::min<int64_t>(static_cast<int64_t>(longest), max_sequence_length);
  DIFFUSE_CHECK(out_len > 0, "Qwen-Image: no prompt has more than drop_idx = ", drop_idx, " tokens");
  QwenImagePromptEmbeds e{Tensor::zeros({batch, out_len, width}, DType::F32), Tensor::zeros({batch, out_len}, DType::U8)};
  uint8_t* mask = e.mask.data_mut<uint8_t>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& k = kept[static_cast<size_t>(b)];
    for (int64_t t = 0; t < out_len && static_cast<size_t>(t) < k.size(); ++t) {
      e.embeds.select(0, b).select(0, t).copy_from(hidden.select(0, b).select(0, k[static_cast<size_t>(t)]));
      mask[b * out_len + t] = 1;
    }
  }
  return e;
}

QwenImagePromptEmbeds encode_qwen_image_prompts(const models::DecoderLlm& text_encoder,
                                                const text::BpeTokenizer& tokenizer,
                                                const std::vector<std::string>& prompts, int64_t max_sequence_length,
                                                int64_t drop_idx) {
  ProfileScope scope(profile_scopes::kTextEncoder);
  check_max_sequence_length(max_sequence_length);
  const QwenImageTokens t = tokenize_qwen_image_prompts(tokenizer, prompts, drop_idx);
  const std::vector<Tensor> hs = text_encoder.forward(t.input_ids, t.attention_mask, {-1});
  return qwen_image_select_prompt_tokens(hs[0], t.attention_mask, drop_idx, max_sequence_length);
}

}  // namespace diffuse::pipelines
