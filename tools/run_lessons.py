"""Execute the source lessons in place and report how long each one takes.

    .venv/bin/python tools/run_lessons.py                # every lesson
    .venv/bin/python tools/run_lessons.py 02 05          # lessons whose name starts with 02 or 05
    .venv/bin/python tools/run_lessons.py --check        # run, but leave the files untouched

The stored outputs are what nbval compares against (the cells tagged
``nbval-check-output``), so run this after changing a lesson or anything in
cnnlab that changes a lesson's numbers, then review the diff. Widget state is
dropped: it is large and changes on every run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
# Time the lessons as `make test` runs them: one BLAS thread per kernel (the
# kernels inherit this environment).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def run(path: Path, *, write: bool, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    if write:
        nbformat.write(nb, path)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefixes", nargs="*", help="run only lessons starting with these")
    parser.add_argument("--check", action="store_true", help="do not write the outputs back")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    args = parser.parse_args()
    lessons = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*/[0-9][0-9]-*.ipynb"))
    if args.prefixes:
        lessons = [p for p in lessons if p.stem.startswith(tuple(args.prefixes))]
    if not lessons:
        print("no lesson matches", file=sys.stderr)
        return 1
    total = 0.0
    for path in lessons:
        seconds = run(path, write=not args.check, timeout=args.timeout)
        total += seconds
        print(f"{path.stem:<32}{seconds:7.1f} s", flush=True)
    print(f"{'total':<32}{total:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
