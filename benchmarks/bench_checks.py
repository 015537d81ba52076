"""How long each exercise check takes on a correct answer, visible and thorough.

Run with ``.venv/bin/python benchmarks/bench_checks.py`` (``--repeats N``).
A learner runs the visible check every time they try an answer, so it should
feel immediate (the aim: under a second); the thorough one runs when grading
(the aim: a few seconds). The test suite does not assert these times, which
depend on the machine and on what else it runs; this prints them, best of N.

The answer checked is a private copy of cnnlab's own function, wrapped so that
it is not recognised as cnnlab's (a correct answer, as fast as the reference).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import types

from cnnlab import checks
from cnnlab.checks import _reference


def correct_answer(name: str):
    original = getattr(_reference.REF, name)
    clone = types.FunctionType(
        original.__code__, original.__globals__, "learner", original.__defaults__
    )
    return lambda *args, **kwargs: clone(*args, **kwargs)


def best_time(check, fn, thorough: bool, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            check(fn, thorough=thorough)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"best of {args.repeats} runs, seconds")
    print(f"{'check':<28}{'visible':>10}{'thorough':>10}")
    slowest = {False: 0.0, True: 0.0}
    for name in checks.__all__:
        if name == "check_digits_model":  # trains a network: see bench_train.py
            continue
        check = getattr(checks, name)
        fn = correct_answer(name[len("check_") :])
        times = {t: best_time(check, fn, t, args.repeats) for t in (False, True)}
        for t, seconds in times.items():
            slowest[t] = max(slowest[t], seconds)
        print(f"{name:<28}{times[False]:>10.3f}{times[True]:>10.3f}")
    print(f"{'slowest':<28}{slowest[False]:>10.3f}{slowest[True]:>10.3f}")


if __name__ == "__main__":
    main()
