#include "models/vae/autoencoder_kl_qwenimage_config.h"

#include "runtime/error.h"

namespace diffuse::models {

namespace {

std::vector<bool> get_bool_array(const io::Json& json, const std::string& key, const std::vector<bool>& fallback,
                                 const std::string& context) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return fallback;
  DIFFUSE_CHECK(it->is_array(), context, ": field '", key, "' is not an array");
  std::vector<bool> out;
  for (size_t i = 0; i < it->size(); ++i) {
    DIFFUSE_CHECK((*it)[i].is_boolean(), context, ": field '", key, "[", i, "]' is not a boolean");
    out.push_back((*it)[i].get<bool>());
  }
  return out;
}

}  // namespace

AutoencoderKLQwenImageConfig AutoencoderKLQwenImageConfig::from_json(const io::Json& json, const std::string& context) {
  AutoencoderKLQwenImageConfig c;
  c.base_dim = io::get_int(json, "base_dim", c.base_dim, context);
  c.z_dim = io::get_int(json, "z_dim", c.z_dim, context);
  c.dim_mult = io::get_int_array(json, "dim_mult", c.dim_mult, context);
  c.num_res_blocks = io::get_int(json, "num_res_blocks", c.num_res_blocks, context);
  c.temperal_downsample = get_bool_array(json, "temperal_downsample", c.temperal_downsample, context);
  c.dropout = io::get_double(json, "dropout", c.dropout, context);
  c.input_channels = io::get_int(json, "input_channels", c.input_channels, context);
  c.latents_mean = io::get_double_array(json, "latents_mean", c.latents_mean, context);
  c.latents_std = io::get_double_array(json, "latents_std", c.latents_std, context);
  const std::vector<double> attn_scales = io::get_double_array(json, "attn_scales", {}, context);

  DIFFUSE_CHECK(attn_scales.empty(), context, ": attn_scales has ", attn_scales.size(),
                " entries; attention blocks inside the resolution levels are not supported (only [])");
  DIFFUSE_CHECK(c.base_dim > 0, context, ": base_dim must be positive, got ", c.base_dim);
  DIFFUSE_CHECK(c.z_dim > 0, context, ": z_dim must be positive, got ", c.z_dim);
  DIFFUSE_CHECK(c.input_channels > 0, context, ": input_channels must be positive, got ", c.input_channels);
  DIFFUSE_CHECK(c.num_res_blocks >= 1, context, ": num_res_blocks must be >= 1, got ", c.num_res_blocks);
  DIFFUSE_CHECK(!c.dim_mult.empty() && c.dim_mult.size() <= 16, context, ": dim_mult must have 1 to 16 entries, has ",
                c.dim_mult.size());
  for (size_t i = 0; i < c.dim_mult.size(); ++i) {
    DIFFUSE_CHECK(c.dim_mult[i] > 0, context, ": dim_mult[", i, "] = ", c.dim_mult[i], " is not positive");
  }
  DIFFUSE_CHECK(c.temperal_downsample.size() + 1 == c.dim_mult.size(), context, ": temperal_downsample has ",
                c.temperal_downsample.size(), " entries, expected one per resampling level (",
                c.dim_mult.size() - 1, ")");
  DIFFUSE_CHECK(c.dropout >= 0 && c.dropout < 1, context, ": dropout must be in [0, 1), got ", c.dropout);
  DIFFUSE_CHECK(static_cast<int64_t>(c.latents_mean.size()) == c.z_dim &&
                    static_cast<int64_t>(c.latents_std.size()) == c.z_dim,
                context, ": latents_mean / latents_std have ", c.latents_mean.size(), " / ", c.latents_std.size(),
                " values, expected z_dim = ", c.z_dim);
  for (size_t i = 0; i < c.latents_std.size(); ++i) {
    DIFFUSE_CHECK(c.latents_std[i] > 0, context, ": latents_std[", i, "] = ", c.latents_std[i], " is not positive");
  }
  return c;
}

}  // namespace diffuse::models
