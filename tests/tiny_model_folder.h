// Writes complete tiny diffusers model folders in the real layout (model_index.json,
// scheduler/, tokenizer(s)/, text_encoder(s)/, transformer/, vae/) with random bf16 weights
// of consistent sizes, so `diffuse generate` can run every stage from real-layout files.
// Tensor names and shapes come from the architectures themselves (expected-only binding),
// so the folders follow the models, not a hand-kept list.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "io/safetensors.h"
#include "pipelines/model_catalog.h"
#include "tiny_spiece.h"

namespace diffuse::testing {

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// Random weights for every tensor the architecture in `config` expects: norm scales near 1,
// everything else small normal values. Stored as bf16 like real checkpoints.
inline void write_component(const std::filesystem::path& dir, const std::string& weights_file,
                            const io::Json& config, uint32_t seed) {
  write_file(dir / "config.json", config.dump(2));
  const std::string cls = pipelines::config_class_name(config);
  std::mt19937 rng(seed);
  io::NamedTensors tensors;
  for (const auto& e : pipelines::expected_tensors(cls, config, cls)) {
    const bool scale = e.name.find("norm") != std::string::npos && e.shape.size() == 1 &&
                       e.name.find("bias") == std::string::npos;
    std::normal_distribution<float> dist(scale ? 1.0f : 0.0f, scale ? 0.05f : 0.08f);
    std::vector<float> v(static_cast<size_t>(shape_numel(e.shape)));
    for (float& x : v) x = dist(rng);
    tensors.emplace_back(e.name, Tensor::from_f32(e.shape, v).to(DType::BF16));
  }
  io::write_safetensors((dir / weights_file).string(), tensors);
}

inline io::Json tiny_vae_config() {
  return io::Json::parse(R"({"_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [16, 32],
    "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"], "in_channels": 3, "latent_channels": 16,
    "layers_per_block": 1, "mid_block_add_attention": true, "norm_num_groups": 8, "out_channels": 3,
    "scaling_factor": 0.3611, "shift_factor": 0.1159,
    "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "use_post_quant_conv": false, "use_quant_conv": false})");
}

inline io::Json tiny_t5_config(int64_t d_model) {
  io::Json c = io::Json::parse(R"({"architectures": ["T5EncoderModel"], "d_ff": 48, "d_kv": 8,
    "feed_forward_proj": "gated-gelu", "layer_norm_epsilon": 1e-6, "num_heads": 4, "num_layers": 2,
    "relative_attention_max_distance": 16, "relative_attention_num_buckets": 8, "vocab_size": 160})");
  c["d_model"] = d_model;
  return c;
}

inline io::Json flow_match_scheduler_config() {
  return io::Json::parse(R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "base_image_seq_len": 256,
    "base_shift": 0.5, "max_image_seq_len": 4096, "max_shift": 1.15, "num_train_timesteps": 1000,
    "shift": 3.0, "use_dynamic_shifting": true})");
}

// A tiny FLUX.1 (`chroma == false`; dev-style guidance embedding when `guidance_embeds`) or
// Chroma folder. `clip_tokenizer_dir` holds a CLIP tokenizer (vocab.json + merges.txt ...).
inline void write_tiny_flux_family_folder(const std::filesystem::path& root, bool chroma, bool guidance_embeds,
                                          const std::filesystem::path& clip_tokenizer_dir) {
  namespace fs = std::filesystem;
  const std::string spiece = train_tiny_spiece();
  io::Json index = {{"_class_name", chroma ? "ChromaPipeline" : "FluxPipeline"},
                    {"_diffusers_version", "0.35.0"},
                    {"scheduler", {"diffusers", "FlowMatchEulerDiscreteScheduler"}},
                    {"vae", {"diffusers", "AutoencoderKL"}}};
  write_file(root / "scheduler" / "scheduler_config.json", flow_match_scheduler_config().dump(2));
  write_component(root / "vae", "diffusion_pytorch_model.safetensors", tiny_vae_config(), 1);
  io::Json transformer = io::Json::parse(R"({"attention_head_dim": 16, "axes_dims_rope": [4, 6, 6],
    "in_channels": 64, "joint_attention_dim": 32, "num_attention_heads": 2, "num_layers": 1,
    "num_single_layers": 2, "out_channels": null, "patch_size": 1})");
  if (chroma) {
    transformer["_class_name"] = "ChromaTransformer2DModel";
    transformer["approximator_hidden_dim"] = 32;
    transformer["approximator_layers"] = 2;
    transformer["approximator_num_channels"] = 16;
    index["transformer"] = {"diffusers", "ChromaTransformer2DModel"};
    index["text_encoder"] = {"transformers", "T5EncoderModel"};
    index["tokenizer"] = {"transformers", "T5Tokenizer"};
    write_file(root / "tokenizer" / "spiece.model", spiece);
    write_component(root / "text_encoder", "model.safetensors", tiny_t5_config(32), 2);
  } else {
    transformer["_class_name"] = "FluxTransformer2DModel";
    transformer["guidance_embeds"] = guidance_embeds;
    transformer["pooled_projection_dim"] = 24;
    index["transformer"] = {"diffusers", "FluxTransformer2DModel"};
    index["text_encoder"] = {"transformers", "CLIPTextModel"};
    index["tokenizer"] = {"transformers", "CLIPTokenizer"};
    index["text_encoder_2"] = {"transformers", "T5EncoderModel"};
    index["tokenizer_2"] = {"transformers", "T5TokenizerFast"};
    fs::create_directories(root / "tokenizer");
    for (const auto& f : fs::directory_iterator(clip_tokenizer_dir)) {
      fs::copy_file(f.path(), root / "tokenizer" / f.path().filename(), fs::copy_options::overwrite_existing);
    }
    const auto clip_vocab = io::load_json((clip_tokenizer_dir / "vocab.json").string()).size();
    io::Json clip = io::Json::parse(R"({"architectures": ["CLIPTextModel"], "hidden_act": "quick_gelu",
      "hidden_size": 24, "intermediate_size": 48, "layer_norm_eps": 1e-5, "max_position_embeddings": 77,
      "num_attention_heads": 2, "num_hidden_layers": 2, "eos_token_id": 2})");
    clip["vocab_size"] = clip_vocab + 2;  // + <|startoftext|>, <|endoftext|>
    write_component(root / "text_encoder", "model.safetensors", clip, 3);
    write_file(root / "tokenizer_2" / "spiece.model", spiece);
    write_component(root / "text_encoder_2", "model.safetensors", tiny_t5_config(32), 4);
  }
  write_component(root / "transformer", "diffusion_pytorch_model.safetensors", transformer, 5);
  write_file(root / "model_index.json", index.dump(2));
}

// The Qwen2.5 tokenizer as Qwen-Image ships it: Qwen2Tokenizer files (vocab.json + merges.txt +
// tokenizer_config.json), written from a tokenizer.json folder (the qwen2_5 fixture).
inline void write_qwen2_slow_tokenizer(const std::filesystem::path& dir, const std::filesystem::path& fast_dir) {
  const io::Json fast = io::load_json((fast_dir / "tokenizer.json").string());
  write_file(dir / "vocab.json", fast.at("model").at("vocab").dump());
  std::string merges = "#version: 0.2\n";
  for (const io::Json& m : fast.at("model").at("merges")) {
    merges += m.is_string() ? m.get<std::string>() : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>();
    merges += '\n';
  }
  write_file(dir / "merges.txt", merges);
  io::Json config = io::load_json((fast_dir / "tokenizer_config.json").string());
  config["tokenizer_class"] = "Qwen2Tokenizer";
  write_file(dir / "tokenizer_config.json", config.dump(2));
}

// A tiny Qwen-Image folder: Qwen2.5-VL-style text model (real vocabulary size, so the real
// tokenizer's ids fit), QwenImageTransformer2DModel, AutoencoderKLQwenImage and the Qwen-Image
// scheduler config. `qwen_tokenizer_dir` holds the qwen2_5 tokenizer.json fixture.
inline void write_tiny_qwen_image_folder(const std::filesystem::path& root,
                                         const std::filesystem::path& qwen_tokenizer_dir) {
  io::Json index = {{"_class_name", "QwenImagePipeline"},
                    {"_diffusers_version", "0.35.0"},
                    {"scheduler", {"diffusers", "FlowMatchEulerDiscreteScheduler"}},
                    {"text_encoder", {"transformers", "Qwen2_5_VLForConditionalGeneration"}},
                    {"tokenizer", {"transformers", "Qwen2Tokenizer"}},
                    {"transformer", {"diffusers", "QwenImageTransformer2DModel"}},
                    {"vae", {"diffusers", "AutoencoderKLQwenImage"}}};
  write_file(root / "scheduler" / "scheduler_config.json", io::Json::parse(R"({
    "_class_name": "FlowMatchEulerDiscreteScheduler", "base_image_seq_len": 256, "base_shift": 0.5,
    "max_image_seq_len": 8192, "max_shift": 0.9, "num_train_timesteps": 1000, "shift": 1.0,
    "shift_terminal": 0.02, "time_shift_type": "exponential", "use_dynamic_shifting": true})").dump(2));
  write_qwen2_slow_tokenizer(root / "tokenizer", qwen_tokenizer_dir);
  write_component(root / "text_encoder", "model.safetensors", io::Json::parse(R"({
    "architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl", "hidden_act": "silu",
    "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "vocab_size": 152064,
    "rope_scaling": {"type": "mrope", "mrope_section": [1, 1, 2]}, "tie_word_embeddings": false})"), 11);
  write_component(root / "transformer", "diffusion_pytorch_model.safetensors", io::Json::parse(R"({
    "_class_name": "QwenImageTransformer2DModel", "attention_head_dim": 16, "axes_dims_rope": [4, 6, 6],
    "guidance_embeds": false, "in_channels": 16, "joint_attention_dim": 32, "num_attention_heads": 2,
    "num_layers": 2, "out_channels": 4, "patch_size": 2})"), 12);
  write_component(root / "vae", "diffusion_pytorch_model.safetensors", io::Json::parse(R"({
    "_class_name": "AutoencoderKLQwenImage", "attn_scales": [], "base_dim": 8, "dim_mult": [1, 2, 2],
    "dropout": 0.0, "num_res_blocks": 1, "temperal_downsample": [false, true], "z_dim": 4,
    "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075], "latents_std": [2.8184, 1.4541, 2.3275, 2.6558]})"), 13);
  write_file(root / "model_index.json", index.dump(2));
}

}  // namespace diffuse::testing
