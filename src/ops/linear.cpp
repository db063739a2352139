#include "ops/linear.h"

#include <map>
#include <optional>
#include <unordered_map>

#include "ops/amx_gemm.h"
#include "ops/dnnl_context.h"
#include "ops/gemm_operand.h"
#include "ops/tensor_args.h"
#include "ops/w8a8_linear.h"
#include "runtime/parallel.h"
#include "runtime/profiler.h"
#include "tensor/half.h"

namespace diffuse::ops {

using dnnl::memory;
using Tag = memory::format_tag;

DType gemm_dtype_for_weight(DType weight_dtype) {
  switch (weight_dtype) {
    case DType::F32: return DType::F32;
    case DType::BF16: return DType::BF16;
    case DType::F16: return DType::F32;
    default: break;
  }
  fail("Linear: unsupported weight dtype ", dtype_name(weight_dtype));
}

namespace {

// Where the residual add happens. oneDNN's fast matmul reads a binary post-op operand
// after it has started accumulating into dst, so a residual that IS the output must use
// the `sum` post-op (dst += ...) instead; measured: binary_add with src1 == dst is wrong.
enum class ResidualMode { None, PostOpAdd, InPlaceSum, SeparatePass };

struct PrimKey {
  int64_t m;
  int64_t cols;  // output columns per GEMM: all N, or one slice of a quantized weight
  Activation activation;
  bool gate;
  ResidualMode residual;
  auto operator<=>(const PrimKey&) const = default;
};

struct Prim {
  dnnl::matmul matmul;
  bool packed_weights = false;
  int gate_post_op = -1;      // post-op index of the gate multiply
  int residual_post_op = -1;  // post-op index of the residual add
};

// oneDNN eltwise post-op (algorithm, alpha) for an activation.
std::pair<dnnl::algorithm, float> eltwise_for(Activation a) {
  switch (a) {
    case Activation::GeluTanh: return {dnnl::algorithm::eltwise_gelu_tanh, 0.f};
    case Activation::GeluErf: return {dnnl::algorithm::eltwise_gelu_erf, 0.f};
    case Activation::Silu: return {dnnl::algorithm::eltwise_swish, 1.f};        // x sigmoid(x)
    case Activation::QuickGelu: return {dnnl::algorithm::eltwise_swish, 1.702f};  // x sigmoid(1.702 x)
    case Activation::Identity: break;
  }
  fail("Linear: no eltwise post-op for activation ", activation_name(a));
}

bool same_view(const Tensor& a, const Tensor& b) {
  return a.raw() == b.raw() && a.dtype() == b.dtype() && a.shape() == b.shape() &&
         a.strides() == b.strides();
}

// out[r] = residual[r] + src[r] (src dense M x N; src == nullptr means src is out itself).
// residual may be out itself (each element is read before it is written).
void add_rows(Tensor& out, const Tensor* residual, const float* src, int64_t rows, int64_t cols) {
  float* out_base = out.data_mut<float>();
  const float* res_base = residual ? residual->data<float>() : nullptr;
  const Rows out_rows(out, "Linear", "output");
  const std::optional<Rows> res_rows =
      residual ? std::optional<Rows>(Rows(*residual, "Linear", "residual")) : std::nullopt;
  parallel_for(rows, rows_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* o = out_base + out_rows.offset(r);
      const float* s = src ? src + r * cols : o;
      if (res_base) {
        const float* q = res_base + res_rows->offset(r);
        for (int64_t j = 0; j < cols; ++j) o[j] = q[j] + s[j];
      } else if (s != o) {
        for (int64_t j = 0; j < cols; ++j) o[j] = s[j];
      }
    }
  });
}

#if defined(__x86_64__)
// Only the AMX path calls it, and every AMX CPU has AVX-512: let the loops use it.
#define DIFFUSE_EPILOGUE_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#else
#define DIFFUSE_EPILOGUE_TARGET
#endif

// out = residual + gate * act(acc + bias) for one row segment of an AMX output block (the same
// order of operations as the oneDNN post-op chain). residual may be out itself. A BF16 output
// (out16, no residual) is rounded to nearest even as it is stored.
DIFFUSE_EPILOGUE_TARGET void finish_row(float* acc, int64_t cols, const float* bias, Activation act, const float* gate,
                                        const float* residual, float* out, uint16_t* out16) {
  if (bias != nullptr)
    for (int64_t j = 0; j < cols; ++j) acc[j] += bias[j];
  if (act != Activation::Identity) {
    if (out16 != nullptr)
      apply_activation_for_bf16(acc, cols, act);
    else
      apply_activation(acc, cols, act);
  }
  if (gate != nullptr)
    for (int64_t j = 0; j < cols; ++j) acc[j] *= gate[j];
  if (out16 != nullptr) {
    f32_to_bf16(acc, out16, static_cast<size_t>(cols));
  } else if (residual != nullptr) {
    for (int64_t j = 0; j < cols; ++j) out[j] = residual[j] + acc[j];
  } else {
    for (int64_t j = 0; j < cols; ++j) out[j] = acc[j];
  }
}

// A representative M for choosing the prepacked layout (oneDNN's blocked weight layout does
// not depend on M for its brgemm kernels; other Ms that disagree fall back to plain weights).
constexpr int64_t kPackM = 1024;

// The dequantized weight, reused by every quantized Linear run from this thread (one buffer per
// thread instead of one per layer).
Tensor& quant_slice_buffer(int64_t elements, DType dtype) {
  thread_local Tensor buffer;
  if (buffer.numel() < elements || buffer.dtype() != dtype) buffer = Tensor::empty({elements}, dtype);
  return buffer;
}

}  // namespace

struct Linear::Impl {
  int64_t n = 0, k = 0;
  DType dtype = DType::F32;  // GEMM element type
  Tensor weight;             // [N, K] in `dtype`, contiguous (a view of the caller's memory when possible)
  Tensor bias;               // [N] f32 or undefined
  memory::desc plain_weight_md;
  memory::desc packed_weight_md;
  memory packed_weight;  // empty unless prepacked
  std::optional<QuantizedWeight> quantized;  // set: `weight` is unused, slices are dequantized per call
  // W8A8 (dtype I8): `weight` is the quantized weight's I8 values and runs as is, against the
  // activations quantized per token into x_scratch (values) and token_scales (ops/w8a8_linear.h).
  bool w8a8 = false;
  // Set when the GEMMs run on our AMX kernels (ops/amx_gemm.h) instead of oneDNN's: the weight
  // (BF16, or W8A8's I8 values) rearranged into tiles, replacing oneDNN's prepacked copy.
  std::optional<amx::PackedWeight> amx_weight;
  // A weight-only quantized layer whose bf16 GEMMs run on the AMX kernels: each call dequantizes
  // the weight straight into tile order (instead of into rows for oneDNN).
  bool amx_dequantize = false;
  mutable std::map<PrimKey, Prim> prims;
  mutable Tensor x_scratch, out_scratch, token_scales;

  memory::data_type dt() const { return dnnl_dtype(dtype); }

  Prim make_prim(const PrimKey& key) const {
    dnnl::post_ops ops;
    dnnl::primitive_attr attr;
    Prim p;
    // W8A8: the dequantization (weight and token scales, then the bias) comes first. Its GEMMs
    // always span all N columns (the weight scales are baked in from column 0).
    DIFFUSE_CHECK(!w8a8 || key.cols == n, "Linear: W8A8 GEMMs cover all output columns");
    int index = w8a8 ? append_w8a8_dequantize(attr, ops, quantized->scales.data<float>(), key.m, key.cols, bias.defined())
                     : 0;
    if (key.activation != Activation::Identity) {
      const auto [algorithm, alpha] = eltwise_for(key.activation);
      ops.append_eltwise(1.f, algorithm, alpha, 0.f);
      ++index;
    }
    if (key.gate) {
      ops.append_binary(dnnl::algorithm::binary_mul, col_desc(key.cols));
      p.gate_post_op = index++;
    }
    if (key.residual == ResidualMode::PostOpAdd) {
      ops.append_binary(dnnl::algorithm::binary_add, out_desc(key.m, key.cols));
      p.residual_post_op = index++;
    } else if (key.residual == ResidualMode::InPlaceSum) {
      ops.append_sum(1.f);
      ++index;
    }
    attr.set_post_ops(ops);
    const memory::desc src_md = src_desc(key.m);
    const memory::desc dst_md = out_desc(key.m, key.cols);
    const memory::desc bias_md = col_desc(key.cols);
    auto make_pd = [&](const memory::desc& w_md) {
      return bias.defined() && !w8a8 ? dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, w_md, bias_md, dst_md), attr, dnnl_engine())
                            : dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, w_md, dst_md), attr, dnnl_engine());
    };
    if (packed_weight && key.cols == n) {
      try {
        auto pd = make_pd(packed_weight_md);
        if (!dnnl_is_reference_impl(pd.impl_info_str())) {
          p.matmul = dnnl::matmul(pd);
          p.packed_weights = true;
          return p;
        }
      } catch (const dnnl::error&) {
        // This M wants another layout: use the weight as stored.
      }
    }
    p.matmul = dnnl::matmul(make_pd(key.cols == n ? plain_weight_md : memory::desc({k, key.cols}, dt(), Tag::ba)));
    return p;
  }

  // rows x cols f32 block of the [.., N] output (row stride N): all of it, or a column slice.
  // W8A8 GEMMs describe every operand in 3-D (see ops/w8a8_linear.h).
  memory::desc out_desc(int64_t rows, int64_t cols) const {
    if (w8a8) return w8a8::dst_desc(rows, cols, n);
    return memory::desc({rows, cols}, memory::data_type::f32, memory::dims{n, 1});
  }
  memory::desc src_desc(int64_t rows) const {
    return w8a8 ? w8a8::src_desc(rows, k) : memory::desc({rows, k}, dt(), Tag::ab);
  }
  // One f32 value per output column (bias, gate row).
  memory::desc col_desc(int64_t cols) const {
    return w8a8 ? w8a8::col_desc(cols) : memory::desc({1, cols}, memory::data_type::f32, Tag::ab);
  }

  // Reorders `weight` once into the blocked layout oneDNN's kernels pick for this GEMM type.
  void prepack() {
    const memory::desc src_md = src_desc(kPackM);
    const memory::desc any_md = w8a8 ? w8a8::any_weights_desc(k, n) : memory::desc({k, n}, dt(), Tag::any);
    const memory::desc dst_md = out_desc(kPackM, n);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, any_md, dst_md), dnnl_engine());
    if (pd.weights_desc() != plain_weight_md) {
      packed_weight_md = pd.weights_desc();
      packed_weight = memory(packed_weight_md, dnnl_engine());
      memory plain = dnnl_memory(plain_weight_md, weight.raw());
      dnnl::reorder(plain, packed_weight).execute(dnnl_stream(), plain, packed_weight);
      dnnl_stream().wait();
    }
  }

  // The one rearranged copy of the weight: AMX tiles when our kernels can run this type, else
  // oneDNN's blocked layout.
  void prepack_for_gemm(bool allow_amx) {
    if (allow_amx && amx::gemm_available(dtype))
      amx_weight = amx::PackedWeight::pack(weight);
    else
      prepack();
  }

  // out = residual + gate * act(x W^T + b) on the AMX kernels; the epilogue runs on each output
  // block while it is in cache. gate: `groups` rows of N (or null); residual may be out itself.
  void forward_amx(const amx::PackedWeight& packed, const Tensor& x, Tensor& out, const float* gate, int64_t groups,
                   const Tensor& residual, Activation activation) const {
    const int64_t m = x.numel() / k;
    if (m == 0) return;
    amx::GemmSource src;
    Tensor converted;  // F16 input, converted once
    if (w8a8) {
      const RowMatrix q = quantize_tokens(x);
      src = {q.data, DType::I8, m, k, token_scales.data<float>()};
    } else {
      const Tensor& in = x.dtype() == DType::F32 || x.dtype() == DType::BF16 ? x : (converted = x.to(DType::F32));
      const std::optional<Rows::Grouping> g = Rows(in, "Linear", "input").grouping();
      if (g) {
        src = {in.raw(), in.dtype(), m, g->row_stride, nullptr, g->group_rows, g->group_stride};
      } else {
        const RowMatrix dense = dense_rows(in, DType::BF16, x_scratch);
        src = {dense.data, DType::BF16, m, dense.row_stride, nullptr};
      }
    }
    const Rows out_rows(out, "Linear", "output");
    const std::optional<Rows> res_rows =
        residual.defined() ? std::optional<Rows>(Rows(residual, "Linear", "residual")) : std::nullopt;
    const bool bf16_out = out.dtype() == DType::BF16;
    float* out_base = bf16_out ? nullptr : out.data_mut<float>();
    uint16_t* out16_base = bf16_out ? out.data_mut<uint16_t>() : nullptr;
    const float* res_base = residual.defined() ? residual.data<float>() : nullptr;
    const float* bias_base = bias.defined() ? bias.data<float>() : nullptr;
    const int64_t rows_per_group = m / groups;
    amx::gemm(src, packed, w8a8 ? quantized->scales.data<float>() : nullptr,
              [&](int64_t row0, int64_t rows, int64_t col0, int64_t cols, float* acc, int64_t ld) {
                for (int64_t r = 0; r < rows; ++r) {
                  const int64_t row = row0 + r;
                  finish_row(acc + r * ld, cols, bias_base ? bias_base + col0 : nullptr, activation,
                             gate ? gate + (groups == 1 ? 0 : row / rows_per_group * n) + col0 : nullptr,
                             res_base ? res_base + res_rows->offset(row) + col0 : nullptr,
                             bf16_out ? nullptr : out_base + out_rows.offset(row) + col0,
                             bf16_out ? out16_base + out_rows.offset(row) + col0 : nullptr);
                }
              });
  }

  // x [..., K] quantized per token into the scratch buffers, as the GEMM's s8 source.
  RowMatrix quantize_tokens(const Tensor& x) const {
    const int64_t m = x.numel() / k;
    if (!x_scratch.defined() || x_scratch.numel() < m * k || x_scratch.dtype() != DType::I8)
      x_scratch = Tensor::empty({std::max<int64_t>(m * k, 1)}, DType::I8);
    if (!token_scales.defined() || token_scales.numel() < m) token_scales = Tensor::empty({std::max<int64_t>(m, 1)}, DType::F32);
    quantize_per_token(x, x_scratch.data_mut<int8_t>(), token_scales.data_mut<float>());
    return RowMatrix{x_scratch.raw(), m, k, k, DType::I8};
  }

  const Prim& prim(const PrimKey& key) const {
    auto it = prims.find(key);
    if (it == prims.end()) it = prims.emplace(key, make_prim(key)).first;
    return it->second;
  }
};

Linear::Linear(const Tensor& weight, const Tensor* bias, LinearOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  DIFFUSE_CHECK(weight.ndim() == 2, "Linear: weight must be [out, in], got ", shape_str(weight.shape()));
  im.n = weight.dim(0);
  im.k = weight.dim(1);
  DIFFUSE_CHECK(im.n > 0 && im.k > 0, "Linear: empty weight ", shape_str(weight.shape()));
  im.dtype = gemm_dtype_for_weight(weight.dtype());
  im.weight = weight.dtype() == im.dtype ? weight.contiguous() : weight.to(im.dtype);
  if (bias) {
    im.bias = vector_as_f32(*bias, im.n, "Linear", "bias");
  }
  // oneDNN's weights are K x N; PyTorch's [N, K] rows are its columns ("ba").
  im.plain_weight_md = memory::desc({im.k, im.n}, im.dt(), Tag::ba);
  if (options.prepack) im.prepack_for_gemm(options.amx);
}

Linear::Linear(QuantizedWeight weight, const Tensor* bias, DType compute, LinearOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  DIFFUSE_CHECK(compute == DType::BF16 || compute == DType::F32 || compute == DType::I8,
                "Linear: quantized weights run BF16, F32 or I8 (W8A8) GEMMs, not ", dtype_name(compute));
  DIFFUSE_CHECK(compute != DType::I8 || weight.format == QuantFormat::Int8PerChannel,
                "Linear: W8A8 needs an int8 per-channel weight, got a ", weight.bits, "-bit affine one");
  DIFFUSE_CHECK(weight.out_features > 0 && weight.in_features > 0 && weight.values.defined(),
                "Linear: empty quantized weight");
  im.n = weight.out_features;
  im.k = weight.in_features;
  im.dtype = compute;
  if (bias) im.bias = vector_as_f32(*bias, im.n, "Linear", "bias");
  im.quantized = with_dense_aligned_storage(std::move(weight));
  // A slice as wide as the layer reads the dequantized buffer in the plain layout.
  im.plain_weight_md = memory::desc({im.k, im.n}, im.dt(), Tag::ba);
  im.amx_dequantize = compute == DType::BF16 && options.prepack && options.amx && amx::gemm_available(DType::BF16);
  if (compute == DType::I8) {
    im.w8a8 = true;
    im.weight = im.quantized->values;
    im.plain_weight_md = w8a8::weights_desc(im.k, im.n);
    if (options.prepack) im.prepack_for_gemm(options.amx);
    // The AMX tiles are the only copy the GEMMs read: drop the int8 values (they would double
    // the layer's memory). oneDNN's path keeps them for the Ms its blocked layout does not fit.
    if (im.amx_weight) {
      im.weight = Tensor();
      im.quantized->values = Tensor();
    }
  }
}

Linear::~Linear() = default;
Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;

int64_t Linear::in_features() const { return impl_->k; }
int64_t Linear::out_features() const { return impl_->n; }
DType Linear::gemm_dtype() const { return impl_->dtype; }
const QuantizedWeight* Linear::quantized_weight() const {
  return impl_->quantized ? &*impl_->quantized : nullptr;
}

Tensor Linear::forward(const Tensor& x, const Epilogue& epilogue) const {
  DIFFUSE_CHECK(x.ndim() >= 1, "Linear: scalar input");
  Shape shape = x.shape();
  shape.back() = impl_->n;
  Tensor out = Tensor::empty(shape, DType::F32);
  forward_into(x, out, epilogue);
  return out;
}

// oneDNN wants one dense block of rows per call. A batch-strided [B, S, K] view whose items are
// each dense (the text or image rows of a joint [B, L, D] buffer) therefore runs one batch item
// at a time rather than through scratch copies; returns false for any other layout. (The AMX
// kernels read and write such views in place.)
bool Linear::forward_per_batch_item(const Tensor& x, Tensor& out, const Epilogue& e) const {
  if (out.ndim() != 3 || x.ndim() != 3 || out.dim(0) < 2) return false;
  if (out.is_contiguous() && x.is_contiguous()) return false;
  if (!out.select(0, 0).is_contiguous() || !x.select(0, 0).is_contiguous()) return false;
  const bool residual_is_out = e.residual.defined() && same_view(e.residual, out);
  for (int64_t b = 0; b < out.dim(0); ++b) {
    Tensor ob = out.select(0, b);
    Epilogue eb;
    eb.activation = e.activation;
    if (e.gate.defined()) eb.gate = e.gate.ndim() == 1 || e.gate.dim(0) == 1 ? e.gate : e.gate.select(0, b);
    if (e.residual.defined()) eb.residual = residual_is_out ? ob : e.residual.select(0, b);
    forward_into(x.select(0, b), ob, eb);
  }
  return true;
}

void Linear::forward_into(const Tensor& x, Tensor& out, const Epilogue& e) const {
  ProfileScope scope(profile_scopes::kGemm);
  const Impl& im = *impl_;
  DIFFUSE_CHECK(x.ndim() >= 1 && x.dim(-1) == im.k, "Linear [", im.n, "x", im.k, "]: input ",
                shape_str(x.shape()), " has the wrong last dim");
  Shape want = x.shape();
  want.back() = im.n;
  DIFFUSE_CHECK(out.shape() == want && (out.dtype() == DType::F32 || out.dtype() == DType::BF16), "Linear: output ",
                shape_str(out.shape()), " ", dtype_name(out.dtype()), ", expected ", shape_str(want), " F32 or BF16");
  if (out.dtype() == DType::BF16) {
    DIFFUSE_CHECK(!e.residual.defined(), "Linear: a residual needs an F32 output");
    if (!im.amx_weight) {
      // oneDNN's path computes f32 and rounds once into the output.
      Tensor f32 = Tensor::empty(want, DType::F32);
      forward_into(x, f32, e);
      out.copy_from(f32);
      return;
    }
  }
  DIFFUSE_CHECK(out.strides().back() == 1 || im.n == 1, "Linear: output last dim must have unit stride");
  DIFFUSE_CHECK(!overlaps(x, out), "Linear: input and output overlap");
  if (!im.amx_weight && !im.amx_dequantize && forward_per_batch_item(x, out, e)) return;
  // Gate rows: G == 1 broadcasts; otherwise one row per batch (x's first dim).
  Tensor gate_f32;
  const float* gate = nullptr;
  int64_t groups = 1;
  if (e.gate.defined()) {
    DIFFUSE_CHECK(e.gate.numel() % im.n == 0 && e.gate.dim(-1) == im.n, "Linear: gate ",
                  shape_str(e.gate.shape()), " does not end in ", im.n);
    groups = e.gate.numel() / im.n;
    DIFFUSE_CHECK(groups == 1 || (x.ndim() >= 2 && x.dim(0) == groups), "Linear: gate has ", groups,
                  " rows but the input's batch dim is ", shape_str(x.shape()));
    gate_f32 = e.gate.dtype() == DType::F32 && e.gate.is_contiguous() ? e.gate : e.gate.to(DType::F32);
    gate = gate_f32.data<float>();
  }

  // Residual: fused into the GEMM when the output is one dense block.
  const bool out_dense = out.is_contiguous();
  Tensor residual = e.residual;
  ResidualMode mode = ResidualMode::None;
  if (residual.defined()) {
    DIFFUSE_CHECK(residual.shape() == want && residual.dtype() == DType::F32, "Linear: residual ",
                  shape_str(residual.shape()), " ", dtype_name(residual.dtype()), ", expected ",
                  shape_str(want), " F32");
    const bool alias = same_view(residual, out);
    if (!alias && overlaps(residual, out)) residual = residual.clone();  // partial overlap: detach
    if (!out_dense || (!alias && (!residual.is_contiguous() || residual.strides().back() != 1)))
      mode = ResidualMode::SeparatePass;
    else
      mode = alias ? ResidualMode::InPlaceSum : ResidualMode::PostOpAdd;
  }
  if (im.amx_weight) {
    im.forward_amx(*im.amx_weight, x, out, gate, groups, residual, e.activation);
    return;
  }
  if (im.amx_dequantize) {
    // Dequantized straight into tile order, in one buffer shared by every quantized layer.
    thread_local amx::PackedWeight tiles;
    tiles.pack_rows(im.n, im.k, DType::BF16, [&](int64_t row0, int64_t rows, std::byte* scratch, int64_t&) {
      dequantize_rows(*im.quantized, row0, rows, DType::BF16, scratch);
      return static_cast<const std::byte*>(scratch);
    });
    im.forward_amx(tiles, x, out, gate, groups, residual, e.activation);
    return;
  }

  const RowMatrix src = im.w8a8 ? im.quantize_tokens(x) : dense_rows(x, im.dtype, im.x_scratch);
  const int64_t m = src.rows;
  if (m == 0) return;

  float* dst;
  if (out_dense) {
    dst = out.data_mut<float>();
  } else {
    if (im.out_scratch.numel() < m * im.n) im.out_scratch = Tensor::empty({m * im.n}, DType::F32);
    dst = im.out_scratch.data_mut<float>();
  }

  const int64_t rows_per_group = m / groups;
  const ResidualMode fused = mode == ResidualMode::SeparatePass ? ResidualMode::None : mode;
  const memory::desc src_md = im.src_desc(rows_per_group);
  const size_t src_elem = dtype_size(im.dtype);
  // One GEMM over all N columns. A quantized weight is dequantized whole into the per-thread
  // buffer first. Measured: GEMMs on column slices (a strided output) with gate / residual
  // post-ops fall back to oneDNN's reference kernel, so slicing for cache reuse lost far more
  // than it saved; the loop stays general so narrower slices can return with a packed layout.
  const int64_t slice = im.n;
  for (int64_t c0 = 0; c0 < im.n; c0 += slice) {
    const int64_t cols = std::min(slice, im.n - c0);
    const Prim& p = im.prim(PrimKey{rows_per_group, cols, e.activation, gate != nullptr, fused});
    memory weights;
    if (im.quantized && !im.w8a8) {
      Tensor& buffer = quant_slice_buffer(cols * im.k, im.dtype);
      auto* base = static_cast<std::byte*>(buffer.raw_mut());
      const size_t row_bytes = static_cast<size_t>(im.k) * src_elem;
      parallel_for(cols, rows_grain(im.k, 1 << 13), [&](int64_t r0, int64_t r1) {
        dequantize_rows(*im.quantized, c0 + r0, r1 - r0, im.dtype, base + r0 * row_bytes);
      });
      weights = dnnl_memory(memory::desc({im.k, cols}, im.dt(), Tag::ba), base);
    } else {
      weights = p.packed_weights ? im.packed_weight : dnnl_memory(im.plain_weight_md, im.weight.raw());
    }
    const memory::desc dst_md = im.out_desc(rows_per_group, cols);
    const memory::desc row_md = im.col_desc(cols);
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t row0 = g * rows_per_group;
      std::unordered_map<int, memory> args;
      args[DNNL_ARG_SRC] = dnnl_memory(src_md, static_cast<const std::byte*>(src.data) + row0 * im.k * src_elem);
      args[DNNL_ARG_WEIGHTS] = weights;
      args[DNNL_ARG_DST] = dnnl_memory(dst_md, dst + row0 * im.n + c0);
      if (im.w8a8) {
        args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] =
            dnnl_memory(w8a8::row_desc(rows_per_group), im.token_scales.data<float>() + row0);
        if (im.bias.defined())
          args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1] = dnnl_memory(row_md, im.bias.data<float>() + c0);
      } else if (im.bias.defined()) {
        args[DNNL_ARG_BIAS] = dnnl_memory(row_md, im.bias.data<float>() + c0);
      }
      if (p.gate_post_op >= 0)
        args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(p.gate_post_op) | DNNL_ARG_SRC_1] =
            dnnl_memory(row_md, gate + (groups == 1 ? 0 : g * im.n) + c0);
      if (p.residual_post_op >= 0)
        args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(p.residual_post_op) | DNNL_ARG_SRC_1] =
            dnnl_memory(dst_md, residual.data<float>() + row0 * im.n + c0);
      p.matmul.execute(dnnl_stream(), args);
    }
    // The next slice overwrites the buffer this GEMM reads.
    if (im.quantized && !im.w8a8) dnnl_stream().wait();
  }
  dnnl_stream().wait();

  if (mode == ResidualMode::SeparatePass) {
    add_rows(out, &residual, out_dense ? nullptr : dst, m, im.n);
  } else if (!out_dense) {
    add_rows(out, nullptr, dst, m, im.n);
  }
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias) {
  return Linear(weight, bias, LinearOptions{.prepack = false}).forward(x);
}

}  // namespace diffuse::ops
