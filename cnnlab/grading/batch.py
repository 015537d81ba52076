"""Grade a class in parallel, record the grades, and report them; or grade yourself.

:func:`grade` finds every ``submitted/<student>/<lesson>/``, grades them on a
pool of worker processes (:mod:`~cnnlab.grading.pool`, one
:class:`~cnnlab.grading.worker.Grader` each), records each result in the
course's gradebook as it arrives (only this process writes to it), and
returns the results; :func:`score_table` and :func:`write_csv` report them.
On several machines, each grades a share of the students (``shard``) and
saves its results (:func:`save_results`); :func:`record_all` records them all
in one gradebook.
:func:`selfgrade` grades a learner's working copy of one lesson the same way,
without touching the gradebook, and :func:`self_report` says how it went.
"""

from __future__ import annotations

import csv
import hashlib
import os
import secrets
import tempfile
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from cnnlab.grading import pool, sandbox
from cnnlab.grading.course import (
    Course,
    GradingError,
    check_gradebook,
    release,
    template_gradebook,
)
from cnnlab.grading.results import Result, not_graded
from cnnlab.grading.worker import Grader, Options, Task, cell_labels, expected_cells

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "find_submissions",
    "grade",
    "in_shard",
    "load_results",
    "record",
    "record_all",
    "save_results",
    "score_table",
    "self_report",
    "selfgrade",
    "stopped_result",
    "write_csv",
]

#: Seconds one submission may take, all cells together, before its grader is stopped.
DEFAULT_TIME_LIMIT = 600.0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    """Whether a student belongs to share ``k`` of ``n`` (``shard=(k, n)``, k from 1)."""
    if shard is None:
        return True
    k, n = shard
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % n == k - 1


def find_submissions(
    course: Course, lessons=None, students=None, shard=None, *, feedback: bool = True
) -> list[Task]:
    """A task for every ``submitted/<student>/<lesson>/`` of a lesson of the course.

    ``students`` keeps only those students; ``shard=(k, n)`` only the k-th of
    n shares of the students (the same share on every machine); with
    ``feedback=False`` no HTML feedback is made.
    """
    known = set(course.lessons())
    wanted = known if lessons is None else {course.lesson(n) for n in lessons}
    tasks = []
    if not course.submitted.is_dir():
        return tasks
    # A folder that is a symbolic link is listed too, so that grading refuses it and says so.
    for student_dir in sorted(course.submitted.iterdir()):
        if not student_dir.is_dir() or student_dir.name.startswith("."):
            continue
        if students is not None and student_dir.name not in students:
            continue
        if not in_shard(student_dir.name, shard):
            continue
        for lesson_dir in sorted(student_dir.iterdir()):
            if lesson_dir.is_dir() and lesson_dir.name in wanted:
                student, lesson = student_dir.name, lesson_dir.name
                tasks.append(
                    Task(
                        student,
                        lesson,
                        str(lesson_dir),
                        str(course.autograded / student / lesson),
                        str(course.feedback / student / lesson) if feedback else None,
                    )
                )
    return tasks


def stopped_result(course: Course, gb: Gradebook, done: pool.Done) -> Result:
    """The result of a task the pool had to stop, or whose worker died: every cell 0."""
    task = done.task
    labels = {}
    for notebook in gb.find_assignment(task.lesson).notebooks:
        path = course.release_dir / task.lesson / f"{notebook.name}.ipynb"
        if path.exists():
            labels |= cell_labels(nbformat.read(path, as_version=4))
    cells = expected_cells(gb, task.lesson, labels)
    status = "time limit" if "limit" in done.problem else "crashed"
    return not_graded(task, status, done.problem, cells)


def _run(
    course: Course,
    gb: Gradebook,
    tasks: list[Task],
    *,
    workers: int,
    time_limit: float,
    options: Options,
):
    """Grade the tasks on the pool; yield each result (a dict) as it comes.

    ``gb`` is the course's gradebook, open in this process: the workers never
    touch it (each has a copy), and only this process reads or writes it.
    """
    with tempfile.TemporaryDirectory(prefix="cnnlab-grade-") as tmp:
        # Searchable, not readable, by others: the sandbox user must reach its socket folder.
        Path(tmp).chmod(0o711)
        template = template_gradebook(course, Path(tmp) / "template.db")
        Path(template).chmod(0o600)
        args = (str(course.root), str(template), options)
        try:
            for done in pool.run(
                tasks, Grader, args, workers=workers, time_limit=time_limit, log_dir=Path(tmp)
            ):
                result = done.result if done.problem is None else stopped_result(course, gb, done)
                result.seconds = done.seconds
                yield result
        except RuntimeError as error:  # the graders themselves cannot run: nothing is graded
            raise GradingError(str(error)) from error


def record(gb: Gradebook, result: Result) -> None:
    """Write one result into the gradebook, as nbgrader's autograde would.

    A manual score given earlier is kept (and the cell flagged for review, as
    nbgrader does); a cell with no automatic score needs grading by hand.
    """
    student, lesson = result.student, result.lesson
    gb.update_or_create_student(student)
    with warnings.catch_warnings():
        # nbgrader builds a new submission's rows in a way SQLAlchemy 2 warns about (harmless).
        warnings.simplefilter("ignore", category=Warning)
        if result.timestamp is not None:
            submission = gb.update_or_create_submission(lesson, student, timestamp=result.timestamp)
        else:
            submission = gb.update_or_create_submission(lesson, student)
    scores = {(c.notebook, c.grade_id): c.score for c in result.cells}
    graded = result.status == "graded"
    for notebook in submission.notebooks:
        for grade in notebook.grades:
            score = scores.get((notebook.name, grade.name), 0.0)
            grade.auto_score = score if graded else 0.0
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        for comment in notebook.comments:
            comment.auto_comment = result.comments.get(f"{notebook.name}/{comment.name}")
        notebook.late_submission_penalty = result.late_penalty.get(notebook.name)
    gb.db.commit()


def grade(
    course: Course,
    lessons=None,
    students=None,
    *,
    shard: tuple[int, int] | None = None,
    feedback: bool = True,
    sandboxed: bool = True,
    prefork: bool = True,
    memory: int = 2 * 1024**3,
    seed: int | None = None,
    workers: int | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
    progress: Callable[[dict], None] | None = None,
    log=print,
) -> list[Result]:
    """Autograde every submission (or those of some lessons or students), in parallel.

    Each submission is graded by a worker process in a scratch course of its
    own, within ``time_limit`` seconds; its graded notebook goes to
    ``autograded/<student>/<lesson>/``, its HTML feedback to
    ``feedback/<student>/<lesson>/``, its grades into the gradebook. A
    submission that cannot be graded (missing, not a notebook, over the time
    limit, ...) scores 0 and says why in its ``notes``; the batch goes on.
    Each kernel runs in a sandbox (:mod:`~cnnlab.grading.sandbox`, at most
    ``memory`` bytes) and the test cells are judged outside it
    (:mod:`~cnnlab.grading.remote`), their hidden cases drawn from ``seed``
    (a secret one by default). The kernels of a worker are forked from a
    warm process in one sandbox, cleared between them (``prefork``), or each
    started in a sandbox of its own (``prefork=False``). ``sandboxed=False``
    runs the kernels without a sandbox: only for work you trust. Returns one
    result per submission (see :mod:`~cnnlab.grading.worker`).
    """
    if sandboxed and (why := sandbox.available()) is not None:
        raise GradingError(
            f"cannot sandbox the kernels: {why}. Graded without a sandbox, a submission "
            "could read the solutions and change other grades: use --no-sandbox only for "
            "work you trust."
        )
    tasks = find_submissions(course, lessons, students, shard, feedback=feedback)
    if not tasks:
        raise GradingError(f"no submission to grade in {course.submitted}/<student>/<lesson>/")
    graded_lessons = sorted({t.lesson for t in tasks})
    release(course, graded_lessons, log=log)
    check_gradebook(course, graded_lessons)
    options = Options(
        sandbox=sandboxed,
        prefork=prefork,
        memory=memory,
        seed=secrets.randbits(63) if seed is None else seed,
    )
    workers = min(workers or cores(), len(tasks))
    n_students = len({t.student for t in tasks})
    log(
        f"grading {_count(len(tasks), 'submission')} of {_count(n_students, 'student')} "
        f"on {_count(workers, 'worker')} (at most {time_limit:g} s each)"
    )
    results = []
    with Gradebook(course.db_url, course.course_id) as gb:
        for result in _run(
            course, gb, tasks, workers=workers, time_limit=time_limit, options=options
        ):
            try:
                record(gb, result)
            except Exception as error:  # one bad record must not stop the batch
                gb.db.rollback()
                result.notes.append(f"not recorded in the gradebook: {error}")
            results.append(result)
            if progress is not None:
                progress(result)
    return sorted(results, key=lambda r: (r.student, r.lesson))


def save_results(results: list[Result], path: Path) -> Path:
    """The results as JSON lines, for another machine to record (:func:`load_results`)."""
    with open(path, "w", encoding="utf-8") as handle:
        for result in results:
            handle.write(result.to_json() + "\n")
    return path


def load_results(path: Path) -> list[Result]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [Result.from_json(line) for line in lines if line.strip()]


def record_all(course: Course, results: list[Result]) -> list[Result]:
    """Record results graded elsewhere (see ``grade --shard``) in this course's gradebook."""
    release(course, sorted({r.lesson for r in results}))
    with Gradebook(course.db_url, course.course_id) as gb:
        for result in results:
            record(gb, result)
    return sorted(results, key=lambda r: (r.student, r.lesson))


# --------------------------------------------------------------------- reports


def _gradebook_scores(course: Course, results: list[Result]) -> dict:
    """(student, lesson) -> score, max score and "needs manual grading", from the gradebook."""
    scores = {}
    with Gradebook(course.db_url, course.course_id) as gb:
        for lesson in sorted({r.lesson for r in results}):
            for row in gb.submission_dicts(lesson):
                scores[row["student"], lesson] = row
    return scores


def score_table(course: Course, results: list[Result]) -> str:
    """A student x lesson table of the grades in the gradebook, with the problems below.

    ``3/4*``: 3 of 4 points so far; ``*``: written answers still to grade by hand.
    """
    scores = _gradebook_scores(course, results)
    lessons = sorted({r.lesson for r in results})
    students = sorted({r.student for r in results})
    short = {lesson: lesson.split("-")[0] for lesson in lessons}
    width = max(8, *(len(s) for s in students))

    def cell(row) -> str:
        if row is None:
            return "-"
        mark = "*" if row["needs_manual_grade"] else ""
        return f"{row['score']:g}/{row['max_score']:g}{mark}"

    header = "".join(f"{short[lesson]:>10}" for lesson in lessons)
    lines = [f"{'student':<{width}}{header}{'total':>12}"]
    for student in students:
        rows = [scores.get((student, lesson)) for lesson in lessons]
        total = sum(r["score"] for r in rows if r)
        most = sum(r["max_score"] for r in rows if r)
        pending = "*" if any(r and r["needs_manual_grade"] for r in rows) else ""
        lines.append(
            f"{student:<{width}}"
            + "".join(f"{cell(r):>10}" for r in rows)
            + f"{f'{total:g}/{most:g}{pending}':>12}"
        )
    lines.append("")
    lines.append("lessons: " + ", ".join(lessons))
    lines.append("*: written answers still to grade by hand (nbgrader formgrader), then rerun")
    lines.append("   `python -m cnnlab.grading feedback` to put the manual scores in the feedback")
    problems = [r for r in results if r.notes]
    if problems:
        lines.append("")
        lines.append("to look at:")
        for r in problems:
            for note in r.notes:
                lines.append(f"  {r.student} {r.lesson}: {note}")
    return "\n".join(lines)


def write_csv(course: Course, results: list[Result], path: Path) -> Path:
    """One row per submission: score (gradebook), autograded part, status and notes."""
    scores = _gradebook_scores(course, results)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "student",
                "lesson",
                "score",
                "max_score",
                "autograded",
                "autograded_max",
                "manual_pending",
                "status",
                "seconds",
                "notes",
            ]
        )
        for r in results:
            row = scores.get((r.student, r.lesson), {})
            most = r.most + sum(c.max for c in r.written)
            writer.writerow(
                [
                    r.student,
                    r.lesson,
                    f"{row.get('score', 0.0):g}",
                    f"{row.get('max_score', most):g}",
                    f"{r.points:g}",
                    f"{r.most:g}",
                    int(bool(row.get("needs_manual_grade"))),
                    r.status,
                    f"{r.seconds:.1f}",
                    "; ".join(r.notes),
                ]
            )
    return path


# ---------------------------------------------------------------- self-grading


def selfgrade(
    course: Course,
    lesson: str,
    *,
    work: Path | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
    log=print,
) -> Result:
    """Grade a learner's working copy of one lesson, as the instructor's grader would.

    The notebook is ``work/<lesson>/<lesson>.ipynb``; the HTML feedback goes to
    ``work/feedback/<lesson>/``. Nothing is written to the gradebook.
    """
    lesson = course.lesson(lesson)
    work = course.work if work is None else Path(work)
    if not (work / lesson).is_dir():
        raise GradingError(f"no working copy of {lesson} in {work}: run `make lab` first")
    release(course, [lesson], log=log)
    feedback = work / "feedback" / lesson
    task = Task("me", lesson, str(work / lesson), None, str(feedback))
    # Your own work: no sandbox needed. The hidden cases are drawn afresh each time.
    options = Options(sandbox=False, seed=secrets.randbits(63))
    with Gradebook(course.db_url, course.course_id) as gb:
        (result,) = _run(course, gb, [task], workers=1, time_limit=time_limit, options=options)
    return result


def model_answers(course: Course, lesson: str) -> dict[tuple[str, str], str]:
    """(notebook, grade_id) -> the model answer of each written exercise, from the source."""
    answers = {}
    for path in sorted((course.source / lesson).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "markdown" and meta.get("grade") and meta.get("solution"):
                text = cell.source
                if "Model answer:" in text:
                    text = text.split("Model answer:", 1)[1]
                answers[path.stem, meta["grade_id"]] = " ".join(text.split())
    return answers


def self_report(result: Result, course: Course | None = None) -> str:
    """Points per exercise, and for each one lost, where to look and what the check said.

    A written answer is not graded here: the report shows the model answer (from
    the source lesson, when ``course`` is given) to compare with your own.
    """
    lines = [f"{result.lesson}: {result.points:g}/{result.most:g} points from the checks"]
    for note in result.notes:
        lines.append(f"  note: {note}")
    answers = model_answers(course, result.lesson) if course is not None else {}
    for cell in result.cells:
        points = f"{cell.score or 0:g}/{cell.max:g}"
        if cell.kind == "written":
            lines.append(f"  {'written':>7}  {cell.label}: not graded here (a person grades it)")
            answer = answers.get((cell.notebook, cell.grade_id))
            if answer:
                lines.append("           the model answer, to compare with yours:")
                lines += [f"             {line}" for line in textwrap.wrap(answer, 76)]
            continue
        lines.append(f"  {points:>7}  {cell.label}: {cell.outcome}")
        if cell.outcome != "passed" and cell.message:
            lines.append(f"           look at the test cell {cell.grade_id!r}; it said:")
            lines += [f"             {line}" for line in cell.message.split("\n")]
    feedback = result.feedback
    if feedback:
        pages = sorted(Path(feedback).glob("*.html"))
        if pages:
            where = pages[0]
            if course is not None and where.is_relative_to(course.root):
                where = where.relative_to(course.root)
            lines.append(f"feedback with every cell: {where}")
    return "\n".join(lines)
