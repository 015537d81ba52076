"""Helpers shared by the grading tests and the grading benchmark.

* a scratch course: some lessons of this repository and its nbgrader_config.py,
  with a shorter per-cell timeout;
* submissions built the way a learner makes them: the student version from
  release/, with the solution cells filled in (the source's solutions, or
  code written here), some cells edited, or a broken file;
* a tiny pool handler (:class:`Napper`) to test the pool without nbgrader.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def make_course(path: Path, lessons: list[str], *, cell_timeout: int) -> Path:
    """A course folder at ``path`` with copies of some lessons and the course's settings."""
    for lesson in lessons:
        shutil.copytree(ROOT / "notebooks" / lesson, path / "notebooks" / lesson)
    config = (ROOT / "nbgrader_config.py").read_text()
    (path / "nbgrader_config.py").write_text(f"{config}\nc.Execute.timeout = {cell_timeout}\n")
    return path


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def defining(nb, name: str):
    """The solution cell that defines the function ``name``."""
    return next(c for c in nb.cells if _meta(c).get("solution") and f"def {name}(" in c.source)


def graded_cell(nb, name: str):
    """The graded cell that checks the function ``name``."""
    return next(
        c
        for c in nb.cells
        if c.cell_type == "code" and _meta(c).get("grade") and f"check_{name}(" in c.source
    )


def grade_id_of(nb, name: str) -> str:
    return _meta(graded_cell(nb, name))["grade_id"]


def without_markers(source: str) -> str:
    return "\n".join(
        line for line in source.split("\n") if "### " not in line or "SOLUTION" not in line
    )


def solved(course: Path, lesson: str):
    """The student version with every solution cell filled in from the source."""
    source = nbformat.read(course / "notebooks" / lesson / f"{lesson}.ipynb", as_version=4)
    answers = {_meta(c)["grade_id"]: c.source for c in source.cells if _meta(c).get("solution")}
    nb = nbformat.read(course / "release" / lesson / f"{lesson}.ipynb", as_version=4)
    for cell in nb.cells:
        if _meta(cell).get("grade_id") in answers:
            cell.source = without_markers(answers[_meta(cell)["grade_id"]])
    return nb


def blank(course: Path, lesson: str):
    """The student version, untouched."""
    return nbformat.read(course / "release" / lesson / f"{lesson}.ipynb", as_version=4)


def submit(course: Path, student: str, lesson: str, nb=None, *, text=None, name=None) -> Path:
    """Put a notebook (or raw ``text``) in submitted/<student>/<lesson>/, as collect does."""
    folder = course / "submitted" / student / lesson
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{lesson}.ipynb")
    if text is not None:
        path.write_text(text)
    else:
        nbformat.write(nb, path)
    return folder


def replace_function(nb, name: str, code: str):
    """The learner's cell defining ``name`` now holds ``code`` instead."""
    defining(nb, name).source = code
    return nb


class Napper:
    """A pool handler for tests: ``("sleep", s)``, ``("exit", code)``, ``("child", pidfile)``,
    ``("meet", folder)``."""

    def __call__(self, task):
        kind, value = task
        if kind == "meet":  # wait until another task is running too (or give up after 300 s)
            folder = Path(value)
            (folder / str(os.getpid())).touch()
            deadline = time.monotonic() + 300
            while len(list(folder.iterdir())) < 2:
                if time.monotonic() > deadline:
                    return "alone"
                time.sleep(0.01)
            return "met"
        if kind == "sleep":
            time.sleep(value)
            return value
        if kind == "exit":
            os._exit(value)
        if kind == "child":  # a grandchild in a session of its own, like a Jupyter kernel
            child = subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
            )
            Path(value).write_text(str(child.pid))
            time.sleep(120)
        raise ValueError(task)


class DiesAtStart:
    """A pool handler whose worker dies before it is ready, like one that cannot import."""

    def __init__(self):
        os._exit(5)
