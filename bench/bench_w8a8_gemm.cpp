// Int8 GEMM rates for W8A8 (ops/w8a8_linear.h) against bf16, at FLUX Linear shapes.
//
// 1. Raw oneDNN matmul, weights prepacked: u8 x s8 and s8 x s8 (s32 accumulation, f32 output
//    with per-column output scales, as W8A8 runs it) vs bf16 x bf16 -> f32, with the kernel
//    oneDNN picked. This is what decides between symmetric s8 and zero-pointed u8 activations.
// 2. ops::Linear end to end on f32 activations (what the models pass): bf16 (f32 -> bf16 copy +
//    GEMM) vs W8A8 (per-token quantization + int8 GEMM + folded dequantize), and the
//    quantization pass alone.
//
//   bench_w8a8_gemm [--threads N] [--quick]
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "bench_util.h"
#include "ops/dnnl_context.h"
#include "ops/linear.h"
#include "ops/quantized_weight.h"
#include "ops/w8a8_linear.h"
#include "tensor/tensor.h"

using namespace diffuse;
using dnnl::memory;

namespace {

Tensor random_tensor(const Shape& shape, uint32_t seed, float scale) {
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data_mut<float>();
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = scale * (static_cast<float>((x >> 8) & 0xffff) / 32768.0f - 1.0f);
  }
  return t;
}

struct RawResult {
  double seconds = 0;
  std::string impl;
};

// One prepacked oneDNN matmul M x K x N with src/weights of `src_dt` / `wei_dt` (contents are
// arbitrary bytes: the rate does not depend on them).
RawResult time_raw(memory::data_type src_dt, memory::data_type wei_dt, int64_t m, int64_t k, int64_t n, int reps) {
  using Tag = memory::format_tag;
  const bool int8 = wei_dt == memory::data_type::s8;
  const memory::desc src_md({m, k}, src_dt, Tag::ab);
  const memory::desc any_md({k, n}, wei_dt, Tag::any);
  const memory::desc dst_md({m, n}, memory::data_type::f32, Tag::ab);
  dnnl::primitive_attr attr;
  // Constant per-column scales, as W8A8 bakes them (runtime scales lose the brgemm kernels).
  if (int8) attr.set_output_scales(1 << 1, std::vector<float>(static_cast<size_t>(n), 1e-3f));
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, any_md, dst_md), attr, ops::dnnl_engine());
  memory src(src_md, ops::dnnl_engine()), wei(pd.weights_desc(), ops::dnnl_engine()), dst(dst_md, ops::dnnl_engine());
  std::memset(src.get_data_handle(), 1, src_md.get_size());
  std::memset(wei.get_data_handle(), 1, pd.weights_desc().get_size());
  const dnnl::matmul mm(pd);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  const double t = bench::best_timing(
                       [&] {
                         mm.execute(ops::dnnl_stream(), args);
                         ops::dnnl_stream().wait();
                       },
                       reps, 6.0)
                       .cpu;
  return {t, pd.impl_info_str()};
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Flags flags = bench::parse_flags(argc, argv, "bench_w8a8_gemm [--threads N] [--quick]");
  std::printf("threads %d | times: best of n, process CPU time / threads\n\n", num_threads());
  struct KN {
    int64_t k, n;
  };
  const std::vector<KN> shapes = {{3072, 3072}, {3072, 12288}};
  const std::vector<int64_t> ms = flags.quick ? std::vector<int64_t>{256} : std::vector<int64_t>{1024, 4096};
  const int reps = flags.quick ? 1 : 3;
  using dt = memory::data_type;

  std::printf("raw oneDNN matmul (prepacked weights), GOP/s\n%5s %6s %6s %9s %9s %9s %7s %7s  kernels (bf16 | u8s8 | s8s8)\n",
              "M", "K", "N", "bf16", "u8s8", "s8s8", "u8/bf", "s8/bf");
  for (const KN& s : shapes) {
    for (int64_t m : ms) {
      const double ops = 2.0 * m * s.k * s.n / 1e9;
      const RawResult b = time_raw(dt::bf16, dt::bf16, m, s.k, s.n, reps);
      const RawResult u = time_raw(dt::u8, dt::s8, m, s.k, s.n, reps);
      const RawResult q = time_raw(dt::s8, dt::s8, m, s.k, s.n, reps);
      std::printf("%5ld %6ld %6ld %9.0f %9.0f %9.0f %7.2f %7.2f  %s | %s | %s\n", m, s.k, s.n, ops / b.seconds,
                  ops / u.seconds, ops / q.seconds, b.seconds / u.seconds, b.seconds / q.seconds, b.impl.c_str(),
                  u.impl.c_str(), q.impl.c_str());
    }
  }

  std::printf("\nops::Linear on f32 activations, ms (w8a8 = quantize + int8 GEMM + folded dequantize)\n");
  std::printf("%5s %6s %6s %9s %9s %9s %8s\n", "M", "K", "N", "bf16", "w8a8", "quantize", "w8a8/bf");
  for (const KN& s : shapes) {
    const Tensor w = random_tensor({s.n, s.k}, 1, 0.02f).to(DType::BF16);
    const Tensor bias = random_tensor({s.n}, 2, 0.1f);
    const ops::Linear dense(w, &bias);
    const ops::Linear w8a8(ops::quantize_int8_per_channel(w), &bias, DType::I8);
    for (int64_t m : ms) {
      const Tensor x = random_tensor({m, s.k}, 3, 1.0f);
      Tensor y = Tensor::empty({m, s.n}, DType::F32);
      std::vector<int8_t> xq(static_cast<size_t>(m * s.k));
      std::vector<float> xs(static_cast<size_t>(m));
      const double td = bench::best_timing([&] { dense.forward_into(x, y); }, reps, 6.0).cpu;
      const double tw = bench::best_timing([&] { w8a8.forward_into(x, y); }, reps, 6.0).cpu;
      const double tq = bench::best_timing([&] { ops::quantize_per_token(x, xq.data(), xs.data()); }, reps, 3.0).cpu;
      std::printf("%5ld %6ld %6ld %9.2f %9.2f %9.2f %8.2f\n", m, s.k, s.n, td * 1e3, tw * 1e3, tq * 1e3, tw / td);
    }
  }
  return 0;
}
