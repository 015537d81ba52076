"""Forward + backward in float32: cnnlab vs PyTorch vs the nested-loop oracle.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_conv.py``.
Covers conv2d on the course's shapes, then max and average pooling and the
dense layer. PyTorch is optional (``pip install -e '.[bench]'``); without it
that column says so.

Everything is timed in this one run, on the same arrays, with the same number
of threads (2). cnnlab and PyTorch take turns shape by
shape: a block of repeats of one, then a block of the other, for ``--rounds``
rounds, so that a busy spell of a shared machine hits both. A block, not single
calls, because OpenBLAS and PyTorch both keep their worker threads spinning for
a moment after a call, and alternating call by call would make each slow the
other down; for the same reason each block starts after a pause (``--pause``,
a quarter of a second), so that neither library's idle threads, which keep
spinning a while before they sleep, still take the two cores while the other
is timed. Each time is the best of all repeats, as ``timeit`` recommends: on a
shared machine the other processes only ever add time, so the minimum is the
figure that repeats from run to run. The load average is printed before and
after, and the BLAS kernel numpy runs on (threadpoolctl), since both move the
figures.

The loop oracle (``tests/oracle.py``) is far too slow for whole batches, so it
is timed on the first image of each batch only; its column says how long one
image takes, and the speed-up compares per-image times.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

THREADS = "2"
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, THREADS)

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

import cnnlab  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
try:
    import oracle
except ImportError:
    oracle = None

# (name, x shape (N, C, H, W), weight shape (F, C, KH, KW), stride, padding)
CONV_SHAPES = [
    ("digits 8x8, 1->16", (64, 1, 8, 8), (16, 1, 3, 3), 1, 1),
    ("digits 4x4, 16->32", (64, 16, 4, 4), (32, 16, 3, 3), 1, 1),
    ("MNIST 28x28, 1->16", (64, 1, 28, 28), (16, 1, 3, 3), 1, 1),
    ("MNIST 14x14, 16->32", (64, 16, 14, 14), (32, 16, 3, 3), 1, 1),
    ("photos 64x64x3, 3->16", (32, 3, 64, 64), (16, 3, 3, 3), 1, 1),
    ("photo 256x256x3 /2, 3->8", (1, 3, 256, 256), (8, 3, 5, 5), 2, 2),
]
# (name, op, x shape (N, C, H, W), kernel_size)
POOL_SHAPES = [
    ("max pool digits 8x8x16", "max_pool2d", (64, 16, 8, 8), 2),
    ("max pool MNIST 28x28x16", "max_pool2d", (64, 16, 28, 28), 2),
    ("avg pool photos 64x64x16", "avg_pool2d", (32, 16, 64, 64), 2),
]
# (name, x shape (N, in_features), out_features)
DENSE_SHAPES = [
    ("dense digits 128->10", (64, 128), 10),
    ("dense MNIST 1568->10", (64, 1568), 10),
]


@dataclass
class Case:
    """One benchmarked shape: how to run it in each library, on the same arrays."""

    name: str
    kind: str  # "conv2d", "pooling" or "dense"
    x_shape: tuple
    cnnlab: Callable[[], object]
    torch: Callable[[], object] | None
    oracle: Callable[[], object] | None  # on the first image only


@dataclass
class Timing:
    case: Case
    cnnlab: float  # seconds, best of all repeats
    torch: float | None
    oracle_per_image: float | None

    @property
    def ratio(self) -> float | None:
        return None if self.torch is None else self.cnnlab / self.torch


def conv_case(rng, torch, name, x_shape, w_shape, stride, padding) -> Case:
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    b = rng.standard_normal(w_shape[0], dtype=np.float32)
    out_shape = cnnlab.conv2d(x, w, b, stride=stride, padding=padding).shape
    dout = rng.standard_normal(out_shape, dtype=np.float32)

    def ours():
        cnnlab.conv2d(x, w, b, stride=stride, padding=padding)
        cnnlab.conv2d_backward(dout, x, w, stride=stride, padding=padding)

    def loops():
        oracle.conv2d(x[:1], w, b, stride=stride, padding=padding)
        oracle.conv2d_backward(dout[:1], x[:1], w, stride=stride, padding=padding)

    theirs = None
    if torch is not None:
        xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
        dt = torch.from_numpy(dout)

        def theirs():
            xt.grad = wt.grad = bt.grad = None
            torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding).backward(dt)

    return Case(name, "conv2d", x_shape, ours, theirs, loops if oracle else None)


def pool_case(rng, torch, name, op, x_shape, kernel_size) -> Case:
    x = rng.standard_normal(x_shape, dtype=np.float32)
    forward, backward = getattr(cnnlab, op), getattr(cnnlab, op + "_backward")
    dout = rng.standard_normal(forward(x, kernel_size).shape, dtype=np.float32)

    def ours():
        forward(x, kernel_size)
        backward(dout, x, kernel_size)

    def loops():
        getattr(oracle, op)(x[:1], kernel_size)
        getattr(oracle, op + "_backward")(dout[:1], x[:1], kernel_size)

    theirs = None
    if torch is not None:
        xt, dt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)
        pool = getattr(torch.nn.functional, op)

        def theirs():
            xt.grad = None
            pool(xt, kernel_size).backward(dt)

    return Case(name, "pooling", x_shape, ours, theirs, loops if oracle else None)


def dense_case(rng, torch, name, x_shape, out_features) -> Case:
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal((x_shape[1], out_features), dtype=np.float32)
    b = rng.standard_normal(out_features, dtype=np.float32)
    dout = rng.standard_normal((x_shape[0], out_features), dtype=np.float32)

    def ours():
        cnnlab.dense(x, w, b)
        cnnlab.dense_backward(dout, x, w)

    def loops():
        oracle.dense(x[:1], w, b)
        oracle.dense_backward(dout[:1], x[:1], w)

    theirs = None
    if torch is not None:
        # torch.nn.Linear keeps its weight as (out_features, in_features)
        xt, bt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(b).requires_grad_()
        wt = torch.from_numpy(np.ascontiguousarray(w.T)).requires_grad_()
        dt = torch.from_numpy(dout)

        def theirs():
            xt.grad = wt.grad = bt.grad = None
            torch.nn.functional.linear(xt, wt, bt).backward(dt)

    return Case(name, "dense", x_shape, ours, theirs, loops if oracle else None)


def make_cases(rng, torch) -> list[Case]:
    """Seeded float32 arrays for every shape."""
    return (
        [conv_case(rng, torch, *shape) for shape in CONV_SHAPES]
        + [pool_case(rng, torch, *shape) for shape in POOL_SHAPES]
        + [dense_case(rng, torch, *shape) for shape in DENSE_SHAPES]
    )


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(case: Case, repeats: int, rounds: int, pause: float) -> Timing:
    """cnnlab and PyTorch in turns, a block of repeats each, for ``rounds`` rounds."""
    runners = [case.cnnlab] + ([case.torch] if case.torch else [])
    for run in runners:
        run()  # warm-up: caches, thread pools, lazy imports
    block = max(1, repeats // rounds)
    best = [math.inf] * len(runners)
    for _ in range(rounds):
        for k, run in enumerate(runners):
            time.sleep(pause)
            best[k] = min(best[k], best_time(run, block))
    loop = best_time(case.oracle, 1) if case.oracle else None
    return Timing(case, best[0], best[1] if case.torch else None, loop)


def blas_kernel() -> str:
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    if not blas:
        return "unknown (threadpoolctl finds no BLAS)"
    info = blas[0]
    return (
        f"{info['internal_api']} {info.get('version')}, kernel {info.get('architecture')}, "
        f"{info['num_threads']} threads"
    )


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def summary(label: str, timings: list[Timing]) -> str:
    ratios = [t.ratio for t in timings if t.ratio is not None]
    if not ratios:
        return f"{label}: no PyTorch to compare with"
    worst = max(timings, key=lambda t: t.ratio or 0)
    return (
        f"{label}: median {statistics.median(ratios):.2f} (target <= 1.0), "
        f"worst {worst.ratio:.2f} on {worst.case.name} (target <= 2.0)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60, help="timed runs per library")
    parser.add_argument("--rounds", type=int, default=6, help="turns each library takes")
    parser.add_argument(
        "--pause", type=float, default=0.25, help="seconds of rest before each block"
    )
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(int(THREADS))
    except ImportError:
        torch = None

    before = load()
    cases = make_cases(np.random.default_rng(0), torch)
    timings = [measure(case, args.repeats, args.rounds, args.pause) for case in cases]
    after = load()

    print(
        f"numpy {np.__version__}, BLAS: {blas_kernel()}; float32, forward + backward, "
        f"best of {args.repeats} runs"
    )
    print(f"PyTorch: {torch.__version__ if torch else 'not installed (pip install -e .[bench])'}")
    print("oracle: the nested loops of tests/oracle.py, timed on the first image of each batch")
    print(f"before: {before}; after: {after}")
    header = (
        f"{'case':<26}{'x shape':>18}{'cnnlab ms':>11}{'torch ms':>10}{'ratio':>7}"
        f"{'oracle ms/img':>15}{'cnnlab ms/img':>15}{'speed-up':>10}"
    )
    print(header)
    print("-" * len(header))
    for t in timings:
        torch_cols = f"{'-':>10}{'-':>7}"
        if t.torch is not None:
            torch_cols = f"{t.torch * 1e3:>10.3f}{t.ratio:>7.2f}"
        per_image = t.cnnlab / t.case.x_shape[0]
        loop_cols = f"{'-':>15}{per_image * 1e3:>15.3f}{'-':>10}"
        if t.oracle_per_image is not None:
            loop_cols = (
                f"{t.oracle_per_image * 1e3:>15.1f}{per_image * 1e3:>15.3f}"
                f"{t.oracle_per_image / per_image:>9.0f}x"
            )
        shape = str(t.case.x_shape)
        print(f"{t.case.name:<26}{shape:>18}{t.cnnlab * 1e3:>11.3f}{torch_cols}{loop_cols}")
    print("\ncnnlab / PyTorch")
    for kind in ("conv2d", "pooling", "dense"):
        print("  " + summary(kind, [t for t in timings if t.case.kind == kind]))
    print("  " + summary("all", timings))


if __name__ == "__main__":
    main()
