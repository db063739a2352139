#include "ops/conv.h"

#include <array>
#include <map>
#include <unordered_map>
#include <vector>

#include "ops/dnnl_context.h"
#include "ops/tensor_args.h"
#include "runtime/profiler.h"

namespace diffuse::ops {

using dnnl::memory;
using Tag = memory::format_tag;

namespace {

constexpr auto kF32 = memory::data_type::f32;

struct Entry {
  dnnl::convolution_forward conv;
  memory::desc src_md, weights_md, dst_md;  // what the primitive wants (may be blocked)
};

}  // namespace

struct Conv2d::Impl {
  int64_t oc = 0, ic = 0, kh = 0, kw = 0;
  Conv2dOptions opt;
  Tensor weight;  // OIHW f32 contiguous
  Tensor bias;    // [O] f32 or undefined
  mutable std::map<std::array<int64_t, 4>, Entry> entries;
  // Weights reordered into each blocked layout a primitive asked for (normally just one).
  mutable std::vector<std::pair<memory::desc, memory>> packed;

  memory weights_in(const memory::desc& md) const {
    const memory::desc plain({oc, ic, kh, kw}, kF32, Tag::oihw);
    if (md == plain) return dnnl_memory(plain, weight.raw());
    for (auto& [desc, mem] : packed)
      if (desc == md) return mem;
    memory mem(md, dnnl_engine());
    memory src = dnnl_memory(plain, weight.raw());
    dnnl::reorder(src, mem).execute(dnnl_stream(), src, mem);
    dnnl_stream().wait();
    packed.emplace_back(md, mem);
    return mem;
  }

  const Entry& entry(const std::array<int64_t, 4>& in, int64_t oh, int64_t ow) const {
    auto it = entries.find(in);
    if (it != entries.end()) return it->second;
    const memory::desc src_any({in[0], ic, in[2], in[3]}, kF32, Tag::any);
    const memory::desc w_any({oc, ic, kh, kw}, kF32, Tag::any);
    const memory::desc dst_any({in[0], oc, oh, ow}, kF32, Tag::any);
    const memory::desc bias_md({oc}, kF32, Tag::a);
    const memory::dims strides{opt.stride_h, opt.stride_w};
    const memory::dims pad_l{opt.pad_top, opt.pad_left}, pad_r{opt.pad_bottom, opt.pad_right};
    using D = dnnl::convolution_forward::desc;
    const auto kind = dnnl::prop_kind::forward_inference;
    const auto alg = dnnl::algorithm::convolution_direct;
    const D desc = bias.defined() ? D(kind, alg, src_any, w_any, bias_md, dst_any, strides, pad_l, pad_r)
                                  : D(kind, alg, src_any, w_any, dst_any, strides, pad_l, pad_r);
    dnnl::convolution_forward::primitive_desc pd(desc, dnnl_engine());
    Entry e{dnnl::convolution_forward(pd), pd.src_desc(), pd.weights_desc(), pd.dst_desc()};
    return entries.emplace(in, std::move(e)).first->second;
  }
};

Conv2d::Conv2d(const Tensor& weight, const Tensor* bias, Conv2dOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  DIFFUSE_CHECK(weight.ndim() == 4, "Conv2d: weight must be [O, I, KH, KW], got ", shape_str(weight.shape()));
  DIFFUSE_CHECK(weight.dtype() == DType::F32 || weight.dtype() == DType::BF16 || weight.dtype() == DType::F16,
                "Conv2d: unsupported weight dtype ", dtype_name(weight.dtype()));
  im.oc = weight.dim(0);
  im.ic = weight.dim(1);
  im.kh = weight.dim(2);
  im.kw = weight.dim(3);
  DIFFUSE_CHECK(weight.numel() > 0, "Conv2d: empty weight ", shape_str(weight.shape()));
  const Conv2dOptions& o = options;
  DIFFUSE_CHECK(o.stride_h >= 1 && o.stride_w >= 1, "Conv2d: stride must be >= 1");
  DIFFUSE_CHECK(o.pad_top >= 0 && o.pad_bottom >= 0 && o.pad_left >= 0 && o.pad_right >= 0,
                "Conv2d: negative padding");
  im.opt = options;
  im.weight = weight.dtype() == DType::F32 ? weight.contiguous() : weight.to(DType::F32);
  if (bias) im.bias = vector_as_f32(*bias, im.oc, "Conv2d", "bias");
}

Conv2d::~Conv2d() = default;
Conv2d::Conv2d(Conv2d&&) noexcept = default;
Conv2d& Conv2d::operator=(Conv2d&&) noexcept = default;

int64_t Conv2d::in_channels() const { return impl_->ic; }
int64_t Conv2d::out_channels() const { return impl_->oc; }

Tensor Conv2d::forward(const Tensor& x_in) const {
  ProfileScope scope(profile_scopes::kConv);
  const Impl& im = *impl_;
  DIFFUSE_CHECK(x_in.ndim() == 4 && x_in.dim(1) == im.ic, "Conv2d [", im.oc, ", ", im.ic, ", ", im.kh, ", ",
                im.kw, "]: input ", shape_str(x_in.shape()), " is not [N, ", im.ic, ", H, W]");
  const Tensor x = x_in.dtype() == DType::F32 ? x_in.contiguous() : x_in.to(DType::F32);
  const int64_t n = x.dim(0), h = x.dim(2), w = x.dim(3);
  const int64_t hp = h + im.opt.pad_top + im.opt.pad_bottom, wp = w + im.opt.pad_left + im.opt.pad_right;
  DIFFUSE_CHECK(hp >= im.kh && wp >= im.kw, "Conv2d: padded input ", hp, "x", wp, " smaller than the ",
                im.kh, "x", im.kw, " kernel");
  const int64_t oh = (hp - im.kh) / im.opt.stride_h + 1, ow = (wp - im.kw) / im.opt.stride_w + 1;
  Tensor out = Tensor::empty({n, im.oc, oh, ow}, DType::F32);
  if (out.numel() == 0) return out;

  const Entry& e = im.entry({n, im.ic, h, w}, oh, ow);
  const memory::desc user_src({n, im.ic, h, w}, kF32, Tag::nchw);
  const memory::desc user_dst({n, im.oc, oh, ow}, kF32, Tag::nchw);
  dnnl::stream& s = dnnl_stream();
  memory src = dnnl_memory(user_src, x.raw());
  if (e.src_md != user_src) {
    memory blocked(e.src_md, dnnl_engine());
    dnnl::reorder(src, blocked).execute(s, src, blocked);
    src = blocked;
  }
  memory dst_user = dnnl_memory(user_dst, out.raw());
  memory dst = e.dst_md == user_dst ? dst_user : memory(e.dst_md, dnnl_engine());
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, im.weights_in(e.weights_md)},
                                       {DNNL_ARG_DST, dst}};
  if (im.bias.defined()) args[DNNL_ARG_BIAS] = dnnl_memory(memory::desc({im.oc}, kF32, Tag::a), im.bias.raw());
  e.conv.execute(s, args);
  if (e.dst_md != user_dst) dnnl::reorder(dst, dst_user).execute(s, dst, dst_user);
  s.wait();
  return out;
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, Conv2dOptions options) {
  return Conv2d(weight, bias, options).forward(x);
}

}  // namespace diffuse::ops
