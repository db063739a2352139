#include "pipelines/flux_text.h"

#include <filesystem>
#include <vector>

#include "io/model_folder.h"
#include "models/text/clip_text_model.h"
#include "models/text/t5_encoder.h"
#include "pipelines/component_loader.h"
#include "runtime/log.h"
#include "runtime/profiler.h"
#include "runtime/timer.h"
#include "text/clip_tokenizer.h"
#include "text/t5_tokenizer.h"

namespace diffuse::pipelines {

Tensor chroma_text_mask(const Tensor& tokenizer_mask) {
  DIFFUSE_CHECK(tokenizer_mask.ndim() == 2, "text mask must be [B, L], got ", shape_str(tokenizer_mask.shape()));
  const int64_t batch = tokenizer_mask.dim(0), len = tokenizer_mask.dim(1);
  Tensor out = Tensor::zeros({batch, len}, DType::F32);
  float* o = out.data_mut<float>();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t valid = 0;
    for (int64_t j = 0; j < len; ++j) valid += tokenizer_mask.item({b, j}) != 0 ? 1 : 0;
    for (int64_t j = 0; j < len && j <= valid; ++j) o[b * len + j] = 1.0f;
  }
  return out;
}

namespace {

Tensor ids_tensor(const std::vector<std::vector<int32_t>>& rows) {
  const int64_t len = static_cast<int64_t>(rows.front().size());
  Tensor t = Tensor::empty({static_cast<int64_t>(rows.size()), len}, DType::I64);
  int64_t* p = t.data_mut<int64_t>();
  for (size_t r = 0; r < rows.size(); ++r) {
    for (int64_t j = 0; j < len; ++j) p[r * len + j] = rows[r][j];
  }
  return t;
}

// Row r of a batched result as a batch of one.
Tensor row(const Tensor& t, int64_t r) { return t.slice(0, r, r + 1).contiguous(); }

// T5 last hidden state for the prompts; the tokenizer mask is returned through `mask`.
Tensor encode_t5(const std::string& root, const std::string& tokenizer_dir, const std::string& encoder_dir,
                 const std::vector<std::string>& prompts, int64_t max_len, bool use_mask,
                 const models::ModelOptions& options, Tensor& mask) {
  const auto tokenizer = text::T5Tokenizer::from_folder(io::component_folder(root, tokenizer_dir));
  const text::TokenBatch tokens = tokenizer(prompts, max_len);
  mask = tokens.attention_mask;
  std::unique_ptr<models::T5Encoder> t5;
  load_component(root, encoder_dir, [&](const io::Json& config, const std::string& ctx, io::WeightBinder& b) {
    t5 = std::make_unique<models::T5Encoder>(models::T5EncoderConfig::from_json(config, ctx), b, options);
  });
  ProfileScope scope(profile_scopes::kTextEncoder);
  Timer timer;
  Tensor out = t5->forward(tokens.input_ids, use_mask ? &tokens.attention_mask : nullptr);
  log_info(str_cat(encoder_dir, ": encoded ", prompts.size(), "x", max_len, " tokens in ",
                   static_cast<int>(timer.millis()), " ms"));
  return out;
}

Tensor encode_clip_pooled(const std::string& root, const std::vector<std::string>& prompts,
                          const models::ModelOptions& options) {
  const auto tokenizer = text::ClipTokenizer::load(io::component_folder(root, "tokenizer"));
  std::vector<std::vector<int32_t>> ids;
  for (const auto& p : prompts) ids.push_back(tokenizer.encode(p).ids);
  std::unique_ptr<models::CLIPTextModel> clip;
  load_component(root, "text_encoder", [&](const io::Json& config, const std::string& ctx, io::WeightBinder& b) {
    clip = std::make_unique<models::CLIPTextModel>(models::CLIPTextModelConfig::from_json(config, ctx), b, options);
  });
  ProfileScope scope(profile_scopes::kTextEncoder);
  return clip->forward(ids_tensor(ids)).pooled_output;
}

}  // namespace

EncodedPrompts encode_flux_prompts(const std::string& root, FluxVariant variant, const std::string& prompt,
                                   const std::optional<std::string>& negative, int64_t max_sequence_length,
                                   const models::ModelOptions& options) {
  DIFFUSE_CHECK(max_sequence_length >= 1 && max_sequence_length <= 512,
                "max sequence length must be in [1, 512], got ", max_sequence_length);
  std::vector<std::string> prompts = {prompt};
  if (negative) prompts.push_back(*negative);
  EncodedPrompts out;
  std::vector<PromptConditioning*> rows = {&out.cond};
  if (negative) rows.push_back(&out.uncond.emplace());
  Tensor mask;
  if (variant == FluxVariant::Flux) {
    const Tensor pooled = encode_clip_pooled(root, prompts, options);
    const Tensor embeds = encode_t5(root, "tokenizer_2", "text_encoder_2", prompts, max_sequence_length,
                                    /*use_mask=*/false, options, mask);
    for (size_t r = 0; r < rows.size(); ++r) {
      rows[r]->embeds = row(embeds, static_cast<int64_t>(r));
      rows[r]->pooled = row(pooled, static_cast<int64_t>(r));
    }
  } else {
    const Tensor embeds = encode_t5(root, "tokenizer", "text_encoder", prompts, max_sequence_length,
                                    /*use_mask=*/true, options, mask);
    const Tensor text_mask = chroma_text_mask(mask);
    for (size_t r = 0; r < rows.size(); ++r) {
      rows[r]->embeds = row(embeds, static_cast<int64_t>(r));
      rows[r]->mask = row(text_mask, static_cast<int64_t>(r));
    }
  }
  return out;
}

}  // namespace diffuse::pipelines
