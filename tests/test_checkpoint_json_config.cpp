// JSON config helpers: defaults for absent fields, null handling, and errors that name the
// file and field.
#include <gtest/gtest.h>

#include "io/json_config.h"
#include "test_safetensors_helpers.h"

namespace diffuse {
namespace {

using testing::expect_error;

const io::Json kConfig = io::Json::parse(R"({
  "num_layers": 19, "big": 18446744073709551615, "eps": 1e-6, "theta": 10000,
  "guidance_embeds": true, "act_fn": "silu", "out_channels": null,
  "axes_dims_rope": [16, 56, 56], "shifts": [0.5, 1], "bad_axes": [16, "x"]
})");

TEST(JsonConfig, TypedGettersWithDefaults) {
  const std::string ctx = "transformer/config.json";
  EXPECT_EQ(io::get_int(kConfig, "num_layers", 0, ctx), 19);
  EXPECT_EQ(io::get_int(kConfig, "num_single_layers", 38, ctx), 38);  // absent -> default
  EXPECT_DOUBLE_EQ(io::get_double(kConfig, "eps", 1e-5, ctx), 1e-6);
  EXPECT_DOUBLE_EQ(io::get_double(kConfig, "theta", 0, ctx), 10000.0);  // integers are numbers
  EXPECT_TRUE(io::get_bool(kConfig, "guidance_embeds", false, ctx));
  EXPECT_FALSE(io::get_bool(kConfig, "absent", false, ctx));
  EXPECT_EQ(io::get_string(kConfig, "act_fn", "gelu", ctx), "silu");
  EXPECT_EQ(io::get_int_array(kConfig, "axes_dims_rope", {}, ctx), (std::vector<int64_t>{16, 56, 56}));
  EXPECT_EQ(io::get_int_array(kConfig, "absent", {1, 2}, ctx), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(io::get_double_array(kConfig, "shifts", {}, ctx), (std::vector<double>{0.5, 1.0}));
  EXPECT_EQ(io::require_int(kConfig, "num_layers", ctx), 19);
  EXPECT_EQ(io::require_string(kConfig, "act_fn", ctx), "silu");
}

TEST(JsonConfig, NullMeansNoneOnlyForOptionalGetters) {
  const std::string ctx = "transformer/config.json";
  EXPECT_EQ(io::get_optional_int(kConfig, "out_channels", ctx), std::nullopt);
  EXPECT_EQ(io::get_optional_int(kConfig, "absent", ctx), std::nullopt);
  EXPECT_EQ(io::get_optional_int(kConfig, "num_layers", ctx), 19);
  EXPECT_EQ(io::get_optional_double(kConfig, "eps", ctx), 1e-6);
  EXPECT_EQ(io::get_optional_string(kConfig, "act_fn", ctx), "silu");
  expect_error([&] { io::get_int(kConfig, "out_channels", 4, ctx); }, {ctx, "'out_channels'", "null"});
  expect_error([&] { io::require_int(kConfig, "out_channels", ctx); }, {ctx, "'out_channels'", "null"});
  expect_error([&] { io::require_int(kConfig, "absent", ctx); }, {ctx, "'absent'", "missing"});
}

TEST(JsonConfig, WrongTypesNameFileAndField) {
  const std::string ctx = "vae/config.json";
  expect_error([&] { io::get_int(kConfig, "act_fn", 0, ctx); }, {ctx, "field 'act_fn' is a string, expected an integer"});
  expect_error([&] { io::get_int(kConfig, "eps", 0, ctx); }, {ctx, "field 'eps' is a float"});
  expect_error([&] { io::get_int(kConfig, "big", 0, ctx); }, {ctx, "'big'", "does not fit"});
  expect_error([&] { io::get_bool(kConfig, "num_layers", false, ctx); }, {ctx, "'num_layers'", "expected a boolean"});
  expect_error([&] { io::get_string(kConfig, "num_layers", "", ctx); }, {ctx, "'num_layers'", "expected a string"});
  expect_error([&] { io::get_double(kConfig, "act_fn", 0, ctx); }, {ctx, "'act_fn'", "expected a number"});
  expect_error([&] { io::get_int_array(kConfig, "num_layers", {}, ctx); }, {ctx, "'num_layers'", "expected an array"});
  expect_error([&] { io::get_int_array(kConfig, "bad_axes", {}, ctx); }, {ctx, "'bad_axes[1]'", "expected an integer"});
  expect_error([&] { io::get_int(io::Json::array(), "x", 0, ctx); }, {ctx, "expected a JSON object"});
}

TEST(JsonConfig, LoadJsonErrorsNameTheFileAndPosition) {
  testing::ScratchDir dir;
  testing::write_text(dir / "ok.json", R"({"a": [1, 2]})");
  EXPECT_EQ(io::load_json(dir / "ok.json")["a"][1], 2);
  testing::write_text(dir / "bad.json", "{\n  \"a\": 1,\n  \"b\": ,\n}");
  expect_error([&] { io::load_json(dir / "bad.json"); }, {dir / "bad.json", "invalid JSON", "line 3, column"});
  expect_error([&] { io::load_json(dir / "absent.json"); }, {dir / "absent.json", "cannot open"});
  expect_error([&] { io::load_json(dir.path()); }, {dir.path(), "is a directory"});
}

}  // namespace
}  // namespace diffuse
