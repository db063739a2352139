#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "ops/attention_problem.h"
#include "ops/cpu_isa.h"
#include "ops/gemm_operand.h"
#include "ops/tensor_args.h"
#include "runtime/parallel.h"
#include "runtime/profiler.h"
#include "tensor/half.h"

namespace diffuse::ops {

namespace attn {

void for_each_row_group(const Problem& p, int64_t group, int64_t padded_dim, bool as_bf16,
                        const std::vector<RowGroupJob>& jobs) {
  const size_t elem = as_bf16 ? 2 : 4;
  std::vector<int64_t> first_item{0};  // job j owns items [first_item[j], first_item[j + 1])
  size_t max_heads = 0;
  for (const RowGroupJob& job : jobs) {
    first_item.push_back(first_item.back() + p.batch * ((job.len + group - 1) / group));
    max_heads = std::max(max_heads, static_cast<size_t>(job.heads));
  }
  parallel_for(first_item.back(), 1, [&](int64_t begin, int64_t end) {
    std::vector<std::byte> rows(max_heads * static_cast<size_t>(group * padded_dim) * elem);
    std::vector<uint16_t> bits(static_cast<size_t>(p.dim));
    for (int64_t item = begin; item < end; ++item) {
      size_t j = 0;
      while (item >= first_item[j + 1]) ++j;
      const RowGroupJob& job = jobs[j];
      const Operand& o = *job.operand;
      const int64_t groups = (job.len + group - 1) / group, local = item - first_item[j];
      const int64_t b = local / groups, s0 = (local % groups) * group;
      const int64_t valid = std::min(group, job.len - s0);
      if (valid < group)  // positions past len: zero rows
        for (int64_t h = 0; h < job.heads; ++h)
          std::memset(rows.data() + static_cast<size_t>((h * group + valid) * padded_dim) * elem, 0,
                      static_cast<size_t>((group - valid) * padded_dim) * elem);
      for (int64_t s = s0; s < s0 + valid; ++s)
        for (int64_t h = 0; h < job.heads; ++h) {
          std::byte* dst = rows.data() + static_cast<size_t>((h * group + (s - s0)) * padded_dim) * elem;
          std::memset(dst + p.dim * elem, 0, static_cast<size_t>(padded_dim - p.dim) * elem);  // dims past dim
          const std::byte* src = o.row(b, h, s);
          if (as_bf16) {
            convert_elements(src, o.dtype, dst, DType::BF16, p.dim);
          } else if (p.round_bf16 && o.dtype == DType::F32) {
            convert_elements(src, DType::F32, bits.data(), DType::BF16, p.dim);
            convert_elements(bits.data(), DType::BF16, dst, DType::F32, p.dim);
          } else {
            convert_elements(src, o.dtype, dst, DType::F32, p.dim);
          }
        }
      job.fn(b, s0, rows.data());
    }
  });
}

void run_queue(int64_t total, const std::function<void(WorkQueue&)>& worker) {
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), total));
  WorkQueue queue(total, threads);
  parallel_for(threads, 1, [&](int64_t, int64_t) { worker(queue); });
}

void* thread_scratch(int slot, size_t bytes) {
  struct Buffer {
    std::unique_ptr<std::byte, decltype(&std::free)> data{nullptr, &std::free};
    size_t size = 0;
  };
  thread_local Buffer buffers[4];
  DIFFUSE_CHECK(slot >= 0 && slot < 4, "thread_scratch: bad slot ", slot);
  Buffer& b = buffers[slot];
  if (b.size < bytes) {
    const size_t size = (bytes + 63) / 64 * 64;
    b.data.reset(static_cast<std::byte*>(std::aligned_alloc(64, size)));
    DIFFUSE_CHECK(b.data != nullptr, "attention: out of memory allocating ", size, " bytes of scratch");
    b.size = size;
  }
  return b.data.get();
}

bool block_key_bias(const Problem& p, int64_t b, int64_t j0, int64_t n, int64_t padded, float* bias) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const uint8_t* mask = p.key_mask ? p.key_mask + b * p.len_k + j0 : nullptr;
  bool any = padded > n;
  if (mask)
    for (int64_t j = 0; j < n && !any; ++j) any = mask[j] == 0;
  if (!any) return false;
  for (int64_t j = 0; j < n; ++j) bias[j] = mask && mask[j] == 0 ? kNegInf : 0.0f;
  for (int64_t j = n; j < padded; ++j) bias[j] = kNegInf;
  return true;
}

void add_additive_row(const Problem& p, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t n,
                      float* row_bias) {
  const float* a = p.additive + b * p.add_sb + h * p.add_sh + i * p.add_sq + j0 * p.add_sk;
  if (p.add_sk == 1) {
    for (int64_t j = 0; j < n; ++j) row_bias[j] += a[j];
  } else {
    for (int64_t j = 0; j < n; ++j) row_bias[j] += a[j * p.add_sk];
  }
}

void Problem::store_row(int64_t b, int64_t i, int64_t h, float* values, float scale) const {
  for (int64_t d = 0; d < dim; ++d) values[d] *= scale;
  const int64_t offset = b * out_sb + i * out_ss + h * out_sh;
  if (out_dtype == DType::BF16)
    f32_to_bf16(values, reinterpret_cast<uint16_t*>(out) + offset, static_cast<size_t>(dim));
  else
    std::memcpy(reinterpret_cast<float*>(out) + offset, values, static_cast<size_t>(dim) * sizeof(float));
}

}  // namespace attn

namespace {

attn::Operand operand(const Tensor& t, const char* name) {
  DIFFUSE_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::BF16, "attention: ", name,
                " must be F32 or BF16, got ", dtype_name(t.dtype()));
  DIFFUSE_CHECK(t.dim(3) <= 1 || t.strides()[3] == 1, "attention: ", name, " ", shape_str(t.shape()),
                " must have unit stride in its last (head) dim, got stride ", t.strides()[3]);
  return {static_cast<const std::byte*>(t.raw()), t.dtype(), t.strides()[0], t.strides()[1], t.strides()[2]};
}

// Normalizes the key mask to one byte per key (1 = attend).
std::vector<uint8_t> key_mask_bytes(const Tensor& m, int64_t batch, int64_t len_k) {
  DIFFUSE_CHECK(m.ndim() == 2 && m.dim(0) == batch && m.dim(1) == len_k, "attention: key_mask ",
                shape_str(m.shape()), " must be [", batch, ", ", len_k, "]");
  DIFFUSE_CHECK(m.dtype() == DType::Bool || m.dtype() == DType::U8 || m.dtype() == DType::I64 ||
                    m.dtype() == DType::I32 || m.dtype() == DType::I8,
                "attention: key_mask must be Bool, U8 or I64, got ", dtype_name(m.dtype()));
  std::vector<uint8_t> bytes(static_cast<size_t>(batch * len_k));
  const auto* base = static_cast<const std::byte*>(m.raw());
  const size_t elem = dtype_size(m.dtype());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < len_k; ++j) {
      const std::byte* e = base + (b * m.strides()[0] + j * m.strides()[1]) * static_cast<int64_t>(elem);
      bool nonzero = false;
      for (size_t i = 0; i < elem; ++i) nonzero = nonzero || e[i] != std::byte{0};  // any integer width
      bytes[b * len_k + j] = nonzero ? 1 : 0;
    }
  return bytes;
}

bool kernel_available(AttentionKernel k, AttentionPrecision precision) {
  switch (k) {
    case AttentionKernel::Portable: return true;
    case AttentionKernel::Avx512: return cpu_has_avx512();
    case AttentionKernel::Amx: return precision == AttentionPrecision::BF16 && cpu_has_amx_bf16();
    case AttentionKernel::Auto: return true;
  }
  return false;
}

}  // namespace

AttentionKernel attention_auto_kernel(AttentionPrecision precision) {
  for (AttentionKernel k : {AttentionKernel::Amx, AttentionKernel::Avx512})
    if (kernel_available(k, precision)) return k;
  return AttentionKernel::Portable;
}

const char* attention_kernel_name(AttentionKernel kernel) {
  switch (kernel) {
    case AttentionKernel::Auto: return "auto";
    case AttentionKernel::Portable: return "portable";
    case AttentionKernel::Avx512: return "avx512";
    case AttentionKernel::Amx: return "amx";
  }
  return "?";
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  DIFFUSE_CHECK(q.ndim() == 4, "attention: q must be [B, H, S, D], got ", shape_str(q.shape()));
  Tensor out = Tensor::empty({q.dim(0), q.dim(2), q.dim(1), q.dim(3)}, DType::F32);  // every row is written
  attention_into(q, k, v, out, o);
  return out;
}

void attention_into(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out, const AttentionOptions& o) {
  ProfileScope scope(profile_scopes::kAttention);
  DIFFUSE_CHECK(q.ndim() == 4 && k.ndim() == 4 && v.ndim() == 4, "attention: q, k, v must be [B, H, S, D], got ",
                shape_str(q.shape()), ", ", shape_str(k.shape()), ", ", shape_str(v.shape()));
  attn::Problem p;
  p.batch = q.dim(0);
  p.heads_q = q.dim(1);
  p.len_q = q.dim(2);
  p.dim = q.dim(3);
  p.heads_kv = k.dim(1);
  p.len_k = k.dim(2);
  DIFFUSE_CHECK(k.shape() == v.shape(), "attention: k ", shape_str(k.shape()), " and v ", shape_str(v.shape()),
                " differ");
  DIFFUSE_CHECK(k.dim(0) == p.batch && k.dim(3) == p.dim, "attention: q ", shape_str(q.shape()),
                " and k ", shape_str(k.shape()), " disagree on batch or head dim");
  DIFFUSE_CHECK(p.heads_kv > 0 && p.heads_q % p.heads_kv == 0, "attention: ", p.heads_q,
                " query heads are not a multiple of ", p.heads_kv, " kv heads");
  const Shape out_shape{p.batch, p.len_q, p.heads_q, p.dim};
  DIFFUSE_CHECK(out.shape() == out_shape && (out.dtype() == DType::F32 || out.dtype() == DType::BF16),
                "attention: output must be F32 or BF16 ", shape_str(out_shape), ", got ", dtype_name(out.dtype()),
                " ", shape_str(out.shape()));
  DIFFUSE_CHECK(out.strides()[3] == 1 || p.dim == 1, "attention: output head dim must have unit stride");
  DIFFUSE_CHECK(!overlaps(out, q) && !overlaps(out, k) && !overlaps(out, v), "attention: output overlaps q, k or v");
  if (shape_numel(out_shape) == 0) return;
  if (p.len_k == 0) {  // no keys: all 0
    out.copy_from(Tensor::zeros(out_shape, out.dtype()));
    return;
  }
  p.q = operand(q, "q");
  p.k = operand(k, "k");
  p.v = operand(v, "v");
  p.scale = o.scale.value_or(1.0f / std::sqrt(static_cast<float>(p.dim)));
  p.round_bf16 = o.precision == AttentionPrecision::BF16;
  p.out = static_cast<std::byte*>(out.raw_mut());
  p.out_dtype = out.dtype();
  p.out_sb = out.strides()[0];
  p.out_ss = out.strides()[1];
  p.out_sh = out.strides()[2];

  std::vector<uint8_t> mask;
  if (o.key_mask.defined()) {
    mask = key_mask_bytes(o.key_mask, p.batch, p.len_k);
    p.key_mask = mask.data();
  }
  Tensor additive;
  if (o.additive.defined()) {
    const Tensor& a = o.additive;
    DIFFUSE_CHECK(a.dtype() == DType::F32, "attention: additive mask must be F32, got ", dtype_name(a.dtype()));
    DIFFUSE_CHECK(a.ndim() <= 4, "attention: additive mask ", shape_str(a.shape()), " has more than 4 dims");
    const Shape target{p.batch, p.heads_q, p.len_q, p.len_k};
    int64_t strides[4] = {0, 0, 0, 0};
    for (int i = 0; i < a.ndim(); ++i) {
      const int t = 4 - a.ndim() + i;
      DIFFUSE_CHECK(a.shape()[i] == target[t] || a.shape()[i] == 1, "attention: additive mask ",
                    shape_str(a.shape()), " does not broadcast to ", shape_str(target));
      strides[t] = a.shape()[i] == 1 ? 0 : a.strides()[i];
    }
    additive = a;
    p.additive = additive.data<float>();
    p.add_sb = strides[0];
    p.add_sh = strides[1];
    p.add_sq = strides[2];
    p.add_sk = strides[3];
  }

  AttentionKernel kernel = o.kernel == AttentionKernel::Auto ? attention_auto_kernel(o.precision) : o.kernel;
  DIFFUSE_CHECK(kernel_available(kernel, o.precision), "attention: kernel ", attention_kernel_name(kernel),
                " is not available for this precision on this CPU");
  switch (kernel) {
    case AttentionKernel::Amx: attn::run_amx(p); break;
    case AttentionKernel::Avx512: attn::run_avx512(p); break;
    default: attn::run_portable(p); break;
  }
}

}  // namespace diffuse::ops
