"""conv2d forward + backward in float32: cnnlab vs the nested-loop oracle vs PyTorch.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_conv.py``.
PyTorch is optional (``pip install -e '.[bench]'``); without it that column
says so. Everything is timed in this one run, on the same arrays. Each time
is the best of several repeats, as ``timeit`` recommends: on a shared
machine the other processes only ever add time, so the minimum is the
figure that repeats from run to run.

The loop oracle (``tests/oracle.py``) is far too slow for whole batches, so it
is timed on the first image of each batch only; its column says how many
images it ran on, and the speed-up compares per-image times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

THREADS = "2"
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, THREADS)

import numpy as np  # noqa: E402

import cnnlab  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
try:
    import oracle
except ImportError:
    oracle = None

# (name, x shape (N, C, H, W), weight shape (F, C, KH, KW), stride, padding)
SHAPES = [
    ("digits 8x8, 1->16", (64, 1, 8, 8), (16, 1, 3, 3), 1, 1),
    ("digits 4x4, 16->32", (64, 16, 4, 4), (32, 16, 3, 3), 1, 1),
    ("MNIST 28x28, 1->16", (64, 1, 28, 28), (16, 1, 3, 3), 1, 1),
    ("MNIST 14x14, 16->32", (64, 16, 14, 14), (32, 16, 3, 3), 1, 1),
    ("photos 64x64x3, 3->16", (32, 3, 64, 64), (16, 3, 3, 3), 1, 1),
    ("photo 256x256x3 /2, 3->8", (1, 3, 256, 256), (8, 3, 5, 5), 2, 2),
]


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up: caches, thread pools, lazy imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cnnlab_step(x, w, b, dout, stride, padding):
    def run():
        cnnlab.conv2d(x, w, b, stride=stride, padding=padding)
        cnnlab.conv2d_backward(dout, x, w, stride=stride, padding=padding)

    return run


def oracle_step(x, w, b, dout, stride, padding):
    def run():
        oracle.conv2d(x, w, b, stride=stride, padding=padding)
        oracle.conv2d_backward(dout, x, w, stride=stride, padding=padding)

    return run


def torch_step(torch, x, w, b, dout, stride, padding):
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    dt = torch.from_numpy(dout)
    conv = torch.nn.functional.conv2d

    def run():
        xt.grad = wt.grad = bt.grad = None
        conv(xt, wt, bt, stride=stride, padding=padding).backward(dt)

    return run


def make_cases(rng):
    """Seeded float32 arrays for every shape: (name, x, w, b, dout, stride, padding)."""
    cases = []
    for name, x_shape, w_shape, stride, padding in SHAPES:
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32)
        b = rng.standard_normal(w_shape[0], dtype=np.float32)
        out_shape = cnnlab.conv2d(x, w, b, stride=stride, padding=padding).shape
        dout = rng.standard_normal(out_shape, dtype=np.float32)
        cases.append((name, x, w, b, dout, stride, padding))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(int(THREADS))
    except ImportError:
        torch = None

    cases = make_cases(np.random.default_rng(0))
    # Each library is timed over all shapes before the next one starts: OpenBLAS
    # and PyTorch both keep worker threads spinning after a call, and
    # interleaving them would make each slow the other down.
    ours = [best_time(cnnlab_step(*case[1:]), args.repeats) for case in cases]
    loops = [
        best_time(oracle_step(x[:1], w, b, dout[:1], s, p), repeats=1) if oracle else None
        for _, x, w, b, dout, s, p in cases
    ]
    theirs = (
        [best_time(torch_step(torch, *case[1:]), args.repeats) for case in cases]
        if torch
        else [None] * len(cases)
    )

    print(f"numpy {np.__version__}, {THREADS} threads, float32, best of {args.repeats} runs")
    print(f"PyTorch: {torch.__version__ if torch else 'not installed (pip install -e .[bench])'}")
    print("oracle: the nested loops of tests/oracle.py, timed on the first image of each batch")
    header = (
        f"{'case':<26}{'x shape':>18}{'cnnlab ms':>11}{'torch ms':>10}{'ratio':>7}"
        f"{'oracle ms/img':>15}{'cnnlab ms/img':>15}{'speed-up':>10}"
    )
    print(header)
    print("-" * len(header))
    ratios = []
    for (name, x, *_), mine, loop, other in zip(cases, ours, loops, theirs, strict=True):
        torch_cols = f"{'-':>10}{'-':>7}"
        if other is not None:
            ratios.append(mine / other)
            torch_cols = f"{other * 1e3:>10.3f}{mine / other:>7.2f}"
        per_image = mine / x.shape[0]
        loop_cols = f"{'-':>15}{per_image * 1e3:>15.3f}{'-':>10}"
        if loop is not None:
            loop_cols = f"{loop * 1e3:>15.1f}{per_image * 1e3:>15.3f}{loop / per_image:>9.0f}x"
        print(f"{name:<26}{x.shape!s:>18}{mine * 1e3:>11.3f}{torch_cols}{loop_cols}")
    if ratios:
        print(
            f"\ncnnlab / PyTorch: median {statistics.median(ratios):.2f} "
            f"(target <= 2.0), worst {max(ratios):.2f} (target <= 4.0)"
        )


if __name__ == "__main__":
    main()
