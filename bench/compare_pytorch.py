#!/usr/bin/env python3
"""Our FLUX block vs PyTorch eager on the same block, in one run, as a table.

For flux-double and flux-single at 256 / 1024 / 4096 image tokens (+ 512 text tokens, batch 1):
`diffuse bench block` in bf16 and w8a8 (a row says so when w8a8 is not available), and
bench/pytorch_flux_block.py in bf16 on the same shapes and threads. Columns: our time, PyTorch's
bf16 time, PyTorch / ours (the speed-up; > 1 means we are faster), and both engines' fractions of
two measured instruction peaks: the fastest unit of the GEMM type ("tile": AMX where the CPU has
it) and the AVX-512 instruction ("vec": vdpbf16ps / vpdpbusd); ours against the peaks of its own
GEMM type, PyTorch's against the bf16 ones.
Times are process CPU time / threads (median of --repeat), steadier than wall time on a shared
machine; the wall medians are printed too.

    compare_pytorch.py [--diffuse build/diffuse] [--threads K] [--repeat R] [--sizes 256,1024,4096]
                       [--dtypes bf16,w8a8] [--archs flux-double,flux-single] [--json-out FILE]
    compare_pytorch.py --from FILE [FILE ...]   # the table of JSON lines saved earlier (either engine)

PyTorch comes from PYTORCH_PYTHON, else the first of this interpreter and /usr/bin/python3 that
can import torch (Debian: apt-get install -y python3-torch). Without one, the PyTorch columns say
"no torch" and the reason is printed. Only the standard library is needed here.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH_SCRIPT = os.path.join(HERE, "pytorch_flux_block.py")
# The targets: speed-up over PyTorch CPU bf16 eager per image-token count.
TARGETS = {1024: 1.4, 4096: 2.0}


def find_torch_python():
    candidates = [os.environ.get("PYTORCH_PYTHON"), sys.executable, "/usr/bin/python3"]
    for py in candidates:
        if py and (shutil.which(py) or os.path.exists(py)):
            if subprocess.run([py, "-c", "import torch"], capture_output=True).returncode == 0:
                return py
    return None


def run_json(cmd):
    """Runs cmd; returns (the JSON of its last stdout line, None) or (None, the error text)."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        err = (r.stderr.strip().splitlines() or ["exit status %d" % r.returncode])[-1]
        return None, err
    return json.loads(r.stdout.strip().splitlines()[-1]), None


def fmt_ms(j):
    return "%.0f" % j["cpu_ms_median"] if j else "-"


def fmt_frac(j, key="peak_fraction"):
    return "%.1f%%" % (100 * j[key]) if j and j.get(key) is not None else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--diffuse", default=os.environ.get("DIFFUSE", "build/diffuse"), help="the diffuse binary")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="256,1024,4096")
    ap.add_argument("--text-tokens", type=int, default=512)
    ap.add_argument("--heads", type=int, default=24)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--dtypes", default="bf16,w8a8")
    ap.add_argument("--archs", default="flux-double,flux-single")
    ap.add_argument("--json-out", help="also write every JSON line here")
    ap.add_argument("--from", dest="from_files", nargs="+", help="print the table of these JSON-line files, run nothing")
    a = ap.parse_args()
    if a.from_files:
        lines = [json.loads(l) for f in a.from_files for l in open(f) if l.strip()]
        ours = [j for j in lines if j.get("engine") == "diffuse"]
        torch_bf16 = {(j["arch"], j["image_tokens"]): j for j in lines if j.get("engine") == "pytorch" and j["dtype"] == "bf16"}
        rows = [(j["arch"], j["image_tokens"], j["dtype"], j, None, torch_bf16.get((j["arch"], j["image_tokens"])),
                 "not run") for j in ours]
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        print_table(rows, lines, threads=ours[0]["threads"] if ours else 0, repeat=None)
        return
    if not os.path.exists(a.diffuse):
        sys.exit("compare_pytorch.py: no diffuse binary at %s (build it, or pass --diffuse)" % a.diffuse)
    torch_py = find_torch_python()
    if not torch_py:
        print("PyTorch not found (tried PYTORCH_PYTHON, %s, /usr/bin/python3): apt-get install -y python3-torch;"
              " the PyTorch columns stay empty" % sys.executable)

    common = ["--threads", str(a.threads), "--repeat", str(a.repeat), "--text-tokens", str(a.text_tokens),
              "--heads", str(a.heads), "--head-dim", str(a.head_dim)]
    rows, lines = [], []
    for arch in a.archs.split(","):
        for size in [int(s) for s in a.sizes.split(",")]:
            shape = ["--arch", arch, "--image-tokens", str(size)] + common
            ours = {}
            for dtype in a.dtypes.split(","):
                ours[dtype] = run_json([a.diffuse, "bench", "block", "--dtype", dtype] + shape)
                print("diffuse %s %s %d: %s" % (dtype, arch, size, ours[dtype][0] or ours[dtype][1]), flush=True)
            torch_j, torch_err = (None, "no torch")
            if torch_py:
                bf16 = ours.get("bf16", (None, None))[0]
                peak = ["--peak-gflops", str(bf16["peak_gflops"])] if bf16 and bf16.get("peak_gflops") else []
                torch_j, torch_err = run_json([torch_py, TORCH_SCRIPT, "--dtype", "bf16"] + shape + peak)
                print("pytorch bf16 %s %d: %s" % (arch, size, torch_j or torch_err), flush=True)
            lines += [j for j, _ in ours.values() if j] + ([torch_j] if torch_j else [])
            for dtype, (j, err) in ours.items():
                rows.append((arch, size, dtype, j, err, torch_j, torch_err))

    print_table(rows, lines, a.threads, a.repeat)
    if a.json_out:
        with open(a.json_out, "w") as f:
            for j in lines:
                f.write(json.dumps(j) + "\n")


def print_table(rows, lines, threads, repeat):
    """rows: (arch, image tokens, dtype, our JSON or None, our error, PyTorch JSON or None, its error).
    PyTorch's peak fractions are against our bf16 run's measured peaks."""
    bf16_peaks = {(r[0], r[1]): r[3] for r in rows if r[3] and r[2] == "bf16"}
    first = next((r[3] for r in rows if r[3]), None)
    if first:
        print("\nFLUX block %d heads x %d, %d text tokens, batch %d, %d threads; ms = median process CPU time / threads"
              " over %s forwards" % (first["heads"], first["head_dim"], first["text_tokens"], first["batch"], threads,
                                     repeat or "the recorded"))
    torch_line = next((j for j in lines if j.get("engine") == "pytorch"), None)
    if torch_line:
        print("PyTorch %s, attention: %s" % (torch_line.get("torch_version", "?"), torch_line.get("attention", "?")))
    head = "%-12s %6s %5s | %9s %11s | %7s %6s | %9s %9s %9s %9s | %10s %10s" % (
        "arch", "img", "dtype", "ours ms", "torch bf16", "speedup", "target", "ours tile", "ours vec", "torch tl",
        "torch vec", "ours wall", "torch wall")
    print(head)
    print("-" * len(head))
    for arch, size, dtype, j, err, tj, terr in rows:
        if j is None:
            print("%-12s %6d %5s | %s" % (arch, size, dtype, err))
            continue
        speedup = "%.2fx" % (tj["cpu_ms_median"] / j["cpu_ms_median"]) if tj else "-"
        peaks = bf16_peaks.get((arch, size), {})
        if tj:
            tj = dict(tj, **{key: tj["gflops"] / peaks[gflops] if peaks.get(gflops) else None
                             for key, gflops in (("peak_fraction", "peak_gflops"),
                                                 ("vector_peak_fraction", "vector_peak_gflops"))})
        target = ">=%.1fx" % TARGETS[size] if size in TARGETS else ""
        print("%-12s %6d %5s | %9s %11s | %7s %6s | %9s %9s %9s %9s | %10.0f %10s" % (
            arch, size, dtype, fmt_ms(j), fmt_ms(tj) if tj else terr[:11], speedup, target, fmt_frac(j),
            fmt_frac(j, "vector_peak_fraction"), fmt_frac(tj), fmt_frac(tj, "vector_peak_fraction"),
            j["ms_median"], "%.0f" % tj["ms_median"] if tj else "-"))


if __name__ == "__main__":
    main()
