"""The lessons as nbgrader assignments: valid sources, student versions that fail.

nbval (run by ``make test`` on notebooks/) checks that every lesson executes
and that its pinned numbers do not change. These tests check the grading side:

* nbgrader's validator passes on every source notebook (solutions in place);
* in the generated student version, every graded cell fails;
* the student version carries no solution and no hidden test;
* every exercise has the anatomy of the course (task with points, stub with
  docstring, try-it cell, locked graded cell with a visible and a hidden check).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*/[0-9][0-9]-*.ipynb"))
# nbgrader runs the `alembic` command of the environment it is installed in.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

lesson_params = pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
COURSE = [
    "00-images",
    "01-template-matching",
    "02-convolution",
    "03-activation",
    "04-pooling",
    "05-dense",
    "06-softmax",
    "07-gradient-descent",
    "08-backpropagation",
    "09-training",
    "10-generalisation",
]


def test_all_eleven_lessons_are_present():
    """A lesson that goes missing must fail CI, not silently drop out of the parametrised tests."""
    assert [p.stem for p in LESSONS] == COURSE


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def graded_code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("grade", False)]


def generate_student_version(lesson: Path, course: Path) -> Path:
    """Release one lesson as the course does (its nbgrader_config.py), in a scratch folder."""
    from cnnlab.grading.course import Course, release

    shutil.copytree(lesson.parent, course / "notebooks" / lesson.parent.name)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    release(Course.find(course), [lesson.parent.name], log=lambda *_: None)
    return course / "release" / lesson.parent.name / lesson.name


@pytest.fixture(scope="module")
def student_versions(tmp_path_factory):
    """The student version of a lesson, generated once for all the tests of this module."""
    made = {}

    def student_version(lesson: Path) -> Path:
        if lesson not in made:
            made[lesson] = generate_student_version(lesson, tmp_path_factory.mktemp("course"))
        return made[lesson]

    return student_version


@lesson_params
def test_source_notebook_passes_nbgrader_validate(lesson, verdict_kernels):
    from nbgrader.validator import Validator

    results = Validator().validate(str(lesson))
    failed = "\n\n".join(f"{r['source']}\n{r['raw_error']}" for r in results.get("failed", []))
    assert results == {}, f"nbgrader validate failed on {lesson.name}:\n{failed or results}"


@lesson_params
def test_every_graded_cell_fails_in_the_student_version(lesson, student_versions, verdict_kernels):
    from nbgrader.validator import Validator

    student = student_versions(lesson)
    results = Validator(invert=True).validate(str(student))
    passed = [r["source"] for r in results.get("passed", [])]
    assert not passed, f"graded cells that pass without any work in {lesson.name}: {passed}"
    assert "changed" not in results and "type_changed" not in results, results


@lesson_params
def test_run_all_reaches_the_last_cell_of_the_student_version(
    lesson, student_versions, verdict_kernels
):
    """With every exercise unfinished, Run All still runs every cell (raises-exception tags)."""
    from nbclient import NotebookClient

    student = student_versions(lesson)
    nb = nbformat.read(student, as_version=4)
    NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(student.parent)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    not_run = [c.source.split("\n")[0] for c in code if not c.get("execution_count")]
    assert not_run == [], f"Run All stopped in {lesson.name}"
    stubs = [c for c in code if any(o.get("ename") == "NotImplementedError" for o in c.outputs)]
    assert stubs, "the unfinished exercises should show their message in place"


@lesson_params
def test_student_version_carries_no_solution_and_no_hidden_test(lesson, student_versions):
    student = student_versions(lesson)
    text = student.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "thorough=True"):
        assert marker not in text, f"{marker!r} leaks into the student version of {lesson.name}"
    nb = nbformat.read(student, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert "widgets" not in nb.metadata


@lesson_params
def test_every_exercise_has_the_course_anatomy(lesson):
    nb = nbformat.read(lesson, as_version=4)
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and re.search(
        r"(?i)you will be able to", cells[0].source
    ), "a lesson opens with what the learner will be able to do"
    assert re.search(r"(?i)summary", cells[-1].source + cells[-2].source), (
        "a lesson closes with a summary"
    )
    graded = graded_code_cells(nb)
    assert graded, f"{lesson.name} has no graded exercise"
    ids = [nbgrader_meta(c)["grade_id"] for c in cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade ids in {lesson.name}"
    for cell in graded:
        meta = nbgrader_meta(cell)
        assert meta["locked"] and meta["points"] > 0, meta
        index = cells.index(cell)
        checks = re.findall(r"check_(\w+)\((\w+)", cell.source)
        assert checks, f"graded cell {meta['grade_id']} calls no cnnlab check"
        name = checks[0][1]
        for check, _ in checks:  # imported here: a learner's own check_... never stands in
            assert re.search(
                rf"from cnnlab\.checks import [\w, ]*\bcheck_{check}\b", cell.source
            ), f"graded cell {meta['grade_id']} must import check_{check} itself"
        hidden = cell.source.split("### BEGIN HIDDEN TESTS")
        assert len(hidden) == 2 and "thorough=True" in hidden[1], (
            f"graded cell {meta['grade_id']} needs a hidden thorough check"
        )
        # Walking back from the graded cell: the stub that defines the function,
        # a try-it cell between them, and a task with its points before the stub.
        stub = next(
            c
            for c in reversed(cells[:index])
            if nbgrader_meta(c).get("solution") and f"def {name}(" in c.source
        )
        stub_index = cells.index(stub)
        assert '"""' in stub.source, f"the stub of {name} needs its full docstring"
        assert "### BEGIN SOLUTION" in stub.source and "### END SOLUTION" in stub.source
        between = cells[stub_index + 1 : index]
        assert any(c.cell_type == "code" and name in c.source for c in between), (
            f"{name} needs a try-it cell between its stub and its graded cell"
        )
        task = next(c for c in reversed(cells[:stub_index]) if c.cell_type == "markdown")
        assert re.search(rf"{meta['points']:g} points?", task.source), (
            f"the task before the stub of {name} must state its {meta['points']} points"
        )
