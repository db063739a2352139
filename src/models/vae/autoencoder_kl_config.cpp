#include "models/vae/autoencoder_kl_config.h"

#include "runtime/error.h"

namespace diffuse::models {

namespace {

// A list of block type names; each must be `required` (the only block this port builds).
void check_block_types(const io::Json& json, const std::string& key, const std::string& required,
                       size_t levels, const std::string& context) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) {
    // Reference default: a single block of the required type.
    DIFFUSE_CHECK(levels == 1, context, ": '", key, "' is absent (default: one ", required,
                  ") but block_out_channels has ", levels, " entries");
    return;
  }
  DIFFUSE_CHECK(it->is_array(), context, ": field '", key, "' is not an array");
  DIFFUSE_CHECK(it->size() == levels, context, ": '", key, "' has ", it->size(),
                " entries but block_out_channels has ", levels);
  for (size_t i = 0; i < it->size(); ++i) {
    const io::Json& v = (*it)[i];
    DIFFUSE_CHECK(v.is_string(), context, ": field '", key, "[", i, "]' is not a string");
    DIFFUSE_CHECK(v.get<std::string>() == required, context, ": ", key, "[", i, "] = '",
                  v.get<std::string>(), "' is not supported (only ", required, ")");
  }
}

std::optional<std::vector<double>> optional_double_array(const io::Json& json, const std::string& key,
                                                         const std::string& context) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return std::nullopt;
  return io::get_double_array(json, key, {}, context);
}

}  // namespace

AutoencoderKLConfig AutoencoderKLConfig::from_json(const io::Json& json, const std::string& context) {
  AutoencoderKLConfig c;
  c.in_channels = io::get_int(json, "in_channels", c.in_channels, context);
  c.out_channels = io::get_int(json, "out_channels", c.out_channels, context);
  c.block_out_channels = io::get_int_array(json, "block_out_channels", c.block_out_channels, context);
  c.layers_per_block = io::get_int(json, "layers_per_block", c.layers_per_block, context);
  c.latent_channels = io::get_int(json, "latent_channels", c.latent_channels, context);
  c.norm_num_groups = io::get_int(json, "norm_num_groups", c.norm_num_groups, context);
  c.use_quant_conv = io::get_bool(json, "use_quant_conv", c.use_quant_conv, context);
  c.use_post_quant_conv = io::get_bool(json, "use_post_quant_conv", c.use_post_quant_conv, context);
  c.mid_block_add_attention = io::get_bool(json, "mid_block_add_attention", c.mid_block_add_attention, context);
  c.scaling_factor = io::get_double(json, "scaling_factor", c.scaling_factor, context);
  c.shift_factor = io::get_optional_double(json, "shift_factor", context);
  c.latents_mean = optional_double_array(json, "latents_mean", context);
  c.latents_std = optional_double_array(json, "latents_std", context);

  const std::string act = io::get_string(json, "act_fn", "silu", context);
  DIFFUSE_CHECK(act == "silu", context, ": act_fn '", act, "' is not supported (only silu)");

  DIFFUSE_CHECK(!c.block_out_channels.empty(), context, ": block_out_channels is empty");
  DIFFUSE_CHECK(c.block_out_channels.size() <= 16, context, ": block_out_channels has ",
                c.block_out_channels.size(), " levels (at most 16)");
  DIFFUSE_CHECK(c.norm_num_groups > 0, context, ": norm_num_groups must be positive, got ", c.norm_num_groups);
  for (size_t i = 0; i < c.block_out_channels.size(); ++i) {
    const int64_t ch = c.block_out_channels[i];
    DIFFUSE_CHECK(ch > 0 && ch % c.norm_num_groups == 0, context, ": block_out_channels[", i, "] = ", ch,
                  " is not a positive multiple of norm_num_groups ", c.norm_num_groups);
  }
  DIFFUSE_CHECK(c.in_channels > 0 && c.out_channels > 0, context, ": in/out_channels must be positive");
  DIFFUSE_CHECK(c.latent_channels > 0, context, ": latent_channels must be positive");
  DIFFUSE_CHECK(c.layers_per_block >= 1, context, ": layers_per_block must be >= 1, got ", c.layers_per_block);
  DIFFUSE_CHECK(c.scaling_factor > 0, context, ": scaling_factor must be positive, got ", c.scaling_factor);
  if (c.latents_mean || c.latents_std) {
    DIFFUSE_CHECK(c.latents_mean && c.latents_std &&
                      static_cast<int64_t>(c.latents_mean->size()) == c.latent_channels &&
                      static_cast<int64_t>(c.latents_std->size()) == c.latent_channels,
                  context, ": latents_mean / latents_std must both hold latent_channels (", c.latent_channels,
                  ") values");
  }

  check_block_types(json, "down_block_types", "DownEncoderBlock2D", c.block_out_channels.size(), context);
  check_block_types(json, "up_block_types", "UpDecoderBlock2D", c.block_out_channels.size(), context);
  return c;
}

}  // namespace diffuse::models
