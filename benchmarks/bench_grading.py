"""Grade N synthetic submissions with nbgrader's serial autograde and with `make grade`.

Run with ``.venv/bin/python benchmarks/bench_grading.py`` (``--help`` for the
options). In one run it builds two identical scratch courses holding one
lesson and N submissions of it (half of them correct, a quarter with a wrong
function, a quarter broken: invalid JSON, a function that raises, a kernel
killed by ``os._exit``, a misnamed notebook), then times

* serial: ``nbgrader autograde LESSON`` then ``nbgrader generate_feedback LESSON``;
* parallel: ``python -m cnnlab.grading grade LESSON`` (what ``make grade``
  runs), which autogrades, writes the feedback, the table and grades.csv;
  and the same with ``--no-feedback``, to compare like with like.

Both are fresh processes with the same settings (the course's
nbgrader_config.py) and one BLAS thread per process. It prints both times,
the speed-up, the time per submission, and whether both gave every
submission the same autograded score.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from grading_helpers import blank, defining, make_course, solved, submit  # noqa: E402

from cnnlab.grading import Course, release  # noqa: E402
from cnnlab.grading.batch import cores  # noqa: E402

BIN = Path(sys.executable).parent
MIXTURE = ["correct", "wrong", "correct", "broken"]
BROKEN = ["invalid JSON", "raises", "os._exit", "misnamed"]
#: Per lesson: the function of its first exercise, a wrong version and one that raises.
EXERCISES = {
    "01-template-matching": (
        "match_score",
        "def match_score(image, template):\n    return float(np.mean(image * template))\n",
        "def match_score(image, template):\n    raise ValueError('no')\n",
    ),
    "03-activation": (
        "relu",
        "def relu(x):\n    return np.abs(x)\n",
        "def relu(x):\n    raise ValueError('no')\n",
    ),
}


def make_submissions(course: Path, lesson: str, n: int) -> dict[str, str]:
    """N submissions of a lesson: student -> what kind."""
    kinds = {}
    name, wrong, raises = EXERCISES[lesson]
    for i in range(n):
        kind = MIXTURE[i % len(MIXTURE)]
        if kind == "broken":
            kind = BROKEN[(i // len(MIXTURE)) % len(BROKEN)]
        student = f"s{i:03d}"
        kinds[student] = kind
        nb = solved(course, lesson)
        cell = defining(nb, name)
        if kind == "wrong":
            cell.source = wrong
        elif kind == "raises":
            cell.source = raises
        elif kind == "os._exit":
            cell.source = "import os\nos._exit(1)\n" + cell.source
        if kind == "invalid JSON":
            submit(course, student, lesson, text='{"cells": [')
        elif kind == "misnamed":
            submit(course, student, lesson, blank(course, lesson), name="copy.ipynb")
        else:
            submit(course, student, lesson, nb)
    return kinds


def _machine_busy() -> float:
    """CPU seconds all processes of the machine have used so far (Linux; NaN elsewhere)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return float("nan")
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def _our_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # every finished descendant
    return usage.ru_utime + usage.ru_stime


@dataclass
class Run:
    wall: float
    cpu: float  # CPU seconds of the command and everything it started
    others: float  # CPU seconds other processes of the machine took meanwhile

    def __add__(self, other):
        return Run(self.wall + other.wall, self.cpu + other.cpu, self.others + other.others)


def timed(command: list[str], cwd: Path, env: dict) -> Run:
    busy, cpu, start = _machine_busy(), _our_cpu(), time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - start, _our_cpu() - cpu
    return Run(wall, cpu, max(0.0, _machine_busy() - busy - cpu))


def autograded_scores(course: Path, lesson: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "cnnlab") as gb:
        for row in gb.submission_dicts(lesson):
            submission = gb.find_submission(lesson, row["student"])
            scores[row["student"]] = sum(
                g.auto_score or 0.0
                for nb in submission.notebooks
                for g in nb.grades
                if g.cell_type == "code"
            )
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=24, help="submissions (default: %(default)s)")
    parser.add_argument(
        "--lesson", default="03-activation", choices=sorted(EXERCISES), help="default: %(default)s"
    )
    parser.add_argument("--workers", type=int, default=cores(), help="default: the cores")
    parser.add_argument("--cell-timeout", type=int, default=60, help="default: %(default)s s")
    parser.add_argument("--keep", action="store_true", help="keep the scratch courses")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="cnnlab-bench-grading-"))
    serial_course = make_course(scratch / "serial", [args.lesson], cell_timeout=args.cell_timeout)
    release(Course.find(serial_course), log=lambda *_: None)
    kinds = make_submissions(serial_course, args.lesson, args.n)
    parallel_course = scratch / "parallel"
    shutil.copytree(serial_course, parallel_course)
    bare_course = scratch / "parallel-no-feedback"
    shutil.copytree(serial_course, bare_course)

    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    counts = {kind: list(kinds.values()).count(kind) for kind in dict.fromkeys(kinds.values())}
    print(
        f"{args.n} submissions of {args.lesson}: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
    )
    print(f"{os.cpu_count()} cores, load average {load:.2f} at the start")

    nbgrader = str(BIN / "nbgrader")
    autograde = timed([nbgrader, "autograde", args.lesson], serial_course, env)
    feedback = timed([nbgrader, "generate_feedback", args.lesson], serial_course, env)
    serial = autograde + feedback
    grade = [sys.executable, "-m", "cnnlab.grading", "grade", args.lesson]
    workers = ["--workers", str(args.workers)]
    parallel = timed([*grade, *workers], parallel_course, env)
    bare = timed([*grade, *workers, "--no-feedback"], bare_course, env)

    n = args.n
    print()
    print(f"{'':<34}{'wall':>8}{'per submission':>16}{'CPU':>9}{'others':>9}")
    rows = [
        ("nbgrader autograde (serial)", autograde),
        ("  + nbgrader generate_feedback", serial),
        (f"cnnlab grade ({args.workers} workers)", parallel),
        ("cnnlab grade --no-feedback", bare),
    ]
    for label, run in rows:
        print(
            f"{label:<34}{run.wall:>7.1f}s{run.wall / n:>15.2f}s{run.cpu:>8.1f}s{run.others:>8.1f}s"
        )
    print("(CPU: CPU seconds of the command and its processes; others: CPU seconds the")
    print(" machine's other processes took meanwhile, which the parallel run competes with)")
    print()
    print(f"grade against autograde + feedback:          {serial.wall / parallel.wall:.2f}x")
    print(f"grade --no-feedback against autograde:       {autograde.wall / bare.wall:.2f}x")
    print(f"grade (with feedback) against autograde:     {autograde.wall / parallel.wall:.2f}x")
    print(f"cores busy with grade, on average:           {parallel.cpu / parallel.wall:.2f}")

    serial_scores = autograded_scores(serial_course, args.lesson)
    parallel_scores = autograded_scores(parallel_course, args.lesson)
    bare_scores = autograded_scores(bare_course, args.lesson)
    differ = {
        s: (serial_scores.get(s), parallel_scores.get(s), bare_scores.get(s), kinds[s])
        for s in kinds
        if not serial_scores.get(s, 0.0) == parallel_scores.get(s, 0.0) == bare_scores.get(s, 0.0)
    }
    print(f"same autograded score for every submission: {differ or 'yes'}")
    if args.keep:
        print(f"scratch courses kept in {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
