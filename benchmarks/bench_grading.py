"""Grade N synthetic submissions with nbgrader's serial autograde and with `make grade`.

Run with ``.venv/bin/python benchmarks/bench_grading.py`` (``--help`` for the
options; ``make bench-grading`` runs it with its defaults). In one run it
builds a scratch course holding one lesson and N submissions of it (half of
them correct, a quarter with a wrong function, a quarter broken: invalid JSON,
a function that raises, a kernel killed by ``os._exit``, a misnamed notebook)
and, on fresh copies of it, times

* serial: ``nbgrader autograde LESSON`` then ``nbgrader generate_feedback
  LESSON``, with nbgrader's own steps (its ``Execute``: test cells run in
  the learner's kernel, no sandbox);
* parallel: ``python -m cnnlab.grading grade LESSON`` (what ``make grade``
  runs: every kernel in a sandbox, the test cells judged outside it), which
  autogrades, writes the feedback, the table and grades.csv; the same with
  ``--no-feedback``, to compare like with like; with ``--no-sandbox``
  (kernels forked from a warm process, no sandbox), which shows what the
  sandbox costs per submission; and with ``--fresh-kernels`` (a sandbox and
  a new Python for every kernel), which shows what forking them saves.

All are fresh processes with the same settings (the course's
nbgrader_config.py) and one BLAS thread per process; with ``--repeats R``
the five runs take turns R times and the medians are reported, next to every
round's figures. It prints the times, the speed-ups, the time per
submission, the CPU the machine used, and whether every run gave every
submission the same autograded score.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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
#: Added to the serial course's settings: nbgrader's own autograde and feedback steps.
NBGRADER_OWN_STEPS = """
from nbgrader.converters import Autograde as _Autograde, GenerateFeedback as _Feedback
c.Autograde.autograde_preprocessors = _Autograde.class_traits()["autograde_preprocessors"].default()
c.GenerateFeedback.preprocessors = _Feedback.class_traits()["preprocessors"].default()
c.GenerateFeedback.exporter_class = "nbconvert.exporters.HTMLExporter"
"""
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


@dataclass
class Run:
    wall: float
    cpu: float  # CPU seconds the whole machine used meanwhile (the command, and anything else)

    def __add__(self, other):
        return Run(self.wall + other.wall, self.cpu + other.cpu)


def timed(command: list[str], cwd: Path, env: dict) -> Run:
    busy, start = _machine_busy(), time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Run(time.perf_counter() - start, _machine_busy() - busy)


def median_run(runs: list[Run]) -> Run:
    return Run(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs))


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
    parser.add_argument(
        "--workers", type=int, default=0, help="default: as make grade (%(default)s: its default)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="rounds (default: %(default)s)")
    parser.add_argument("--cell-timeout", type=int, default=60, help="default: %(default)s s")
    parser.add_argument("--keep", action="store_true", help="keep the scratch courses")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="cnnlab-bench-grading-"))
    template = make_course(scratch / "template", [args.lesson], cell_timeout=args.cell_timeout)
    release(Course.find(template), log=lambda *_: None)
    kinds = make_submissions(template, args.lesson, args.n)

    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    counts = {kind: list(kinds.values()).count(kind) for kind in dict.fromkeys(kinds.values())}
    print(
        f"{args.n} submissions of {args.lesson}: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
    )
    print(f"{cores()} cores, load average {load:.2f} at the start, {args.repeats} round(s)")

    nbgrader = str(BIN / "nbgrader")
    grade = [sys.executable, "-m", "cnnlab.grading", "grade", args.lesson]
    workers = ["--workers", str(args.workers)] if args.workers else []
    labels = {
        "autograde": "nbgrader autograde (serial)",
        "serial": "  + nbgrader generate_feedback",
        "grade": f"make grade ({args.workers or cores()} workers, sandboxed)",
        "bare": "make grade --no-feedback",
        "open": "make grade --no-sandbox",
        "fresh": "make grade --fresh-kernels",
    }
    runs: dict[str, list[Run]] = {key: [] for key in labels}
    courses = {}
    for round_ in range(args.repeats):  # the five runs in turn, each on a fresh copy
        for key in ("serial", "grade", "bare", "open", "fresh"):
            courses[key] = scratch / f"{key}-{round_}"
            shutil.copytree(template, courses[key])
        with open(courses["serial"] / "nbgrader_config.py", "a") as config:
            config.write(NBGRADER_OWN_STEPS)
        autograde = timed([nbgrader, "autograde", args.lesson], courses["serial"], env)
        feedback = timed([nbgrader, "generate_feedback", args.lesson], courses["serial"], env)
        runs["autograde"].append(autograde)
        runs["serial"].append(autograde + feedback)
        runs["grade"].append(timed([*grade, *workers], courses["grade"], env))
        runs["bare"].append(timed([*grade, *workers, "--no-feedback"], courses["bare"], env))
        runs["open"].append(timed([*grade, *workers, "--no-sandbox"], courses["open"], env))
        runs["fresh"].append(timed([*grade, *workers, "--fresh-kernels"], courses["fresh"], env))

    n = args.n
    print()
    print(f"{'':<34}{'wall':>8}{'per submission':>16}{'machine CPU':>13}   every round (wall)")
    best = {key: median_run(value) for key, value in runs.items()}
    for key, label in labels.items():
        run = best[key]
        each = " ".join(f"{r.wall:.1f}" for r in runs[key])
        print(f"{label:<34}{run.wall:>7.1f}s{run.wall / n:>15.2f}s{run.cpu:>12.1f}s   {each}")
    print("(medians over the rounds; machine CPU: CPU seconds every process of the machine")
    print(" used during the run, so run it on an otherwise idle machine)")
    print()
    ratios = [
        ("make grade against autograde + feedback:", "serial", "grade"),
        ("make grade --no-feedback against autograde:", "autograde", "bare"),
        ("make grade (with feedback) against autograde:", "autograde", "grade"),
        ("make grade --no-sandbox against autograde + feedback:", "serial", "open"),
        ("make grade --fresh-kernels against autograde + feedback:", "serial", "fresh"),
    ]
    for text, slow, fast in ratios:
        each = " ".join(
            f"{a.wall / b.wall:.2f}" for a, b in zip(runs[slow], runs[fast], strict=True)
        )
        print(f"{text:<58}{best[slow].wall / best[fast].wall:.2f}x   (rounds: {each})")
    busy = best["grade"].cpu / best["grade"].wall
    print(f"{'cores busy during make grade, on average:':<58}{busy:.2f}")
    sandbox_wall = (best["grade"].wall - best["open"].wall) / n
    sandbox_cpu = (best["grade"].cpu - best["open"].cpu) / n
    print(
        f"{'what the sandbox costs per submission:':<58}{sandbox_wall:+.2f} s wall, "
        f"{sandbox_cpu:+.2f} s CPU"
    )
    fresh_wall = (best["fresh"].wall - best["grade"].wall) / n
    fresh_cpu = (best["fresh"].cpu - best["grade"].cpu) / n
    print(
        f"{'what a sandbox for every kernel costs per submission:':<58}{fresh_wall:+.2f} s wall, "
        f"{fresh_cpu:+.2f} s CPU"
    )

    serial_scores = autograded_scores(courses["serial"], args.lesson)
    parallel_scores = autograded_scores(courses["grade"], args.lesson)
    bare_scores = autograded_scores(courses["bare"], args.lesson)
    open_scores = autograded_scores(courses["open"], args.lesson)
    fresh_scores = autograded_scores(courses["fresh"], args.lesson)
    every = (serial_scores, parallel_scores, bare_scores, open_scores, fresh_scores)
    differ = {
        s: (*(scores.get(s) for scores in every), kinds[s])
        for s in kinds
        if len({scores.get(s, 0.0) for scores in every}) > 1
    }
    print(f"same autograded score for every submission: {differ or 'yes'}")
    if args.keep:
        print(f"scratch courses kept in {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
