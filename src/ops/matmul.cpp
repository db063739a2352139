#include "ops/matmul.h"

#include <unordered_map>

#include "ops/dnnl_context.h"
#include "ops/gemm_operand.h"

namespace diffuse::ops {

using dnnl::memory;

namespace {

// One operand as `batch` dense matrices of rows x cols in the GEMM dtype, stored row-major
// or (transposed == true) column-major.
struct Operand {
  const void* data = nullptr;
  int64_t batch = 1, rows = 0, cols = 0;
  bool transposed = false;
  Tensor storage;  // owns converted copies
};

Shape batch_shape(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

Operand prepare(const Tensor& t, DType want) {
  Operand op;
  op.rows = t.dim(-2);
  op.cols = t.dim(-1);
  op.batch = shape_numel(batch_shape(t));
  if (t.dtype() == want && t.is_contiguous()) {
    op.data = t.raw();
  } else if (t.dtype() == want && t.transpose(-1, -2).is_contiguous()) {
    op.data = t.raw();
    op.transposed = true;
  } else if (t.strides().back() == 1 || op.cols == 1) {
    RowMatrix m = dense_rows(t, want, op.storage);
    op.data = m.data;
  } else {
    op.storage = t.to(want);
    op.data = op.storage.raw();
  }
  return op;
}

// oneDNN descriptor of an operand: a plain 2-D matrix when batch == 0, else [batch, rows, cols]
// (a broadcast operand is described with batch 1, which oneDNN broadcasts).
memory::desc matrix_desc(const Operand& op, int64_t batch, memory::data_type dt) {
  const int64_t r = op.rows, c = op.cols;
  if (batch == 0) return op.transposed ? memory::desc({r, c}, dt, memory::dims{1, r}) : memory::desc({r, c}, dt, memory::dims{c, 1});
  return op.transposed ? memory::desc({batch, r, c}, dt, memory::dims{r * c, 1, r})
                       : memory::desc({batch, r, c}, dt, memory::dims{r * c, c, 1});
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  DIFFUSE_CHECK(a.ndim() >= 2 && b.ndim() >= 2, "matmul: operands must have at least 2 dims, got ",
                shape_str(a.shape()), " and ", shape_str(b.shape()));
  DIFFUSE_CHECK(a.dim(-1) == b.dim(-2), "matmul: inner dims differ: ", shape_str(a.shape()), " x ",
                shape_str(b.shape()));
  for (const Tensor* t : {&a, &b})
    DIFFUSE_CHECK(t->dtype() == DType::F32 || t->dtype() == DType::BF16 || t->dtype() == DType::F16,
                  "matmul: unsupported dtype ", dtype_name(t->dtype()));
  // Broadcast batch dims (right-aligned).
  const Shape ba = batch_shape(a), bb = batch_shape(b);
  const size_t nb = std::max(ba.size(), bb.size());
  Shape batch(nb);
  for (size_t i = 0; i < nb; ++i) {
    const int64_t da = i + ba.size() >= nb ? ba[i + ba.size() - nb] : 1;
    const int64_t db = i + bb.size() >= nb ? bb[i + bb.size() - nb] : 1;
    DIFFUSE_CHECK(da == db || da == 1 || db == 1, "matmul: batch dims do not broadcast: ",
                  shape_str(a.shape()), " x ", shape_str(b.shape()));
    batch[i] = da == 1 ? db : da;
  }
  const int64_t m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = Tensor::empty(out_shape, DType::F32);
  if (out.numel() == 0) return out;
  if (k == 0) return Tensor::zeros(out_shape, DType::F32);

  const DType want = a.dtype() == DType::BF16 && b.dtype() == DType::BF16 ? DType::BF16 : DType::F32;
  const memory::data_type dt = dnnl_dtype(want);
  Operand A = prepare(a, want), B = prepare(b, want);
  const int64_t nbatch = shape_numel(batch);
  auto run = [&](const memory::desc& a_md, const void* a_ptr, const memory::desc& b_md, const void* b_ptr,
                 const memory::desc& c_md, float* c_ptr) {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), dnnl_engine());
    dnnl::matmul(pd).execute(dnnl_stream(), {{DNNL_ARG_SRC, dnnl_memory(a_md, a_ptr)},
                                             {DNNL_ARG_WEIGHTS, dnnl_memory(b_md, b_ptr)},
                                             {DNNL_ARG_DST, dnnl_memory(c_md, c_ptr)}});
  };
  float* c = out.data_mut<float>();
  if (B.batch == 1 && !A.transposed) {
    // One shared right operand: all of a's batches are one tall GEMM.
    Operand tall = A;
    tall.rows = A.batch * m;
    run(matrix_desc(tall, 0, dt), A.data, matrix_desc(B, 0, dt), B.data,
        memory::desc({tall.rows, n}, memory::data_type::f32, memory::format_tag::ab), c);
  } else if ((A.batch == nbatch || A.batch == 1) && (B.batch == nbatch || B.batch == 1)) {
    // Same batch on both sides, or one side broadcast whole (oneDNN broadcasts batch 1).
    run(matrix_desc(A, A.batch, dt), A.data, matrix_desc(B, B.batch, dt), B.data,
        memory::desc({nbatch, m, n}, memory::data_type::f32, memory::format_tag::abc), c);
  } else {
    // Mixed broadcast (e.g. [2,1] x [1,3]): one GEMM per output batch.
    const size_t es = dtype_size(want);
    const memory::desc a_md = matrix_desc(A, 0, dt), b_md = matrix_desc(B, 0, dt);
    const memory::desc c_md({m, n}, memory::data_type::f32, memory::format_tag::ab);
    for (int64_t ob = 0; ob < nbatch; ++ob) {
      int64_t ia = 0, ib = 0, sa = 1, sb = 1, rest = ob;
      for (size_t i = nb; i-- > 0;) {
        const int64_t idx = rest % batch[i];
        rest /= batch[i];
        const int64_t da = i + ba.size() >= nb ? ba[i + ba.size() - nb] : 1;
        const int64_t db = i + bb.size() >= nb ? bb[i + bb.size() - nb] : 1;
        if (da != 1) ia += idx * sa;
        if (db != 1) ib += idx * sb;
        sa *= da;
        sb *= db;
      }
      run(a_md, static_cast<const std::byte*>(A.data) + ia * m * k * es, b_md,
          static_cast<const std::byte*>(B.data) + ib * k * n * es, c_md, c + ob * m * n);
    }
  }
  dnnl_stream().wait();
  return out;
}

}  // namespace diffuse::ops
