#!/usr/bin/env python3
"""One FLUX.1 transformer block in plain PyTorch eager mode, timed like `diffuse bench block`.

The yardstick for `diffuse bench block`: the same block (double- or single-stream, Chroma form:
modulation vectors are inputs, no per-block adaLN linear), the same shapes, random weights, the
same FLOP formula, and one JSON line with the same keys. Written from the block math of
shared/models/chroma.md section 3 (FLUX.1 uses the same blocks).

    pytorch_flux_block.py --arch flux-double|flux-single --image-tokens N --text-tokens T
                          --dtype bf16|f32 [--threads K] [--repeat R] [--peak-gflops P]

bf16 runs the whole block in bf16 (weights and activations cast with .to(torch.bfloat16), as a
PyTorch user runs a bf16 model on CPU); LayerNorm is torch's bf16 kernel (f32 statistics inside),
while the RMSNorm, RoPE and softmax are computed in f32 and cast back, as the reference does.
Attention uses F.scaled_dot_product_attention when this torch has it (2.0+), else an explicit
Q K^T -> f32 softmax -> P V; the "attention" key says which ran.

Times: wall (ms_*) and process CPU time / threads (cpu_ms_*), the second steadier on a shared
machine; gflops and peak_fraction come from cpu_ms_median. This script measures no instruction
peak: pass --peak-gflops (e.g. the peak_gflops of `diffuse bench block` on the same machine and
threads) to get a peak_fraction, else it is null.

This is a benchmark helper only: the engine never needs PyTorch. Without torch installed it says
so and exits with status 3.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    sys.stderr.write(
        "pytorch_flux_block.py: PyTorch is not installed for %s; on Debian: apt-get install -y python3-torch "
        "(then run it with /usr/bin/python3)\n" % sys.executable
    )
    sys.exit(3)


def block_flops(arch, batch, txt, img, dim):
    """The FLOP count of `diffuse bench block` (bench_support/flux_block_bench.h):
    batch * (2 L (4 D^2 + 2 D M) + 4 L^2 D) with M = 4 D, L = txt + img; both block types."""
    del arch  # both blocks hold 12 D^2 multiply-adds per token
    l, m = txt + img, 4 * dim
    return batch * (2.0 * l * (4.0 * dim * dim + 2.0 * dim * m) + 4.0 * l * l * dim)


def rope_axes(head_dim):
    """(head_dim - 2a, a, a), a = 7 head_dim / 16 rounded down to even: FLUX's 16 / 56 / 56 at 128."""
    a = (7 * head_dim // 16) & ~1
    return [head_dim - 2 * a, a, a]


def rope_tables(txt, img, head_dim, theta=10000.0):
    """cos / sin [L, head_dim] for text ids 0 and image ids (0, p // w, p % w), w = floor(sqrt(img)):
    per axis of width d, angle pos * theta^(-2k/d) (float64), each angle twice (one per pair member)."""
    width = max(1, math.isqrt(img))
    p = torch.arange(img, dtype=torch.float64)
    ids = torch.zeros(txt + img, 3, dtype=torch.float64)
    ids[txt:, 1] = torch.div(p, width, rounding_mode="floor")
    ids[txt:, 2] = torch.remainder(p, width)
    cos, sin = [], []
    for axis, d in enumerate(rope_axes(head_dim)):
        omega = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
        angle = ids[:, axis : axis + 1] * omega[None, :]
        cos.append(angle.cos().repeat_interleave(2, dim=1))
        sin.append(angle.sin().repeat_interleave(2, dim=1))
    return torch.cat(cos, 1).float(), torch.cat(sin, 1).float()


def apply_rope(x, cos, sin):
    """Rotates the adjacent pairs (2k, 2k+1) of x [B, H, L, Dh] in f32; returns x's dtype."""
    xf = x.float()
    pairs = xf.unflatten(-1, (-1, 2))
    rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return (xf * cos + rotated * sin).to(x.dtype)


class HeadRmsNorm(nn.Module):
    """RMSNorm over each head (eps 1e-6, with weight), in f32 (torch 1.13 has no nn.RMSNorm)."""

    def __init__(self, head_dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(head_dim))

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6)
        return (y * self.weight.float()).to(x.dtype)


def attention(q, k, v):
    """q, k, v [B, H, L, Dh] -> [B, H, L, Dh], scale 1 / sqrt(Dh), no mask (FLUX)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    probs = torch.softmax(scores.float(), dim=-1).to(v.dtype)
    return torch.matmul(probs, v)


ATTENTION_KIND = (
    "F.scaled_dot_product_attention"
    if hasattr(F, "scaled_dot_product_attention")
    else "explicit QK^T, f32 softmax, PV (no F.scaled_dot_product_attention in this torch)"
)


def modulate(x, shift, scale):
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc_in = nn.Linear(dim, 4 * dim)
        self.fc_out = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.fc_out(F.gelu(self.fc_in(x), approximate="tanh"))


class StreamProjections(nn.Module):
    """One stream's q / k / v projections and their per-head RMSNorms."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.norm_q, self.norm_k = HeadRmsNorm(dim // heads), HeadRmsNorm(dim // heads)

    def forward(self, x):
        split = lambda t: t.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # [B, H, S, Dh]
        return self.norm_q(split(self.q(x))), self.norm_k(split(self.k(x))), split(self.v(x))


def joint_attention(streams, cos, sin):
    """streams: (q, k, v) per stream in sequence order (text first); returns [B, L, D]."""
    q, k, v = (torch.cat([s[i] for s in streams], dim=2) for i in range(3))
    out = attention(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v)
    return out.transpose(1, 2).flatten(2)


class DoubleBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.img_proj, self.txt_proj = StreamProjections(dim, heads), StreamProjections(dim, heads)
        self.img_out, self.txt_out = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.img_ff, self.txt_ff = FeedForward(dim), FeedForward(dim)

    def forward(self, ctx, x, img_mod, txt_mod, cos, sin):
        """img_mod / txt_mod: (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp), each [B, D]."""
        i_shift, i_scale, i_gate, i_shift2, i_scale2, i_gate2 = img_mod
        t_shift, t_scale, t_gate, t_shift2, t_scale2, t_gate2 = txt_mod
        img_n = modulate(self.norm(x), i_shift, i_scale)
        txt_n = modulate(self.norm(ctx), t_shift, t_scale)
        attn = joint_attention([self.txt_proj(txt_n), self.img_proj(img_n)], cos, sin)
        t = ctx.shape[1]
        x = x + i_gate[:, None] * self.img_out(attn[:, t:])
        ctx = ctx + t_gate[:, None] * self.txt_out(attn[:, :t])
        x = x + i_gate2[:, None] * self.img_ff(modulate(self.norm(x), i_shift2, i_scale2))
        ctx = ctx + t_gate2[:, None] * self.txt_ff(modulate(self.norm(ctx), t_shift2, t_scale2))
        return ctx, x


class SingleBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.proj = StreamProjections(dim, heads)
        self.proj_mlp = nn.Linear(dim, 4 * dim)
        self.proj_out = nn.Linear(5 * dim, dim)

    def forward(self, h, mod, cos, sin):
        """mod: (shift, scale, gate), each [B, D]; h: [B, L, D], text first."""
        shift, scale, gate = mod
        n = modulate(self.norm(h), shift, scale)
        mlp = F.gelu(self.proj_mlp(n), approximate="tanh")
        attn = joint_attention([self.proj(n)], cos, sin)
        return h + gate[:, None] * self.proj_out(torch.cat([attn, mlp], dim=-1))


def randomize(module):
    """Matrices ~ U(+-1.7 / sqrt(fan_in)), norm weights 1 + U(+-0.05), biases U(+-0.05): the scales of
    bench_support/random_weights.h (the values differ; only the shapes matter for time)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 2:
                p.uniform_(-1.7 / math.sqrt(p.shape[1]), 1.7 / math.sqrt(p.shape[1]))
            else:
                p.uniform_(-0.05, 0.05)
                if "norm" in name:
                    p.add_(1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="flux-double", choices=["flux-double", "flux-single"])
    ap.add_argument("--image-tokens", type=int, default=1024)
    ap.add_argument("--text-tokens", type=int, default=512)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--heads", type=int, default=24)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--peak-gflops", type=float, default=None, help="instruction peak for peak_fraction")
    a = ap.parse_args()
    if a.head_dim < 8 or a.head_dim % 2 or a.repeat < 1:
        ap.error("--head-dim must be even and >= 8, --repeat >= 1")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    dim, b, txt, img = a.heads * a.head_dim, a.batch, a.text_tokens, a.image_tokens
    cos, sin = rope_tables(txt, img, a.head_dim)
    rand = lambda *shape, scale: ((torch.rand(*shape) * 2 - 1) * scale).to(dtype)
    if a.arch == "flux-double":
        block = DoubleBlock(dim, a.heads)
        img_mod = rand(6, b, dim, scale=0.5).unbind(0)
        txt_mod = rand(6, b, dim, scale=0.5).unbind(0)
        ctx, x = rand(b, txt, dim, scale=1.0), rand(b, img, dim, scale=1.0)
        run = lambda: block(ctx, x, img_mod, txt_mod, cos, sin)
    else:
        block = SingleBlock(dim, a.heads)
        mod = rand(3, b, dim, scale=0.5).unbind(0)
        h = rand(b, txt + img, dim, scale=1.0)
        run = lambda: block(h, mod, cos, sin)
    randomize(block)
    block = block.to(dtype).eval()

    wall, cpu = [], []
    with torch.inference_mode():
        run()  # warm-up: oneDNN primitive creation, allocator
        for _ in range(a.repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            run()
            wall.append(time.perf_counter() - w0)
            cpu.append((time.process_time() - c0) / a.threads)

    gflop = block_flops(a.arch, b, txt, img, dim) / 1e9
    cpu_ms, wall_ms = 1e3 * statistics.median(cpu), 1e3 * statistics.median(wall)
    gflops = gflop / (cpu_ms / 1e3)
    out = {
        "arch": a.arch,
        "image_tokens": img,
        "text_tokens": txt,
        "batch": b,
        "heads": a.heads,
        "head_dim": a.head_dim,
        "dtype": a.dtype,
        "threads": a.threads,
        "repeat": a.repeat,
        "ms_min": 1e3 * min(wall),
        "ms_median": wall_ms,
        "cpu_ms_min": 1e3 * min(cpu),
        "cpu_ms_median": cpu_ms,
        "gflop": gflop,
        "gflops": gflops,
        "gflops_wall": gflop / (wall_ms / 1e3),
        "peak_kind": "given" if a.peak_gflops else "none",
        "peak_gflops": a.peak_gflops,
        "peak_fraction": gflops / a.peak_gflops if a.peak_gflops else None,
        "engine": "pytorch",
        "torch_version": torch.__version__,
        "attention": ATTENTION_KIND,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
