#include "ops/x86_intrinsics.h"

#include "ops/amx_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "ops/amx_tiles.h"
#include "ops/cpu_isa.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace diffuse::ops::amx {

#if defined(__x86_64__)
namespace {

constexpr int64_t kTileBytes = 1024;       // 16 rows x 64 bytes
constexpr int64_t kStepBytes = PackedWeight::kStepBytes;  // two tiles: 32 rows of A, or 32 columns of W
static_assert(kStepBytes == 2 * kTileBytes);
constexpr int64_t kBlockRows = 32;         // rows of A per 2x2 tile product
constexpr int64_t kBlockCols = 32;         // columns of W per 2x2 tile product
constexpr int64_t kMacroRows = 256;        // Mc: rows of A packed at once (L2)
constexpr int64_t kMacroCols = 256;        // Nc: accumulator columns per pass (256 KB of f32 with Mc)
constexpr int64_t kSliceSteps = 8;         // Kc in K steps: a 32-column W slice of 16 KB stays in L1

// Bytes of K per tile row (64) hold this many values: 64 int8, else 32 bf16 (an f32 source is
// rounded to bf16 while packing, so its steps are bf16 steps).
int64_t step_values(DType type) { return type == DType::I8 ? 64 : 32; }

std::shared_ptr<std::byte> aligned_bytes(int64_t bytes) {
  const size_t size = static_cast<size_t>((std::max<int64_t>(bytes, 64) + 4095) / 4096 * 4096);
  void* p = std::aligned_alloc(4096, size);
  DIFFUSE_CHECK(p != nullptr, "out of memory allocating ", size, " bytes for the AMX GEMM");
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), std::free);
}

// A per-thread buffer that only grows: 0 the packed A block, 1 the accumulators, 2 rows of a
// weight being packed.
std::byte* thread_buffer(int slot, int64_t bytes) {
  thread_local std::shared_ptr<std::byte> buffers[3];
  thread_local int64_t sizes[3] = {0, 0, 0};
  if (sizes[slot] < bytes) {
    buffers[slot] = aligned_bytes(bytes);
    sizes[slot] = bytes;
  }
  return buffers[slot].get();
}

#define DIFFUSE_AMX_GEMM_TARGET \
  __attribute__((target("amx-tile,amx-bf16,amx-int8,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

DIFFUSE_AMX_GEMM_TARGET void release_tiles() { _tile_release(); }

// C (32 x 32 at c, row stride ldc bytes) = or += the sum over `steps` K steps of A tiles x W
// tiles. Tiles 0-3 accumulate, 4-5 hold A's two 16-row halves, 6-7 W's two 16-column halves.
template <bool kInt8>
DIFFUSE_AMX_GEMM_TARGET inline void tile_block(const std::byte* a, const std::byte* w, int64_t steps, std::byte* c,
                                               int64_t ldc, bool first) {
  if (first) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  } else {
    _tile_loadd(0, c, ldc);
    _tile_loadd(1, c + 64, ldc);
    _tile_loadd(2, c + 16 * ldc, ldc);
    _tile_loadd(3, c + 16 * ldc + 64, ldc);
  }
  for (int64_t s = 0; s < steps; ++s) {
    _tile_loadd(4, a, 64);
    _tile_loadd(6, w, 64);
    if constexpr (kInt8) _tile_dpbssd(0, 4, 6); else _tile_dpbf16ps(0, 4, 6);
    _tile_loadd(7, w + kTileBytes, 64);
    if constexpr (kInt8) _tile_dpbssd(1, 4, 7); else _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(5, a + kTileBytes, 64);
    if constexpr (kInt8) {
      _tile_dpbssd(2, 5, 6);
      _tile_dpbssd(3, 5, 7);
    } else {
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
    a += kStepBytes;
    w += kStepBytes;
  }
  _tile_stored(0, c, ldc);
  _tile_stored(1, c + 64, ldc);
  _tile_stored(2, c + 16 * ldc, ldc);
  _tile_stored(3, c + 16 * ldc + 64, ldc);
}

// One 64-byte tile row of A: K values [k0, k0 + step) of a source row, zero past K.
DIFFUSE_AMX_GEMM_TARGET void pack_row_chunk(const GemmSource& a, const std::byte* row, int64_t k, int64_t k0,
                                            std::byte* dst) {
  const int64_t n = std::min<int64_t>(step_values(a.dtype), k - k0);
  if (a.dtype == DType::F32) {
    const auto* src = reinterpret_cast<const float*>(row) + k0;
    if (n == 32) {
      const __m512bh packed = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + 16), _mm512_loadu_ps(src));
      _mm512_store_si512(dst, (__m512i)packed);
    } else {
      const __mmask16 lo = static_cast<__mmask16>(n >= 16 ? 0xffff : (1u << n) - 1);
      const __mmask16 hi = static_cast<__mmask16>(n <= 16 ? 0 : (1u << (n - 16)) - 1);
      const __m512bh packed =
          _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, src + 16), _mm512_maskz_loadu_ps(lo, src));
      _mm512_store_si512(dst, (__m512i)packed);
    }
    return;
  }
  const int64_t elem = a.dtype == DType::I8 ? 1 : 2;
  const std::byte* src = row + k0 * elem;
  if (n * elem == 64) {
    _mm512_store_si512(dst, _mm512_loadu_si512(src));
  } else {
    std::memset(dst, 0, 64);
    std::memcpy(dst, src, static_cast<size_t>(n * elem));
  }
}

// 16 rows of 16 dwords (zmm r[i] = row i) transposed in registers: afterwards r[i] holds dword i
// of every row. Four rounds of 2x2 block swaps (dwords, qwords, 128-bit, 256-bit lanes).
DIFFUSE_AMX_GEMM_TARGET inline void transpose_16x16_dwords(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 16; i += 8)
    for (int j = 0; j < 4; ++j) {
      t[i + j] = _mm512_shuffle_i32x4(r[i + j], r[i + j + 4], 0x88);
      t[i + j + 4] = _mm512_shuffle_i32x4(r[i + j], r[i + j + 4], 0xdd);
    }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0xdd);
  }
}

// One column block of W (up to 32 rows of row_bytes at src, `stride` bytes apart) into its tiles:
// per K step, per 16-row half, the 16 x 16 dword transpose of the step's 64 bytes of each row
// (tile row r = dword r of every row, i.e. 2 bf16 / 4 int8 consecutive K values per column).
// Rows past `rows` and bytes past row_bytes are zero.
DIFFUSE_AMX_GEMM_TARGET void transpose_into_tiles(const std::byte* src, int64_t stride, int64_t rows, int64_t row_bytes,
                                                  int64_t steps, std::byte* dst) {
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t at = s * 64, left = std::min<int64_t>(64, row_bytes - at);
    const __mmask64 mask = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
    for (int64_t half = 0; half < 2; ++half) {
      __m512i r[16];
      for (int64_t i = 0; i < 16; ++i) {
        const int64_t row = half * 16 + i;
        r[i] = row < rows ? _mm512_maskz_loadu_epi8(mask, src + row * stride + at) : _mm512_setzero_si512();
      }
      transpose_16x16_dwords(r);
      std::byte* tile = dst + s * kStepBytes + half * kTileBytes;
      for (int64_t i = 0; i < 16; ++i) _mm512_store_si512(tile + i * 64, r[i]);
    }
  }
}

// Rows [r0, r0 + rows) of A into tile order: per 32-row block, per K step, two tiles.
DIFFUSE_AMX_GEMM_TARGET void pack_a(const GemmSource& a, int64_t k, int64_t steps, int64_t r0, int64_t rows, std::byte* dst) {
  const int64_t elem = static_cast<int64_t>(dtype_size(a.dtype));
  const int64_t step = step_values(a.dtype);
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t r = 0; r < kBlockRows; ++r) {
      const int64_t row = b * kBlockRows + r;
      std::byte* out = dst + b * steps * kStepBytes + (r / 16) * kTileBytes + (r % 16) * 64;
      if (row >= rows) {
        for (int64_t s = 0; s < steps; ++s) std::memset(out + s * kStepBytes, 0, 64);
        continue;
      }
      const auto* src = static_cast<const std::byte*>(a.data) + a.row_offset(r0 + row) * elem;
      for (int64_t s = 0; s < steps; ++s) pack_row_chunk(a, src, k, s * step, out + s * kStepBytes);
    }
  }
}

// s32 accumulators -> f32 in place, times the row (token) and column (channel) scales.
DIFFUSE_AMX_GEMM_TARGET void dequantize_block(std::byte* acc, int64_t ld, int64_t rows, int64_t cols,
                                              const float* row_scales, const float* col_scales) {
  for (int64_t r = 0; r < rows; ++r) {
    auto* p = reinterpret_cast<int32_t*>(acc + r * ld);
    auto* f = reinterpret_cast<float*>(p);
    const __m512 rs = _mm512_set1_ps(row_scales[r]);
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16) {
      const __m512 v = _mm512_cvtepi32_ps(_mm512_loadu_si512(p + c));
      _mm512_storeu_ps(f + c, _mm512_mul_ps(_mm512_mul_ps(v, rs), _mm512_loadu_ps(col_scales + c)));
    }
    for (; c < cols; ++c) f[c] = static_cast<float>(p[c]) * row_scales[r] * col_scales[c];
  }
}

struct Task {
  int64_t r0, r1;    // rows of A
  int64_t cb0, cb1;  // 32-column blocks of W
};

template <bool kInt8>
DIFFUSE_AMX_GEMM_TARGET void run_task(const GemmSource& a, const PackedWeight& w, const float* col_scales, const BlockEpilogue& epilogue,
              const Task& task) {
  const int64_t steps = w.k_steps();
  const int64_t ldc = kMacroCols * 4;
  std::byte* packed = thread_buffer(0, (kMacroRows / kBlockRows) * steps * kStepBytes);
  std::byte* acc = thread_buffer(1, kMacroRows * ldc);
  configure_full_tiles();
  for (int64_t m0 = task.r0; m0 < task.r1; m0 += kMacroRows) {
    const int64_t rows = std::min(kMacroRows, task.r1 - m0);
    const int64_t row_blocks = (rows + kBlockRows - 1) / kBlockRows;
    pack_a(a, w.k(), steps, m0, rows, packed);
    for (int64_t cb = task.cb0; cb < task.cb1; cb += kMacroCols / kBlockCols) {
      const int64_t col_blocks = std::min(kMacroCols / kBlockCols, task.cb1 - cb);
      for (int64_t s0 = 0; s0 < steps; s0 += kSliceSteps) {
        const int64_t slice = std::min(kSliceSteps, steps - s0);
        for (int64_t j = 0; j < col_blocks; ++j) {
          const std::byte* wp = w.block(cb + j) + s0 * kStepBytes;
          // The next column block's slice is fetched towards L2 while this one is in use: tile
          // loads that miss L2 stall the tile unit (measured: ~5% here).
          const std::byte* next = cb + j + 1 < task.cb1 ? w.block(cb + j + 1) + s0 * kStepBytes : nullptr;
          const int64_t lines = slice * kStepBytes / 64, per_block = (lines + row_blocks - 1) / row_blocks;
          for (int64_t i = 0; i < row_blocks; ++i) {
            if (next != nullptr)
              for (int64_t l = i * per_block; l < std::min(lines, (i + 1) * per_block); ++l)
                _mm_prefetch(reinterpret_cast<const char*>(next + l * 64), _MM_HINT_T1);
            tile_block<kInt8>(packed + (i * steps + s0) * kStepBytes, wp, slice,
                              acc + i * kBlockRows * ldc + j * kBlockCols * 4, ldc, s0 == 0);
          }
        }
      }
      const int64_t col0 = cb * kBlockCols;
      const int64_t cols = std::min(col_blocks * kBlockCols, w.n() - col0);
      if constexpr (kInt8) dequantize_block(acc, ldc, rows, cols, a.row_scales + m0, col_scales + col0);
      epilogue(m0, rows, col0, cols, reinterpret_cast<float*>(acc), kMacroCols);
    }
  }
  release_tiles();
}

}  // namespace

bool gemm_available(DType type) {
  static const bool forced_onednn = [] {
    const char* env = std::getenv("DIFFUSE_GEMM");
    return env != nullptr && std::string_view(env) == "onednn";
  }();
  if (forced_onednn) return false;
  if (type == DType::BF16) return cpu_has_amx_bf16();
  if (type == DType::I8) return cpu_has_amx_int8();
  return false;
}

PackedWeight PackedWeight::pack(const Tensor& weight) {
  DIFFUSE_CHECK(weight.ndim() == 2, "AMX weight must be [out, in], got ", shape_str(weight.shape()));
  DIFFUSE_CHECK(weight.dtype() == DType::BF16 || weight.dtype() == DType::I8, "AMX weights are BF16 or I8, not ",
                dtype_name(weight.dtype()));
  DIFFUSE_CHECK(weight.strides()[1] == 1 || weight.dim(1) == 1, "AMX weight rows must be contiguous");
  const int64_t elem = static_cast<int64_t>(dtype_size(weight.dtype()));
  const auto* base = static_cast<const std::byte*>(weight.raw());
  const int64_t stride_bytes = weight.strides()[0] * elem;
  PackedWeight p;
  p.pack_rows(weight.dim(0), weight.dim(1), weight.dtype(), [&](int64_t row0, int64_t, std::byte*, int64_t& stride) {
    stride = stride_bytes;
    return base + row0 * stride_bytes;
  });
  return p;
}

void PackedWeight::pack_rows(int64_t n, int64_t k, DType dtype, const RowProducer& produce) {
  DIFFUSE_CHECK(dtype == DType::BF16 || dtype == DType::I8, "AMX weights are BF16 or I8, not ", dtype_name(dtype));
  DIFFUSE_CHECK(n > 0 && k > 0, "AMX weight: empty [", n, ", ", k, "]");
  const int64_t n_blocks = (n + kBlockCols - 1) / kBlockCols;
  const int64_t k_steps = (k + step_values(dtype) - 1) / step_values(dtype);
  // Reuse the storage when it is large enough (a per-call dequantized weight).
  if (!data_ || capacity_ < n_blocks * k_steps * kStepBytes) {
    capacity_ = n_blocks * k_steps * kStepBytes;
    data_ = aligned_bytes(capacity_);
  }
  n_ = n;
  k_ = k;
  dtype_ = dtype;
  k_steps_ = k_steps;
  const int64_t row_bytes = k * static_cast<int64_t>(dtype_size(dtype));
  parallel_for(n_blocks, 1, [&](int64_t b0, int64_t b1) {
    std::byte* scratch = thread_buffer(2, kBlockCols * row_bytes);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t row0 = b * kBlockCols, rows = std::min(kBlockCols, n - row0);
      int64_t stride = row_bytes;
      const std::byte* src = produce(row0, rows, scratch, stride);
      transpose_into_tiles(src, stride, rows, row_bytes, k_steps, data_.get() + b * k_steps * kStepBytes);
    }
  });
}

void gemm(const GemmSource& a, const PackedWeight& w, const float* col_scales, const BlockEpilogue& epilogue) {
  const bool int8 = w.dtype() == DType::I8;
  DIFFUSE_CHECK(gemm_available(w.dtype()), "AMX GEMM: this CPU cannot run ", dtype_name(w.dtype()), " tiles");
  DIFFUSE_CHECK(int8 ? a.dtype == DType::I8 : (a.dtype == DType::F32 || a.dtype == DType::BF16),
                "AMX GEMM: source ", dtype_name(a.dtype), " does not match a ", dtype_name(w.dtype()), " weight");
  DIFFUSE_CHECK(!int8 || (a.row_scales != nullptr && col_scales != nullptr), "AMX GEMM: int8 needs row and column scales");
  if (a.rows == 0) return;
  // Split the columns across threads when there are enough of them (each thread then reads only
  // its share of the weight); otherwise split the rows in whole 32-row blocks.
  const int64_t parts = std::max(1, num_threads());
  const int64_t col_blocks = (w.n() + kBlockCols - 1) / kBlockCols;
  const int64_t row_blocks = (a.rows + kBlockRows - 1) / kBlockRows;
  const bool by_cols = col_blocks >= 2 * parts || row_blocks < parts;
  const int64_t units = by_cols ? col_blocks : row_blocks;
  const int64_t tasks = std::min(parts, units);
  parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t u0 = units * t / tasks, u1 = units * (t + 1) / tasks;
      const Task task = by_cols ? Task{0, a.rows, u0, u1}
                                : Task{u0 * kBlockRows, std::min(a.rows, u1 * kBlockRows), 0, col_blocks};
      if (int8) run_task<true>(a, w, col_scales, epilogue, task);
      else run_task<false>(a, w, col_scales, epilogue, task);
    }
  });
}

#else
bool gemm_available(DType) { return false; }
PackedWeight PackedWeight::pack(const Tensor&) { fail("AMX GEMM: needs an x86-64 build"); }
void PackedWeight::pack_rows(int64_t, int64_t, DType, const RowProducer&) { fail("AMX GEMM: needs an x86-64 build"); }
void gemm(const GemmSource&, const PackedWeight&, const float*, const BlockEpilogue&) {
  fail("AMX GEMM: needs an x86-64 build");
}
#endif

}  // namespace diffuse::ops::amx
