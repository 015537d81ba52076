"""The grading workflow, end to end: release, submit, grade in parallel, read the gradebook.

One batch of submissions of two lessons (01 template matching, 03 activation)
is graded once for the whole module, with a short per-cell timeout; each test
then checks one promise on its results:

* the source solutions get full marks on every autograded cell, the
  unchanged student version zero;
* one wrong function loses that exercise only, and its feedback names the mistake;
* a cell that loops, a function that raises, a kernel killed by ``os._exit``
  and a loop that ignores the interrupt are graded within bounded time,
  earn nothing they did not earn, and the rest of the batch is graded;
* a locked test cell edited to ``pass`` (or deleted) is graded with the original;
* calling cnnlab's own implementation loses the exercise in the hidden tests;
* replacing the checks (or numpy's comparisons) does not pass a wrong answer;
* an invalid notebook and a missing one are reported, and the batch goes on;
* the student version and the feedback hold no solution and no hidden test.
"""

from __future__ import annotations

import csv
import html
import re
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from grading_helpers import (
    DiesAtStart,
    Napper,
    blank,
    defining,
    grade_id_of,
    graded_cell,
    make_course,
    replace_function,
    solved,
    submit,
    without_markers,
)
from nbgrader.api import Gradebook

from cnnlab.grading import Course, grade, make_working_copy, release, self_report, selfgrade
from cnnlab.grading import pool as grading_pool
from cnnlab.grading.batch import (
    find_submissions,
    load_results,
    record,
    record_all,
    save_results,
    score_table,
    stopped_result,
    write_csv,
)
from cnnlab.grading.course import leaks, template_gradebook
from cnnlab.grading.markers import DEFAULT, split
from cnnlab.grading.preprocessors import WIDGET_VIEW, HideHiddenTests
from cnnlab.grading.worker import Task

TEMPLATES, ACTIVATION = "01-template-matching", "03-activation"
CELL_TIMEOUT = 20  # seconds per cell in this course (the real one allows 120)
TIME_LIMIT = 300  # seconds per submission: never reached by these submissions

GOOD_MATCH = "def match_score(image, template):\n    return float(np.sum(image * template))\n"
COUNT_WITHOUT_PLUS_ONE = (
    "def count_placements(image_shape, template_shape):\n"
    "    (H, W), (h, w) = image_shape, template_shape\n"
    "    return (H - h) * (W - w)\n"
)
WRONG_MATCH = "def match_score(image, template):\n    return 0.0\n"
CHEAT = (
    "import cnnlab.checks, numpy\n"
    "cnnlab.checks.check_match_score = lambda *args, **kwargs: print('all passed')\n"
    "numpy.allclose = lambda *args, **kwargs: True\n"
)
DEAF_LOOP = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"


def _add_widget_state(path: Path) -> None:
    """Give a source lesson saved widget state, as running it in JupyterLab does."""
    nb = nbformat.read(path, as_version=4)
    model = {"model_name": "FloatSliderModel", "state": {"value": 0.25}}
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "state": {"m0": model},
            "version_major": 2,
            "version_minor": 0,
        }
    }
    cell = next(c for c in nb.cells if c.cell_type == "code" and "widgets." in c.source)
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={WIDGET_VIEW: {"model_id": "m0", "version_major": 2}, "text/plain": "slider"},
        )
    ]
    cell.metadata["widgets"] = {"m0": {}}
    nbformat.write(nb, path)


def _submissions(course: Path) -> None:
    """Every case of the batch, as submitted/<student>/<lesson>/."""
    for lesson in (TEMPLATES, ACTIVATION):
        submit(course, "solution", lesson, solved(course, lesson))
        submit(course, "blank", lesson, blank(course, lesson))

    nb = solved(course, TEMPLATES)
    replace_function(nb, "count_placements", COUNT_WITHOUT_PLUS_ONE)
    submit(course, "wrong", TEMPLATES, nb)
    nb = solved(course, ACTIVATION)  # absolute value instead of clamping
    replace_function(nb, "relu", "def relu(x):\n    return np.abs(x)\n")
    submit(course, "wrong", ACTIVATION, nb)

    nb = solved(course, TEMPLATES)  # a cell that never ends (interruptible)
    defining(nb, "match_score").source = "while True:\n    pass\n" + GOOD_MATCH
    submit(course, "loops", TEMPLATES, nb)

    nb = solved(course, TEMPLATES)
    replace_function(nb, "match_score", "def match_score(image, template):\n    raise OSError(7)\n")
    submit(course, "raises", TEMPLATES, nb)

    nb = solved(course, TEMPLATES)  # kills its kernel; its other lesson is fine
    defining(nb, "match_score").source = "import os\nos._exit(1)\n" + GOOD_MATCH
    submit(course, "exits", TEMPLATES, nb)
    submit(course, "exits", ACTIVATION, solved(course, ACTIVATION))

    nb = solved(course, ACTIVATION)  # a loop that ignores the interrupt
    defining(nb, "relu").source = DEAF_LOOP
    submit(course, "deaf", ACTIVATION, nb)

    nb = blank(course, TEMPLATES)  # stub kept, its test edited to pass;
    graded_cell(nb, "match_score").source = "pass"
    replace_function(nb, "count_placements", COUNT_WITHOUT_PLUS_ONE)  # wrong, and
    nb.cells.remove(graded_cell(nb, "count_placements"))  # its test deleted
    submit(course, "tampered", TEMPLATES, nb)

    nb = solved(course, TEMPLATES)
    replace_function(
        nb,
        "match_score",
        "def match_score(image, template):\n    return templates.match_score(image, template)\n",
    )
    submit(course, "delegates", TEMPLATES, nb)
    nb = solved(course, ACTIVATION)
    replace_function(nb, "relu", "def relu(x):\n    return cnnlab.relu(x)\n")
    submit(course, "delegates", ACTIVATION, nb)

    nb = solved(course, TEMPLATES)  # a wrong answer, and the checks replaced to pass it
    replace_function(nb, "match_score", WRONG_MATCH + CHEAT)
    submit(course, "cheats", TEMPLATES, nb)

    submit(course, "badjson", TEMPLATES, text='{"cells": [')
    submit(course, "misnamed", TEMPLATES, solved(course, TEMPLATES), name="lesson1 (1).ipynb")


def gradebook_scores(course: Course) -> dict:
    scores = {}
    with Gradebook(course.db_url, course.course_id) as gb:
        for student in gb.students:
            for submission in student.submissions:
                for notebook in submission.notebooks:
                    scores[student.id, submission.assignment.name] = {
                        g.name: g.auto_score for g in notebook.grades if g.cell_type == "code"
                    }
    return scores


@pytest.fixture(scope="module")
def batch(tmp_path_factory, figureless_ipython_dir):
    root = make_course(
        tmp_path_factory.mktemp("course"), [TEMPLATES, ACTIVATION], cell_timeout=CELL_TIMEOUT
    )
    _add_widget_state(root / "notebooks" / ACTIVATION / f"{ACTIVATION}.ipynb")
    course = Course.find(root)
    release(course, log=lambda *_: None)
    _submissions(root)
    start = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:  # kernels that draw no figure: faster
        patch.setenv("IPYTHONDIR", str(figureless_ipython_dir))
        results = grade(course, workers=2, time_limit=TIME_LIMIT, log=lambda *_: None)
    seconds = time.monotonic() - start
    release_nbs = {
        lesson: nbformat.read(root / "release" / lesson / f"{lesson}.ipynb", as_version=4)
        for lesson in (TEMPLATES, ACTIVATION)
    }
    return SimpleNamespace(
        course=course,
        root=root,
        results={(r.student, r.lesson): r for r in results},
        scores=gradebook_scores(course),
        seconds=seconds,
        release=release_nbs,
    )


def score(batch, student, lesson, function) -> float:
    return batch.scores[student, lesson][grade_id_of(batch.release[lesson], function)]


def max_points(batch, lesson, function) -> float:
    return graded_cell(batch.release[lesson], function).metadata["nbgrader"]["points"]


def full(batch, function) -> float:
    """The points of an exercise of lesson 1."""
    return max_points(batch, TEMPLATES, function)


def points(batch, lesson, kind="code") -> float:
    """All the points of a lesson's autograded ("code") or written ("markdown") cells."""
    return sum(
        c.metadata["nbgrader"]["points"]
        for c in batch.release[lesson].cells
        if c.cell_type == kind and c.metadata.get("nbgrader", {}).get("grade")
    )


def feedback_text(batch, student, lesson) -> str:
    """The feedback page as a reader sees it: tags removed, entities decoded."""
    page = (batch.root / "feedback" / student / lesson / f"{lesson}.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def hidden_test_lines(course_root: Path, lesson: str) -> list[str]:
    source = (course_root / "notebooks" / lesson / f"{lesson}.ipynb").read_text()
    nb = nbformat.reads(source, as_version=4)
    lines = []
    for cell in nb.cells:
        region = split(cell.source, *DEFAULT.hidden)[1]
        lines += [line.strip() for line in region if line.strip() and "HIDDEN TESTS" not in line]
    assert lines, f"{lesson} has no hidden test to look for"
    return lines


# ------------------------------------------------------------------ release


@pytest.mark.parametrize("lesson", [TEMPLATES, ACTIVATION])
def test_student_version_gives_nothing_away(batch, lesson):
    source = batch.root / "notebooks" / lesson / f"{lesson}.ipynb"
    student = batch.root / "release" / lesson / f"{lesson}.ipynb"
    assert leaks(source, student) == []
    text = student.read_text()
    for line in hidden_test_lines(batch.root, lesson):
        assert line not in text
    nb = nbformat.read(student, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "widgets" not in nb.metadata and WIDGET_VIEW not in text
    assert all("widgets" not in c.metadata for c in nb.cells)


def test_the_leak_check_can_fail(batch):
    source = batch.root / "notebooks" / ACTIVATION / f"{ACTIVATION}.ipynb"
    found = leaks(source, source)  # the source itself gives everything away
    assert "BEGIN SOLUTION" in found and "BEGIN HIDDEN TESTS" in found
    assert "widget state" in found and "cell outputs" in found


def test_working_copy_is_made_once_and_never_overwritten(batch, tmp_path):
    work = tmp_path / "work"
    assert make_working_copy(batch.course, work) == [TEMPLATES, ACTIVATION]
    mine = work / TEMPLATES / f"{TEMPLATES}.ipynb"
    mine.write_text(mine.read_text().replace("NotImplementedError", "NotImplementedError  # mine"))
    edited = mine.read_text()
    release(batch.course, [TEMPLATES], force=True, log=lambda *_: None)
    (work / ACTIVATION / f"{ACTIVATION}.ipynb").unlink()
    (work / ACTIVATION).rmdir()
    assert make_working_copy(batch.course, work) == [ACTIVATION]
    assert mine.read_text() == edited


# ------------------------------------------------------------------- grades


def test_every_submission_is_graded_and_recorded(batch):
    assert len(batch.results) == 17
    for (student, lesson), result in batch.results.items():
        assert (student, lesson) in batch.scores, f"{student} {lesson} not in the gradebook"
        assert result.status in ("graded", "invalid", "missing"), result


@pytest.mark.parametrize(
    ("lesson", "functions"),
    [(TEMPLATES, ["match_score", "count_placements"]), (ACTIVATION, ["relu"])],
)
def test_solutions_get_full_marks_and_the_student_version_zero(batch, lesson, functions):
    assert batch.scores["solution", lesson], "no autograded cell"
    for function in functions:
        assert score(batch, "solution", lesson, function) == max_points(batch, lesson, function)
    assert set(batch.scores["blank", lesson].values()) == {0.0}
    assert sum(batch.scores["solution", lesson].values()) == points(batch, lesson)


def test_one_wrong_function_loses_only_its_exercise_and_feedback_names_the_mistake(batch):
    assert score(batch, "wrong", TEMPLATES, "match_score") == max_points(
        batch, TEMPLATES, "match_score"
    )
    assert score(batch, "wrong", TEMPLATES, "count_placements") == 0
    assert score(batch, "wrong", ACTIVATION, "relu") == 0
    assert "the + 1 is missing" in feedback_text(batch, "wrong", TEMPLATES)
    assert "absolute value instead of clamping" in feedback_text(batch, "wrong", ACTIVATION)
    cell = next(c for c in batch.results["wrong", TEMPLATES].cells if c.outcome == "failed")
    assert "the + 1 is missing" in cell.message


def test_a_cell_that_loops_forever_is_stopped_and_earns_nothing(batch):
    result = batch.results["loops", TEMPLATES]
    assert score(batch, "loops", TEMPLATES, "match_score") == 0  # never defined
    assert score(batch, "loops", TEMPLATES, "count_placements") == full(
        batch, "count_placements"
    )  # earned
    assert any("interrupted" in note for note in result.notes)
    assert result.status == "graded"  # stopped by the cell timeout, not the pool's limit


def test_a_function_that_raises_loses_its_exercise_only(batch):
    assert score(batch, "raises", TEMPLATES, "match_score") == 0
    assert score(batch, "raises", TEMPLATES, "count_placements") == full(batch, "count_placements")
    assert "OSError" in feedback_text(batch, "raises", TEMPLATES)


def test_a_dead_kernel_scores_nothing_after_it_died(batch):
    result = batch.results["exits", TEMPLATES]
    assert set(batch.scores["exits", TEMPLATES].values()) == {0.0}  # never full marks
    assert any("kernel died" in note for note in result.notes)
    assert result.status == "graded"  # seen dead at once, not stopped by the pool's limit
    # the same student's other lesson, and everyone else's, are graded as usual
    assert score(batch, "exits", ACTIVATION, "relu") == max_points(batch, ACTIVATION, "relu")


def test_a_loop_that_ignores_the_interrupt_is_stopped_and_earns_nothing(batch):
    result = batch.results["deaf", ACTIVATION]
    assert set(batch.scores["deaf", ACTIVATION].values()) == {0.0}
    assert any("ignored the interrupt" in note for note in result.notes)
    assert result.status == "graded"  # killed after the cell timeout, not the pool's limit


def test_an_edited_or_deleted_test_cell_is_graded_with_the_original(batch):
    result = batch.results["tampered", TEMPLATES]
    assert score(batch, "tampered", TEMPLATES, "match_score") == 0  # "pass" would give 1
    assert score(batch, "tampered", TEMPLATES, "count_placements") == 0
    assert sum("graded with the original" in note for note in result.notes) == 2
    messages = {c.grade_id: c.message for c in result.cells}
    assert "NotImplementedError" in messages[grade_id_of(batch.release[TEMPLATES], "match_score")]
    counted = messages[grade_id_of(batch.release[TEMPLATES], "count_placements")]
    assert "the + 1 is missing" in counted


def test_calling_cnnlabs_own_implementation_loses_the_exercise(batch):
    assert score(batch, "delegates", TEMPLATES, "match_score") == 0
    assert score(batch, "delegates", TEMPLATES, "count_placements") == full(
        batch, "count_placements"
    )
    assert score(batch, "delegates", ACTIVATION, "relu") == 0
    assert "uses cnnlab's own cnnlab.relu" in feedback_text(batch, "delegates", ACTIVATION)


def test_a_submission_that_replaces_the_checks_loses_every_exercise(batch):
    # The checks run in the grader, so replacing them in the kernel changes nothing; the
    # notebook that tries is told so, and loses every exercise its code could reach.
    assert score(batch, "cheats", TEMPLATES, "match_score") == 0
    assert score(batch, "cheats", TEMPLATES, "count_placements") == 0
    page = feedback_text(batch, "cheats", TEMPLATES)
    assert "an assignment to cnnlab.checks.check_match_score" in page
    assert "an assignment to numpy.allclose" in page


def test_invalid_and_missing_notebooks_are_reported_and_score_zero(batch):
    invalid = batch.results["badjson", TEMPLATES]
    assert invalid.status == "invalid" and "not a valid notebook" in invalid.notes[0]
    missing = batch.results["misnamed", TEMPLATES]
    assert missing.status == "missing" and "lesson1 (1).ipynb" in missing.notes[0]
    for student in ("badjson", "misnamed"):
        assert set(batch.scores[student, TEMPLATES].values()) == {0.0}
        assert "Not graded" in feedback_text(batch, student, TEMPLATES)


def test_a_submission_stopped_by_the_pool_scores_zero_and_says_why(batch, tmp_path):
    # What grade() makes of a submission the pool stopped at the time limit (see the
    # pool tests for the stopping itself): zeros, a note, a page, no stale graded notebook.
    stale = tmp_path / "autograded"
    shutil.copytree(batch.root / "autograded" / "solution" / TEMPLATES, stale)
    task = Task("slow", TEMPLATES, "unused", str(stale), str(tmp_path / "feedback"))
    done = grading_pool.Done(task, problem="still running after the 600 s limit: stopped")
    with Gradebook(batch.course.db_url, batch.course.course_id) as gb:
        result = stopped_result(batch.course, gb, done)
        record(gb, result)
    assert result.status == "time limit" and "600 s limit" in result.notes[0]
    assert {c.score for c in result.cells} == {0.0} and len(result.cells) >= 2
    assert not stale.exists()
    assert "600 s limit" in (tmp_path / "feedback" / f"{TEMPLATES}.html").read_text()
    assert set(gradebook_scores(batch.course)["slow", TEMPLATES].values()) == {0.0}


def test_the_batch_ran_within_its_time_limits(batch):
    assert all(r.seconds < TIME_LIMIT for r in batch.results.values())


def test_pool_runs_tasks_at_the_same_time(tmp_path):
    """Each task waits until the other has started: only two workers at once can finish."""
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    tasks = [("meet", str(meeting))] * 2
    done = list(grading_pool.run(tasks, Napper, (), workers=2, time_limit=600, log_dir=tmp_path))
    assert [d.result for d in done] == ["met", "met"]
    assert len(list(meeting.iterdir())) == 2  # two processes


# ----------------------------------------------------------------- feedback


@pytest.mark.parametrize("lesson", [TEMPLATES, ACTIVATION])
def test_feedback_shows_no_hidden_test(batch, lesson):
    hidden = hidden_test_lines(batch.root, lesson)
    pages = list((batch.root / "feedback").glob(f"*/{lesson}/{lesson}.html"))
    assert len(pages) >= 5
    for page in pages:
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        assert "HIDDEN TESTS" not in text, page
        for line in hidden:
            assert line not in text, f"{page}: {line}"


def test_feedback_of_the_student_version_shows_no_solution(batch):
    source = nbformat.read(
        batch.root / "notebooks" / TEMPLATES / f"{TEMPLATES}.ipynb", as_version=4
    )
    solution_lines = [
        line.strip()
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code"
        for line in split(cell.source, *DEFAULT.solution)[1]
        if len(line.strip()) > 10 and "SOLUTION" not in line
    ]
    assert solution_lines
    text = feedback_text(batch, "blank", TEMPLATES)
    assert not [line for line in solution_lines if line in text]


def test_hide_hidden_tests_scrubs_the_traceback_that_clear_hidden_tests_leaves():
    from nbgrader.preprocessors import ClearHiddenTests

    source = (
        "from cnnlab.checks import check_relu\n\ncheck_relu(relu)\n"
        "### BEGIN HIDDEN TESTS\ncheck_relu(relu, thorough=True)\n### END HIDDEN TESTS"
    )
    frame = (  # as IPython prints it: coloured, with the lines around the failing one
        "\x1b[36mCell\x1b[39m \x1b[32mIn[7]\x1b[39m, line 5\n"
        "\x1b[32m      3\x1b[39m check_relu(relu)\n"
        "\x1b[32m      4\x1b[39m \x1b[38;5;66;03m### BEGIN HIDDEN TESTS\x1b[39;00m\n"
        "\x1b[32m----> 5\x1b[39m check_relu(relu, thorough=\x1b[38;5;28;01mTrue\x1b[39;00m)\n"
    )
    learner = "\x1b[36mCell\x1b[39m \x1b[32mIn[5]\x1b[39m, line 2, in relu\n----> 2 return x\n"
    error = nbformat.v4.new_output(
        "error",
        ename="AssertionError",
        evalue="relu: 3/9 checks passed. Likely mistake: x returned unchanged",
        traceback=["-----", frame, learner, "AssertionError: relu: 3/9 checks passed."],
    )
    cell = nbformat.v4.new_code_cell(source, outputs=[error], execution_count=7)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 1, "locked": True}

    def shown(nb) -> str:
        out = nb.cells[0].outputs[0]
        return re.sub(r"\x1b\[[0-9;]*m", "", nb.cells[0].source + "".join(out.traceback))

    plain = ClearHiddenTests().preprocess(nbformat.v4.new_notebook(cells=[cell.copy()]), {})[0]
    assert "thorough=True" in shown(plain)  # nbgrader alone: the traceback still quotes it
    nb, _ = HideHiddenTests().preprocess(nbformat.v4.new_notebook(cells=[cell]), {})
    text = shown(nb)
    assert "thorough" not in text and "HIDDEN" not in text
    assert "In[5]" in text and "x returned unchanged" in nb.cells[0].outputs[0].evalue


# --------------------------------------------------------------- reports


def test_score_table_and_csv(batch, tmp_path):
    results = list(batch.results.values())
    table = score_table(batch.course, results)
    lessons = (TEMPLATES, ACTIVATION)
    auto = [points(batch, lesson) for lesson in lessons]
    written = [points(batch, lesson, "markdown") for lesson in lessons]
    got = [*auto, sum(auto)]
    out_of = [a + w for a, w in zip([*auto, sum(auto)], [*written, sum(written)], strict=True)]
    cells = [f"{a:g}/{t:g}\\*" for a, t in zip(got, out_of, strict=True)]
    assert re.search(r"solution\s+" + r"\s+".join(cells), table), table
    assert (
        "badjson 01-template-matching: 01-template-matching.ipynb is not a valid notebook" in table
    )
    path = write_csv(
        batch.course, sorted(results, key=lambda r: (r.student, r.lesson)), tmp_path / "g.csv"
    )
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == len(batch.results) == 17
    row = next(r for r in rows if r["student"] == "wrong" and r["lesson"] == TEMPLATES)
    match_points = max_points(batch, TEMPLATES, "match_score")
    expected = (f"{match_points:g}", f"{points(batch, TEMPLATES):g}", "graded")
    assert (row["autograded"], row["autograded_max"], row["status"]) == expected


def test_shards_split_the_students_between_machines(batch):
    everyone = find_submissions(batch.course)
    shares = [find_submissions(batch.course, shard=(k, 3)) for k in (1, 2, 3)]

    def key(task):
        return task.student, task.lesson

    assert sorted((t for share in shares for t in share), key=key) == sorted(everyone, key=key)
    students = [{t.student for t in share} for share in shares]
    assert not (students[0] & students[1] or students[1] & students[2])


def test_results_graded_on_one_machine_are_recorded_on_another(batch, tmp_path):
    other = make_course(tmp_path / "other", [TEMPLATES, ACTIVATION], cell_timeout=CELL_TIMEOUT)
    shutil.copytree(batch.root / "release", other / "release")
    template_gradebook(batch.course, other / "gradebook.db")
    saved = save_results(list(batch.results.values()), tmp_path / "results.jsonl")
    recorded = record_all(Course.find(other), load_results(saved))
    assert len(recorded) == len(batch.results)
    assert gradebook_scores(Course.find(other)) == batch.scores


def test_selfgrade_reports_points_and_where_to_look(batch, tmp_path):
    work = tmp_path / "work"
    make_working_copy(batch.course, work)
    path = work / ACTIVATION / f"{ACTIVATION}.ipynb"
    nb = nbformat.read(path, as_version=4)
    replace_function(nb, "relu", "def relu(x):\n    return np.abs(x)\n")
    nbformat.write(nb, path)
    result = selfgrade(batch.course, "03", work=work, time_limit=TIME_LIMIT, log=lambda *_: None)
    report = self_report(result)
    assert f"{ACTIVATION}: 0/{points(batch, ACTIVATION):g} points" in report
    assert "absolute value instead of clamping" in report
    assert "thorough" not in report
    page = work / "feedback" / ACTIVATION / f"{ACTIVATION}.html"
    assert page.exists() and "feedback with every cell" in report
    with Gradebook(batch.course.db_url, batch.course.course_id) as gb:
        assert "me" not in {s.id for s in gb.students}  # the gradebook is left alone


# -------------------------------------------------------------------- pool


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="looks for the process in /proc")
def test_pool_stops_a_task_at_its_time_limit_and_survives_a_dying_worker(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    tasks = [("sleep", 0.1), ("child", str(pidfile)), ("exit", 3), ("sleep", 0.2)]
    done = list(grading_pool.run(tasks, Napper, (), workers=2, time_limit=3, log_dir=tmp_path))
    by_task = {d.task: d for d in done}
    assert by_task["sleep", 0.1].result == 0.1 and by_task["sleep", 0.2].result == 0.2
    stopped = by_task["child", str(pidfile)]
    assert "limit" in stopped.problem and stopped.seconds >= 3  # never stopped early
    assert "died" in by_task["exit", 3].problem
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 120  # killed with its parent, though in a session of its own
    while time.monotonic() < deadline:
        if not Path(f"/proc/{grandchild}").exists() or _zombie(grandchild):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"process {grandchild} outlived the task that started it")


def test_pool_gives_up_when_workers_cannot_start_instead_of_failing_every_task(tmp_path):
    # Zero for every submission would be wrong: the submissions are not at fault.
    with pytest.raises(RuntimeError, match="died before they could start"):
        list(
            grading_pool.run(
                [("sleep", 0)] * 5, DiesAtStart, (), workers=2, time_limit=60, log_dir=tmp_path
            )
        )


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_without_markers_keeps_the_code():
    assert without_markers("a\n    ### BEGIN SOLUTION\nb\n    ### END SOLUTION") == "a\nb"
