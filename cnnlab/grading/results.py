"""What grading a submission gives: a :class:`Result` of :class:`CellResult` objects.

A result travels from a worker process to the batch (through the pool's pipe),
into the gradebook, the reports and ``grades.csv``, and to other machines as
JSON lines (``grade --results``). It is built in two places only: by the
grader from a graded notebook, and by :func:`not_graded` for a submission that
could not be graded (every cell 0, and a page saying why).
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CellResult", "Result", "not_graded", "write_failure_feedback"]

#: The statuses of a result: graded, or why not.
STATUSES = ("graded", "missing", "invalid", "error", "time limit", "crashed")


@dataclass
class CellResult:
    """One graded cell: an exercise's test cell ("code") or a written answer ("written")."""

    notebook: str
    grade_id: str
    label: str  # what a learner calls it: the heading of its exercise
    kind: str  # "code" or "written"
    max: float
    score: float | None = None  # None: still to grade by hand
    outcome: str = ""  # passed, failed, partial, timed out, kernel died, no answer, ...
    message: str = ""  # the first lines of what its check said


@dataclass
class Result:
    """How one submission (a student's lesson) was graded."""

    student: str
    lesson: str
    status: str
    cells: list[CellResult]
    notes: list[str] = field(default_factory=list)
    comments: dict = field(default_factory=dict)  # "notebook/comment" -> automatic comment
    timestamp: datetime.datetime | None = None
    late_penalty: dict = field(default_factory=dict)  # notebook -> points taken off
    seconds: float = 0.0
    feedback: str | None = None  # the folder of its HTML feedback, if one was made

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"Result: status {self.status!r} is not one of {STATUSES}")

    @property
    def code(self) -> list[CellResult]:
        return [c for c in self.cells if c.kind == "code"]

    @property
    def written(self) -> list[CellResult]:
        return [c for c in self.cells if c.kind == "written"]

    @property
    def points(self) -> float:
        """The autograded points earned."""
        return sum(c.score or 0.0 for c in self.code)

    @property
    def most(self) -> float:
        """The autograded points there are."""
        return sum(c.max for c in self.code)

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["timestamp"] = self.timestamp.isoformat() if self.timestamp else None
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Result:
        data = json.loads(text)
        data["cells"] = [CellResult(**cell) for cell in data["cells"]]
        if data.get("timestamp"):
            data["timestamp"] = datetime.datetime.fromisoformat(data["timestamp"])
        return cls(**data)


def write_failure_feedback(folder: str | None, notebooks: list[str], message: str) -> None:
    """A short HTML page in place of the feedback of a submission that was not graded."""
    if folder is None:
        return
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    page = f"<html><body><h1>Not graded</h1><p>{html.escape(message)}</p></body></html>\n"
    for name in notebooks:
        (folder / f"{name}.html").write_text(page, encoding="utf-8")


def not_graded(task, status: str, note: str, cells: list[CellResult]) -> Result:
    """The result of a submission that could not be graded, and its traces put right.

    Every cell scores 0; the feedback folder gets a page saying why, for each
    notebook; a graded notebook left from an earlier run is removed.
    """
    notebooks = sorted({cell.notebook for cell in cells})
    write_failure_feedback(task.feedback, notebooks, f"{task.lesson}: {note}")
    if task.autograded is not None:
        shutil.rmtree(task.autograded, ignore_errors=True)
    zeros = [dataclasses.replace(cell, score=0.0, outcome=status, message="") for cell in cells]
    return Result(task.student, task.lesson, status, zeros, notes=[note], feedback=task.feedback)
