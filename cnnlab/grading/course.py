"""The course folder: its lessons, its nbgrader settings, the release and the working copy.

A course folder holds ``nbgrader_config.py`` and the source lessons in
``notebooks/NN-name/NN-name.ipynb``. nbgrader's folders sit next to them:
``release/`` (student versions), ``submitted/<student>/<lesson>/``,
``autograded/``, ``feedback/``, and the gradebook. A learner works in
``work/``, a copy of the release made once and never overwritten.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shutil
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cnnlab.grading.markers import DEFAULT, Markers, split

__all__ = [
    "Course",
    "GradingError",
    "check_gradebook",
    "leaks",
    "make_working_copy",
    "release",
    "secret_lines",
    "template_gradebook",
]

#: The repository this package lives in: the default course folder.
REPO = Path(__file__).resolve().parents[2]
LESSON_PATTERN = re.compile(r"^\d\d-[\w-]+$")


class GradingError(RuntimeError):
    """Something an instructor or learner must fix before grading can go on."""


def use_this_environment() -> None:
    """Put this Python's bin folder first on PATH: nbgrader runs ``alembic`` from there."""
    bin_dir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


@dataclass(frozen=True)
class Course:
    """A course folder and the nbgrader settings in its ``nbgrader_config.py``."""

    root: Path

    @classmethod
    def find(cls, root: str | os.PathLike | None = None) -> Course:
        """The course at ``root``, else the current folder if it is one, else this repository."""
        if root is None:
            root = Path.cwd() if (Path.cwd() / "nbgrader_config.py").exists() else REPO
        root = Path(root).resolve()
        if not (root / "nbgrader_config.py").exists():
            raise GradingError(f"{root} is not a course folder: it has no nbgrader_config.py")
        return cls(root)

    # nbgrader's settings -----------------------------------------------------------

    def config(self):
        """The traitlets Config of ``nbgrader_config.py``, as nbgrader itself loads it (a copy)."""
        return copy.deepcopy(self._config)

    @functools.cached_property
    def _config(self):
        from traitlets.config.loader import PyFileConfigLoader

        use_this_environment()
        return PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()

    def _setting(self, name: str, default: str) -> Path:
        value = self._config.CourseDirectory.get(name, default)
        return Path(value) if Path(value).is_absolute() else self.root / value

    @property
    def source(self) -> Path:
        return self._setting("source_directory", "source")

    @property
    def release_dir(self) -> Path:
        return self._setting("release_directory", "release")

    @property
    def submitted(self) -> Path:
        return self._setting("submitted_directory", "submitted")

    @property
    def autograded(self) -> Path:
        return self._setting("autograded_directory", "autograded")

    @property
    def feedback(self) -> Path:
        return self._setting("feedback_directory", "feedback")

    @property
    def work(self) -> Path:
        """The learner's working copy of the student versions."""
        return self.root / "work"

    @property
    def db_url(self) -> str:
        return self._config.CourseDirectory.get("db_url", f"sqlite:///{self.root / 'gradebook.db'}")

    @property
    def db_path(self) -> Path:
        url = self.db_url
        if not url.startswith("sqlite:///"):
            raise GradingError(f"the grader needs an SQLite gradebook, not {url}")
        return Path(url.removeprefix("sqlite:///"))

    @property
    def course_id(self) -> str:
        return self._config.CourseDirectory.get("course_id", "default_course")

    # lessons --------------------------------------------------------------------

    def lessons(self) -> list[str]:
        """The lessons of the source folder, in order: ``NN-name`` with ``NN-name.ipynb`` in it."""
        if not self.source.is_dir():
            return []
        return sorted(
            d.name
            for d in self.source.iterdir()
            if LESSON_PATTERN.match(d.name) and (d / f"{d.name}.ipynb").exists()
        )

    def lesson(self, name: str) -> str:
        """The lesson called ``name``, or the only one whose name starts with it ("02")."""
        matches = [lesson for lesson in self.lessons() if lesson == name] or [
            lesson for lesson in self.lessons() if lesson.startswith(name)
        ]
        if len(matches) != 1:
            known = ", ".join(self.lessons()) or "none"
            raise GradingError(f"no single lesson matches {name!r} (lessons: {known})")
        return matches[0]

    def api(self, config=None):
        """nbgrader's API on this course (or on the settings given)."""
        from nbgrader.apps import NbGraderAPI

        return NbGraderAPI(config=config if config is not None else self.config())

    def released(self) -> set[str]:
        """The lessons the gradebook knows, i.e. those ``release`` has generated."""
        from nbgrader.api import Gradebook

        if not self.db_path.exists():
            return set()
        with Gradebook(self.db_url, self.course_id) as gb:
            return {a.name for a in gb.assignments}


# ---------------------------------------------------------------------- release


def secret_lines(source_nb, markers: Markers = DEFAULT) -> set[str]:
    """Lines of solution and hidden-test code whose text the source shows nowhere else.

    A line that the lesson also gives away on purpose (a hint quoting it) is not
    a leak, nor is a line shorter than 8 characters (``return x``).
    """
    secret, public = set(), []
    for cell in source_nb.cells:
        outside, solution = split(cell.source, *markers.solution)
        public_lines, hidden = split("\n".join(outside), *markers.hidden)
        public += public_lines
        for line in (*solution, *hidden):
            if len(line.strip()) >= 8 and not any(
                m in line for m in (*markers.solution, *markers.hidden)
            ):
                secret.add(line.strip())
    public_text = "\n".join(public)
    return {line for line in secret if line not in public_text}


def _strings(value) -> list[str]:
    """Every string in a notebook: sources, outputs, metadata (keys and values)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def leaks(source: Path, student: Path, markers: Markers = DEFAULT) -> list[str]:
    """What a student version gives away: solutions, hidden tests, outputs, widget state."""
    nb = nbformat.read(student, as_version=4)
    text = "\n".join(_strings(nb))
    found = [m for m in (markers.begin_solution, *markers.hidden) if m in text]
    secret = secret_lines(nbformat.read(source, as_version=4), markers)
    found += [f"the line {line!r}" for line in sorted(secret) if line in text]
    if any(cell.get("outputs") or cell.get("execution_count") for cell in nb.cells):
        found.append("cell outputs")
    if "widgets" in nb.metadata or any("widgets" in cell.metadata for cell in nb.cells):
        found.append("widget state")
    return found


def release(course: Course, lessons=None, *, force: bool = False, log=print) -> list[str]:
    """Generate the student version of each lesson into ``release/`` and check it.

    A lesson is regenerated when its source is newer than its student version,
    when the gradebook does not know it, or with ``force``. Returns the lessons
    generated. Raises :class:`GradingError` if nbgrader fails or if a student
    version gives anything away (see :func:`leaks`).
    """
    lessons = course.lessons() if lessons is None else [course.lesson(n) for n in lessons]
    known = course.released()
    todo = []
    for lesson in lessons:
        source = course.source / lesson / f"{lesson}.ipynb"
        student = course.release_dir / lesson / f"{lesson}.ipynb"
        stale = not student.exists() or student.stat().st_mtime < source.stat().st_mtime
        if force or stale or lesson not in known:
            todo.append(lesson)
    if not todo:
        return []
    api = course.api()
    for lesson in todo:
        log(f"release: {lesson}")
        result = api.generate_assignment(lesson, force=True, create=True)
        if not result["success"]:
            detail = (result.get("error") or result.get("log") or "")[-2000:]
            raise GradingError(
                f"nbgrader could not generate the student version of {lesson}:\n{detail}"
            )
        source = course.source / lesson / f"{lesson}.ipynb"
        student = course.release_dir / lesson / f"{lesson}.ipynb"
        found = leaks(source, student, Markers.of(course.config()))
        if found:
            student.unlink()
            raise GradingError(f"the student version of {lesson} gives away: {'; '.join(found)}")
    return todo


def check_gradebook(course: Course, lessons: list[str]) -> None:
    """Stop unless the gradebook holds each lesson's locked cells as its source has them.

    The grader restores every locked cell (the tests, hidden parts included)
    from the gradebook before it runs a notebook, and scores each graded cell
    out of the points the gradebook gives it: a gradebook that differs from
    the source lessons (edited, poisoned, or left from an older release)
    would grade with the wrong tests. Raises :class:`GradingError` naming the
    first cell that differs.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url, course.course_id) as gb:
        for lesson in lessons:
            for path in sorted((course.source / lesson).glob("*.ipynb")):
                nb = nbformat.read(path, as_version=4)
                for cell in nb.cells:
                    meta = cell.metadata.get("nbgrader", {})
                    name = meta.get("grade_id")
                    if name is None or not (meta.get("locked") or meta.get("grade")):
                        continue
                    where = f"cell {name!r} of {lesson}/{path.name}"
                    try:
                        if meta.get("locked"):
                            stored = gb.find_source_cell(name, path.stem, lesson)
                            if stored.source != cell.source:
                                raise GradingError(_stale(where, "its source differs"))
                        if meta.get("grade"):
                            graded = gb.find_grade_cell(name, path.stem, lesson)
                            if float(graded.max_score) != float(meta.get("points", 0)):
                                raise GradingError(_stale(where, "its points differ"))
                    except MissingEntry:
                        raise GradingError(_stale(where, "it is missing")) from None


def _stale(where: str, what: str) -> str:
    return (
        f"the gradebook does not match the release: {where}: {what}. Regenerate the "
        "release and its gradebook entries with `python -m cnnlab.grading release --force`."
    )


def make_working_copy(course: Course, dest: Path | None = None) -> list[str]:
    """Copy each released lesson that ``dest`` (default ``work/``) does not have yet.

    A lesson already there is never touched, so a later release cannot
    overwrite a learner's work. Returns the lessons copied.
    """
    dest = course.work if dest is None else Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for lesson in course.lessons():
        released = course.release_dir / lesson
        if released.is_dir() and not (dest / lesson).exists():
            shutil.copytree(released, dest / lesson)
            copied.append(lesson)
    return copied


def template_gradebook(course: Course, path: Path) -> Path:
    """A copy of the gradebook with the lessons but no student: each grader starts from it.

    A consistent snapshot (SQLite's backup, even while someone else writes),
    from which nbgrader's own API removes every student with what it holds.
    """
    from nbgrader.api import Gradebook

    if not course.db_path.exists():
        raise GradingError(f"no gradebook at {course.db_path}: run `make release` first")
    source = sqlite3.connect(course.db_path)
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    with Gradebook(f"sqlite:///{path}", course.course_id) as gb:
        for student in list(gb.students):
            gb.remove_student(student.id)
    return path
