// The AMX tile configuration every kernel here uses: palette 1 with all eight tiles 16 rows x 64
// bytes (16 x 16 f32 / s32 accumulators, 16 x 32 bf16 or 16 x 64 int8 operands).
// x86-64 only.
#pragma once

#include "ops/x86_intrinsics.h"

#if defined(__x86_64__)
#include <cstdint>

namespace diffuse::ops::amx {

// The 64-byte operand of ldtilecfg.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Loads the configuration on the calling thread (pair with _tile_release when done).
__attribute__((target("amx-tile"))) inline void configure_full_tiles() {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.rows[t] = 16;
    config.colsb[t] = 64;
  }
  _tile_loadconfig(&config);
}

}  // namespace diffuse::ops::amx
#endif
