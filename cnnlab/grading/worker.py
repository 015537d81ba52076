"""Grade one submission: nbgrader's autograde and feedback, in a course of its own.

A :class:`Grader` lives in one worker process. It owns a scratch nbgrader
course in a temporary folder, with its own copy of the gradebook (made from
:func:`~cnnlab.grading.course.template_gradebook`), so graders running side by
side never write to the same SQLite file; the batch records their results in
the course's gradebook afterwards, one at a time. For each :class:`Task` it

1. checks that the submission holds only plain files (no symbolic link) and
   that the notebook is there and is valid JSON (else it reports that and
   scores 0: nbgrader would stop on it);
2. notes any locked cell the learner edited (nbgrader grades with the original);
3. runs ``nbgrader autograde`` and ``nbgrader generate_feedback`` with the
   course's settings (per-cell timeout, :class:`~.preprocessors.SandboxedExecute`:
   the kernel in a sandbox, the test cells judged in this process;
   :class:`~.preprocessors.HideHiddenTests`);
4. returns a :class:`~cnnlab.grading.results.Result` with the score, outcome
   and first lines of feedback of every graded cell, and copies the graded
   notebook and the HTML feedback where the task says.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client.provisioning import KernelProvisionerFactory
from nbgrader.api import Gradebook, MissingEntry

import cnnlab
from cnnlab.grading import prefork
from cnnlab.grading.course import Course
from cnnlab.grading.markers import Markers
from cnnlab.grading.prefork import Zygote
from cnnlab.grading.preprocessors import hidden_lines, scrub_outputs
from cnnlab.grading.results import CellResult, Result, not_graded
from cnnlab.grading.sandbox import (
    SANDBOX_UID,
    Sandbox,
    SandboxError,
    limited_tmpfs,
    private_mounts,
    searchable_by_others,
    stop_zygotes,
)

__all__ = ["Grader", "Options", "Task", "cell_labels", "expected_cells", "submission_problem"]

#: How many lines of a failing cell's message a report shows.
MESSAGE_LINES = 16


@dataclass(frozen=True)
class Task:
    """One submission to grade: ``submission`` holds the learner's notebook(s).

    ``autograded`` and ``feedback`` are the folders the graded notebook and
    the HTML feedback are copied to (``None``: not kept).
    """

    student: str
    lesson: str
    submission: str
    autograded: str | None = None
    feedback: str | None = None


# ------------------------------------------------------------ reading notebooks


def _is_grade(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("grade"))


def heading(cell, current: str | None) -> str | None:
    """The last heading in a markdown cell (backticks removed), else ``current``."""
    if cell.cell_type == "markdown":
        for line in cell.source.split("\n"):
            if line.startswith("#"):
                current = line.lstrip("#").strip().replace("`", "")
    return current


def cell_labels(nb) -> dict[str, str]:
    """What a learner calls each graded cell: the heading of its exercise."""
    labels, current = {}, None
    for cell in nb.cells:
        current = heading(cell, current)
        if _is_grade(cell):
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            labels[grade_id] = current or grade_id
    return labels


def _outcome(cell, hidden: set[str]) -> tuple[str, str]:
    """How a graded code cell went, and the first lines of what it said."""
    outputs = scrub_outputs(
        cell.get("outputs", []), hidden, test_cell=True, count=cell.get("execution_count")
    )
    errors = [o for o in outputs if o.output_type == "error"]
    if errors:
        names = {o.ename for o in errors}
        first = errors[-1] if "CellTimeoutError" in names else errors[0]
        outcome = {
            "DeadKernelError": "kernel died",
            "KernelNotRunning": "not run",
            "CellTimeoutError": "timed out",
            "KernelUnresponsiveError": "timed out",
        }.get(first.ename, "failed")
        message = f"{first.ename}: {first.evalue}".strip()
    elif any(o.output_type == "stream" and o.name == "stderr" for o in outputs):
        outcome, message = "failed", "the cell wrote to stderr, which nbgrader counts as a failure"
    else:
        return "passed", ""
    lines = message.split("\n")
    if len(lines) > MESSAGE_LINES:
        lines = [*lines[: MESSAGE_LINES - 1], "... (the feedback page has the rest)"]
    return outcome, "\n".join(lines)


def expected_cells(gb: Gradebook, lesson: str, labels: dict[str, str]) -> list[CellResult]:
    """The graded cells of a lesson, as the gradebook knows them, not graded yet."""
    cells = []
    for notebook in gb.find_assignment(lesson).notebooks:
        for cell in notebook.grade_cells:
            cells.append(
                CellResult(
                    notebook=notebook.name,
                    grade_id=cell.name,
                    label=labels.get(cell.name, cell.name),
                    kind="code" if cell.cell_type == "code" else "written",
                    max=float(cell.max_score),
                )
            )
    order = {cell.grade_id: i for i, cell in enumerate(cells)}
    return sorted(cells, key=lambda c: (c.notebook, order[c.grade_id]))


def _replace_tree(source: Path, dest: Path) -> None:
    """Put a copy of ``source`` at ``dest``, replacing what was there."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(staging, dest)


# ---------------------------------------------------------------------- grader


@dataclass(frozen=True)
class Options:
    """How a grader runs the kernels.

    ``sandbox``: kernels in a :class:`~cnnlab.grading.sandbox.Sandbox` with
    ``memory`` bytes of address space at most: with ``prefork``, forked one
    after the other from a warm process in one sandbox per worker, cleared
    between them; without it, each in a sandbox of its own. Without
    ``sandbox``, kernels are forked from a warm process (``prefork``) or
    started the usual way.
    ``seed``: the seed of the hidden cases of every thorough check.
    """

    sandbox: bool = True
    prefork: bool = True
    memory: int = 2 * 1024**3
    seed: int = 0


def _readable_folders() -> list[str]:
    """What a kernel must read: the Python installation, the virtual environment, cnnlab."""
    folders = [
        os.path.realpath(sys.base_prefix),
        os.path.realpath(sys.prefix),
        os.path.dirname(os.path.realpath(cnnlab.__file__)),
    ]
    kept = []
    for folder in dict.fromkeys(folders):
        if not any(folder.startswith(other + os.sep) for other in folders if other != folder):
            kept.append(folder)
    return kept


class Grader:
    """Grades submissions one at a time in a private scratch course."""

    def __init__(self, course_root: str, template_db: str, options: Options = Options()):
        # One BLAS thread per kernel: the workers already keep every core busy.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        self.course = Course.find(course_root)
        # Next to the template, in the batch's temporary folder: removed with it even
        # when this worker is killed before it can clean up. Searchable by the sandbox
        # user (0711), so that bubblewrap can bind the socket folder; readable by no one.
        self.root = Path(tempfile.mkdtemp(prefix="grader-", dir=Path(template_db).parent))
        self.root.chmod(0o711)
        shutil.copy(template_db, self.root / "gradebook.db")
        self.db_url = f"sqlite:///{self.root / 'gradebook.db'}"
        config = self.course.config()
        where = config.CourseDirectory
        where.root = str(self.root)
        where.source_directory = str(self.course.source)
        where.release_directory = str(self.course.release_dir)
        where.submitted_directory = "submitted"
        where.autograded_directory = "autograded"
        where.feedback_directory = "feedback"
        where.db_url = self.db_url
        config.Exchange.root = str(self.root / "exchange")
        execute = config.SandboxedExecute
        execute.seed = options.seed
        execute.release_directory = str(self.course.release_dir)
        if options.sandbox:
            execute.sockets, execute.sandbox = self._sandbox(options)
            execute.forked = options.prefork and prefork.supported()
        elif options.prefork and prefork.supported():  # kernels forked from a warm process
            KernelProvisionerFactory.instance().default_provisioner_name = "cnnlab-prefork"
            Zygote.for_python(sys.executable)
        self.api = self.course.api(config)
        self.markers = Markers.of(config)
        self._released = {}

    def _sandbox(self, options: Options) -> tuple[str, str]:
        """The socket folder and the :class:`Sandbox` (as JSON) of this grader's kernels."""
        readable = _readable_folders()
        # IPYTHONDIR's kernel settings (tests draw no figures) reach the kernel, read-only.
        config = Path(os.environ.get("IPYTHONDIR", "/nonexistent"), "profile_default")
        config = config / "ipython_kernel_config.py"
        sockets = self.root / "sockets"
        if os.geteuid() == 0:
            # The kernels run as a user of their own, nobody on this machine; this worker
            # gives them what that user cannot reach, in a mount namespace of its own.
            if not searchable_by_others(str(self.root)):
                raise SandboxError(
                    f"the sandbox's user cannot pass through to {self.root}: grade with a "
                    "temporary folder every user may pass through (TMPDIR=/tmp)"
                )
            uid = SANDBOX_UID + int(os.environ.get("CNNLAB_WORKER", "0")) % 1000
            reach = [*readable, str(config.parent)] if config.is_file() else readable
            mounts = private_mounts(self.root, reach)
        else:
            uid, mounts = None, {}
            sockets.mkdir(mode=0o700, exist_ok=True)
        spec = Sandbox(
            sockets="",
            readable=readable,
            mounts=mounts,
            uid=uid,
            memory=options.memory,
            kernel_config=str(config) if config.is_file() else "",
        )
        if uid is not None:  # the folders a kernel writes, limited in files too
            spec.tmpfs = limited_tmpfs(self.root, spec)
        return str(sockets), spec.to_json()

    def close(self) -> None:
        stop_zygotes()
        shutil.rmtree(self.root, ignore_errors=True)

    def __call__(self, task: Task) -> Result:
        start = time.monotonic()
        try:
            result = self._grade(task)
        except Exception:
            last = traceback.format_exc().strip().split("\n")[-1]
            try:
                cells = self._cells(task)
            except Exception:  # the lesson itself is the problem: no cell to list
                cells = []
            result = not_graded(task, "error", f"the grader failed: {last}", cells)
        finally:
            for step in ("submitted", "autograded", "feedback"):
                shutil.rmtree(self.root / step / task.student, ignore_errors=True)
        result.seconds = time.monotonic() - start
        return result

    # the steps --------------------------------------------------------------------

    def _release(self, lesson: str, notebook: str):
        """The student version of a notebook (read once per worker, unless it changes)."""
        path = self.course.release_dir / lesson / f"{notebook}.ipynb"
        key = (path, path.stat().st_mtime_ns)
        if key not in self._released:
            self._released[key] = nbformat.read(path, as_version=4)
        return self._released[key]

    def _cells(self, task: Task) -> list[CellResult]:
        with Gradebook(self.db_url, self.course.course_id) as gb:
            labels = {}
            for notebook in gb.find_assignment(task.lesson).notebooks:
                labels |= cell_labels(self._release(task.lesson, notebook.name))
            return expected_cells(gb, task.lesson, labels)

    def _fail(self, task: Task, status: str, note: str) -> Result:
        return not_graded(task, status, note, self._cells(task))

    def _grade(self, task: Task) -> Result:
        try:
            with Gradebook(self.db_url, self.course.course_id) as gb:
                notebooks = [nb.name for nb in gb.find_assignment(task.lesson).notebooks]
        except MissingEntry:
            raise RuntimeError(f"{task.lesson} is not in the gradebook: release it first") from None

        submission = Path(task.submission)
        problem = submission_problem(submission)
        if problem is not None:
            return self._fail(task, "invalid", problem)
        notes = []
        for name in notebooks:
            path = submission / f"{name}.ipynb"
            if not path.exists():
                others = sorted(p.name for p in submission.glob("*.ipynb"))
                found = f" (found: {', '.join(others)})" if others else ""
                return self._fail(task, "missing", f"no {name}.ipynb in the submission{found}")
            try:
                submitted = nbformat.read(path, as_version=4)
            except Exception as error:
                reason = str(error).strip().split("\n")[0][:200]
                return self._fail(
                    task, "invalid", f"{name}.ipynb is not a valid notebook: {reason}"
                )
            notes += _tampering(self._release(task.lesson, name), submitted)

        scratch = self.root / "submitted" / task.student / task.lesson
        _copy_plain_files(submission, scratch)
        outcome = self.api.autograde(task.lesson, task.student, force=True, create=True)
        if not outcome["success"]:
            why = _last_error(outcome)
            return self._fail(task, "error", f"nbgrader could not grade it: {why}")

        graded = self.root / "autograded" / task.student / task.lesson
        result, graded_notebooks = self._read_grades(task, graded)
        for nb in graded_notebooks:
            notes += kernel_trouble(nb)
        result.notes = notes

        if task.feedback is not None:
            made = self.api.generate_feedback(task.lesson, task.student, force=True)
            if made["success"]:
                _replace_tree(
                    self.root / "feedback" / task.student / task.lesson, Path(task.feedback)
                )
                result.feedback = task.feedback
            else:
                notes.append(f"no feedback: {_last_error(made)}")
        if task.autograded is not None:
            _replace_tree(graded, Path(task.autograded))
        return result

    def _read_grades(self, task: Task, graded: Path) -> tuple[Result, list]:
        """The result of a graded submission (scores, outcomes, messages, comments,
        timestamp, late penalty), and its graded notebooks."""
        outcomes, labels, notebooks = {}, {}, []
        with Gradebook(self.db_url, self.course.course_id) as gb:
            submission = gb.find_submission(task.lesson, task.student)
            for notebook in submission.notebooks:
                nb = nbformat.read(graded / f"{notebook.name}.ipynb", as_version=4)
                notebooks.append(nb)
                hidden = hidden_lines(nb, self.markers)
                labels |= cell_labels(self._release(task.lesson, notebook.name))
                for cell in nb.cells:
                    if _is_grade(cell) and cell.cell_type == "code":
                        outcomes[cell.metadata.nbgrader["grade_id"]] = _outcome(cell, hidden)
            cells = expected_cells(gb, task.lesson, labels)
            comments, penalties = {}, {}
            for notebook in submission.notebooks:
                penalties[notebook.name] = notebook.late_submission_penalty
                scores = {grade.name: grade.auto_score for grade in notebook.grades}
                for cell in cells:
                    if cell.notebook == notebook.name:
                        cell.score = scores.get(cell.grade_id)
                comments |= {f"{notebook.name}/{c.name}": c.auto_comment for c in notebook.comments}
            timestamp = submission.timestamp
        for cell in cells:
            if cell.kind == "code":
                outcome, message = outcomes.get(cell.grade_id, ("missing", "cell not found"))
                if outcome == "passed" and cell.score is not None and cell.score < cell.max:
                    outcome = "partial"
            elif cell.score == 0:
                outcome, message = "no answer", ""
            else:
                outcome, message = "to grade by hand", ""
            cell.outcome, cell.message = outcome, message
        result = Result(
            task.student,
            task.lesson,
            "graded",
            cells,
            comments=comments,
            timestamp=timestamp,
            late_penalty=penalties,
        )
        return result, notebooks


def kernel_trouble(nb) -> list[str]:
    """Where the kernel died, timed out or stopped answering in a graded notebook."""
    notes, current = [], None
    for index, cell in enumerate(nb.cells):
        current = heading(cell, current)
        names = {o.ename for o in cell.get("outputs", []) if o.output_type == "error"}
        where = f"cell {index} (in {current or 'the opening'!r})"
        if "DeadKernelError" in names:
            notes.append(f"the kernel died in {where}: it and every later cell score 0")
        elif "KernelUnresponsiveError" in names:
            notes.append(f"{where} ignored the interrupt: it and every later cell score 0")
        elif "CellTimeoutError" in names:
            notes.append(f"{where} ran out of time and was interrupted")
        elif "CheckInterrupted" in names:
            notes.append(f"the check in {where} could not finish")
        elif "GradingError" in names:
            notes.append(f"the test in {where} is not one the grader can run")
    return notes


#: The most a submission folder may hold: files, and bytes in all.
MOST_FILES, MOST_BYTES = 100, 256 * 1024**2


def submission_problem(folder: Path) -> str | None:
    """Why a submission folder cannot be graded as it is, or None.

    Only plain files are graded: a symbolic link (to a source lesson, to a
    classmate's notebook) or a special file anywhere in it is refused, and so
    is a folder too large to copy. Hidden entries (``.ipynb_checkpoints``)
    are skipped, never followed.
    """
    if folder.is_symlink() or folder.parent.is_symlink() or not folder.is_dir():
        return "the submission is a symbolic link, not a plain folder"
    count = size = 0
    for parent, folders, files in os.walk(folder, followlinks=False):
        folders[:] = [f for f in folders if not f.startswith(".")]
        for name in [*folders, *files]:
            if name.startswith("."):
                continue
            path = Path(parent) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                return f"{path.relative_to(folder)} is a symbolic link: only plain files are graded"
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                return f"{path.relative_to(folder)} is not a plain file"
            count += 1
            size += info.st_size
    if count > MOST_FILES or size > MOST_BYTES:
        return f"the submission holds {count} files of {size} bytes: too much to grade"
    return None


def _copy_plain_files(source: Path, dest: Path) -> None:
    """Copy the plain files directly in ``source`` (never following a link) to ``dest``."""
    dest.mkdir(parents=True)
    for entry in os.scandir(source):
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as reader, open(dest / entry.name, "wb") as writer:
            shutil.copyfileobj(reader, writer)


def _tampering(release, submitted) -> list[str]:
    """Locked cells of the release that the learner edited or deleted."""

    def locked(nb):
        return {
            c.metadata["nbgrader"]["grade_id"]: c.source
            for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("locked") and "grade_id" in c.metadata["nbgrader"]
        }

    original, now = locked(release), locked(submitted)
    notes = []
    for grade_id, source in original.items():
        if grade_id not in now:
            notes.append(f"locked cell {grade_id} deleted or unlocked: graded with the original")
        elif now[grade_id] != source:
            notes.append(f"locked cell {grade_id} edited: graded with the original")
    return notes


def _last_error(outcome: dict) -> str:
    text = (outcome.get("error") or outcome.get("log") or "unknown error").strip()
    lines = [line for line in text.split("\n") if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines)[-1].strip()[:300]
