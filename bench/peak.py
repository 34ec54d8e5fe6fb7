"""This machine's fp32 matrix-multiply peak as PyTorch sees it: the median time of
torch.matmul on large square fp32 matrices, with all threads (or on a CUDA GPU), for each
size; the best size's figure is the peak. Used by bench/peak.sh and bench/side_by_side.sh
(pct_of_peak = cubenet_gflops / peak_gflops).

    venv/bin/python bench/peak.py                          # sizes 2048 4096, 5 runs each
    venv/bin/python bench/peak.py --sizes 1024 2048 --runs 3 --threads 4
    python3 bench/peak.py --device cuda                    # fp32 (TF32 off), 4096 8192

Prints one line per size on stderr and a last line on stdout:
peak_gflops=<x> size=<n> threads=<t> device=<d>
"""
import argparse
import os
import statistics
import sys
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", help="matrix sizes (default 2048 4096; cuda 4096 8192)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per size (the median is kept)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="default: all cores")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = p.parse_args()
    sizes = a.sizes or ([4096, 8192] if a.device == "cuda" else [2048, 4096])
    torch.set_num_threads(a.threads)
    # Plain fp32: no TF32 tensor-core shortcut on the GPU (cubenet computes in fp32).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.manual_seed(0)

    def sync():
        if a.device == "cuda":
            torch.cuda.synchronize()

    best = (0.0, 0)
    for n in sizes:
        x = torch.rand(n, n, device=a.device)
        y = torch.rand(n, n, device=a.device)
        out = torch.empty(n, n, device=a.device)
        torch.matmul(x, y, out=out)  # warm-up (thread pool, cuBLAS handles, page faults)
        sync()
        times = []
        for _ in range(a.runs):
            start = time.perf_counter()
            torch.matmul(x, y, out=out)
            sync()
            times.append(time.perf_counter() - start)
        t = statistics.median(times)
        gflops = 2.0 * n**3 / t / 1e9
        print(f"peak: n={n} median {1e3 * t:.1f} ms of {a.runs} runs -> {gflops:.1f} GFLOP/s", file=sys.stderr)
        best = max(best, (gflops, n))
    print(f"peak_gflops={best[0]:.1f} size={best[1]} threads={a.threads} device={a.device}")


if __name__ == "__main__":
    main()
