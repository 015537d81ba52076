"""Train the lesson-9 digits CNN with cnnlab and with PyTorch, and compare.

Run with ``.venv/bin/python benchmarks/bench_train.py`` (``--help`` for the
options). Both frameworks train the same architecture from the *same initial
weights* (cnnlab's He initialisation, copied into PyTorch), on the same
mini-batches in the same order, with the same schedule (SGD with momentum), in
this one run. The table gives the test accuracy of each, the training time
(median of ``--repeats`` runs) and the ratio; then cnnlab's peak memory.

PyTorch is optional (``pip install -e '.[bench]'``); without it only cnnlab's
figures are printed. PyTorch gets ``torch.set_num_threads(2)``, numpy's BLAS
gets ``--blas-threads`` (default 1: the matrices of an 8x8-digit network are
so small that a second BLAS thread only adds synchronisation, and on a busy
2-core machine it can make training several times slower).

``--profile`` adds the time spent in each layer's forward and backward.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import cnnlab
from cnnlab.data import load_digits
from cnnlab.nn import (
    SGD,
    Conv2d,
    Dense,
    Flatten,
    MaxPool2d,
    ReLU,
    Sequential,
    evaluate,
    fit,
    minibatches,
)


def cnnlab_model(seed: int) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2d(1, 16, 3, padding=1, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Conv2d(16, 32, 3, padding=1, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Dense(32 * 2 * 2, 10, rng=rng),
    )


def train_cnnlab(args, data) -> tuple[float, float, float]:
    """One training run from fresh weights: (wall seconds, CPU seconds, test accuracy)."""
    x_train, y_train, x_test, y_test = data
    model = cnnlab_model(args.seed)
    optimizer = SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    start, cpu = time.perf_counter(), time.process_time()
    fit(
        model,
        x_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=optimizer,
        rng=args.seed,
        progress=False,
    )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return seconds, cpu, evaluate(model, x_test, y_test)[1]


def train_torch(torch, args, data) -> tuple[float, float, float]:
    """The same run in PyTorch: same initial weights, same batches, same updates."""
    x_train, y_train, x_test, y_test = data
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 10),
    )
    initial = cnnlab_model(args.seed)
    with torch.no_grad():
        for index in (0, 3, 7):
            weight = initial[index].weight.value
            # cnnlab's dense weight is (in, out), torch's Linear stores (out, in)
            model[index].weight.copy_(torch.from_numpy(weight.T if index == 7 else weight))
            model[index].bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loss_fn = nn.CrossEntropyLoss()
    start, cpu = time.perf_counter(), time.process_time()
    rng = np.random.default_rng(args.seed)  # exactly the batches fit draws
    for _ in range(args.epochs):
        for x_batch, y_batch in minibatches(x_train, y_train, args.batch_size, rng=rng):
            loss = loss_fn(model(torch.from_numpy(x_batch)), torch.from_numpy(y_batch))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    with torch.no_grad():
        predicted = model(torch.from_numpy(x_test)).argmax(dim=1).numpy()
    return seconds, cpu, float(np.mean(predicted == y_test))


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def traced_peak_mib(args, data) -> float:
    """Peak of the memory allocated (numpy arrays included) during one epoch of training."""
    x_train, y_train = data[:2]
    model = cnnlab_model(args.seed)
    tracemalloc.start()
    fit(model, x_train, y_train, epochs=1, batch_size=args.batch_size, lr=args.lr, progress=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def layer_profile(args, data) -> None:
    """Time every layer's forward and backward over two epochs, and print the shares."""
    x_train, y_train = data[:2]
    model = cnnlab_model(args.seed)
    totals: dict = defaultdict(float)

    def timed(method, key):
        def run(argument):
            start = time.perf_counter()
            out = method(argument)
            totals[key] += time.perf_counter() - start
            return out

        return run

    for index, layer in enumerate(model):
        for kind in ("forward", "backward"):
            # an instance attribute shadows the method of the class
            setattr(layer, kind, timed(getattr(layer, kind), (index, kind)))
    epochs = 2
    start = time.perf_counter()
    optimizer = SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    fit(model, x_train, y_train, epochs=epochs, batch_size=args.batch_size,
        optimizer=optimizer, rng=args.seed, progress=False)  # fmt: skip
    total = time.perf_counter() - start
    steps = epochs * -(-len(x_train) // args.batch_size)
    print(f"\ncnnlab time per training step, by layer ({steps} steps of {args.batch_size}):")
    print(f"{'layer':<44}{'forward':>10}{'backward':>10}{'share':>8}")
    for index, layer in enumerate(model):
        forward, backward = totals[index, "forward"], totals[index, "backward"]
        ms = forward / steps * 1e3, backward / steps * 1e3
        share = (forward + backward) / total
        print(f"({index}) {layer!r:<40}{ms[0]:>8.3f}ms{ms[1]:>8.3f}ms{share:>8.0%}")
    rest = total - sum(totals.values())
    print(
        f"{'loss, optimiser, batching, loop':<44}{rest / steps * 1e3:>18.3f}ms{rest / total:>8.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="training runs timed per framework")
    parser.add_argument("--pause", type=float, default=0.25, help="seconds of rest before each run")
    parser.add_argument("--blas-threads", type=int, default=1, help="numpy's BLAS threads")
    parser.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--profile", action="store_true", help="time each cnnlab layer")
    args = parser.parse_args()

    data = load_digits()
    before = os.getloadavg()

    def cnnlab_blas():  # numpy's BLAS threads, for cnnlab's runs only
        return threadpool_limits(limits=args.blas_threads, user_api="blas")

    # One cnnlab run first, so that the peak memory is cnnlab's and not torch's.
    with cnnlab_blas():
        runs = [train_cnnlab(args, data)]
        rss = peak_rss_mib()
        traced = traced_peak_mib(args, data)
        if args.profile:
            layer_profile(args, data)

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(args.torch_threads)
    # Then the two take turns, run by run, so that a busy spell of a shared machine
    # hits both; each run starts after a pause, so that neither library's idle
    # threads still spin on the two cores while the other trains (as in bench_conv).
    torch_runs = []
    for _ in range(args.repeats):
        if torch is not None:
            time.sleep(args.pause)
            torch_runs.append(train_torch(torch, args, data))
        time.sleep(args.pause)
        with cnnlab_blas():
            runs.append(train_cnnlab(args, data))
    cnnlab_time, cnnlab_cpu = (statistics.median(run[i] for run in runs[1:]) for i in (0, 1))
    cnnlab_accuracy = runs[0][2]
    reproducible = len({run[2] for run in runs}) == 1
    if torch is not None:
        torch_time, torch_cpu = (statistics.median(run[i] for run in torch_runs) for i in (0, 1))
        torch_accuracy = torch_runs[0][2]

    after = os.getloadavg()
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    x_train, _, x_test, _ = data
    steps = -(-len(x_train) // args.batch_size)
    print(
        "\nDigits CNN: Conv2d(1, 16, 3, padding=1) ReLU MaxPool2d(2) "
        "Conv2d(16, 32, 3, padding=1) ReLU MaxPool2d(2) Flatten Dense(128, 10); 6,090 weights"
    )
    print(
        f"{len(x_train)} training / {len(x_test)} test digits; {args.epochs} epochs of {steps} "
        f"batches of {args.batch_size}; SGD lr={args.lr:g} momentum={args.momentum:g}; "
        f"seed {args.seed}"
    )
    print(
        f"Same initial weights and batches in both; training time is the median of "
        f"{args.repeats} runs each, the two taking turns."
    )
    kernel = blas[0].get("architecture") if blas else "unknown"
    print(
        f"numpy's BLAS kernel: {kernel}; load average {before[0]:.2f} before, "
        f"{after[0]:.2f} after, on {os.cpu_count()} CPUs\n"
    )
    print(f"{'':<22}{'test accuracy':>14}{'wall time':>11}{'CPU time':>10}  threads")
    print(
        f"{'cnnlab ' + cnnlab.__version__:<22}{cnnlab_accuracy:>14.2%}{cnnlab_time:>10.2f}s"
        f"{cnnlab_cpu:>9.2f}s  {args.blas_threads} (BLAS)"
        + ("" if reproducible else "  (accuracy differed between runs!)")
    )
    if torch is None:
        print(f"{'PyTorch':<22}{'not installed':>14}   (pip install -e '.[bench]' to compare)")
    else:
        print(
            f"{'PyTorch ' + torch.__version__:<22}{torch_accuracy:>14.2%}{torch_time:>10.2f}s"
            f"{torch_cpu:>9.2f}s  {args.torch_threads}"
        )
        ratio = cnnlab_time / torch_time
        verdict = "ok" if ratio <= 1 else "over the target"
        print(
            f"{'cnnlab / PyTorch':<22}{'':>14}{ratio:>10.2f}x{cnnlab_cpu / torch_cpu:>9.2f}x"
            f"  (target <= 1x in wall time: {verdict})"
        )
    print(
        f"\ncnnlab peak memory: {rss:.0f} MiB resident for the whole process before torch "
        f"is imported (target < 1 GiB); {traced:.1f} MiB allocated at most during an epoch."
    )


if __name__ == "__main__":
    main()
