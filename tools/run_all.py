"""Run every student version top to bottom, as Run All does, and count the cells that ran.

    .venv/bin/python tools/run_all.py [LESSON ...]

Each lesson of release/ (run `make release` first) is executed by nbclient,
which, like JupyterLab's Run All, stops at the first error unless the cell is
tagged raises-exception. Prints, per lesson, how many code cells ran of how
many, and the first cell that stopped the run, if any.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]


def run_all(path: Path) -> tuple[int, int, str]:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    client = NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(path.parent)}})
    stopped = ""
    try:
        client.execute()
    except CellExecutionError as error:
        stopped = str(error).strip().splitlines()[-1][:120]
    ran = sum(1 for c in code if c.get("execution_count"))
    return ran, len(code), stopped


def main(argv: list[str]) -> int:
    lessons = sorted((ROOT / "release").glob("*/*.ipynb"))
    if argv:
        lessons = [p for p in lessons if any(p.stem.startswith(a) for a in argv)]
    failed = 0
    for path in lessons:
        start = time.monotonic()
        ran, total, stopped = run_all(path)
        seconds = time.monotonic() - start
        status = "all" if ran == total else f"stopped: {stopped}"
        print(f"{path.stem:<24} {ran:>3}/{total:<3} code cells ran ({seconds:5.1f} s)  {status}")
        failed += ran != total
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
