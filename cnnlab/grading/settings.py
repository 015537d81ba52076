"""The course's nbgrader steps, made from nbgrader's own defaults (read by nbgrader_config.py).

nbgrader configures its steps as whole lists of preprocessors. Copying those
lists into the course's settings would freeze them at the nbgrader version
they were copied from; each list here is nbgrader's default, read from the
app's trait, with the course's steps put in by name:

* release: after ``ClearOutput``, :class:`~.preprocessors.ClearWidgetState`
  and :class:`~.preprocessors.TagUnfinishedCells`;
* autograde: ``Execute`` replaced by :class:`~.preprocessors.SandboxedExecute`;
* feedback: after ``GetGrades``, :class:`~.preprocessors.HideHiddenTests` and
  nbgrader's ``ClearHiddenTests``.

Each function raises ``LookupError`` if nbgrader's defaults no longer hold the
step it builds on (tests/test_settings.py runs them), rather than grading
with a list that silently lost a step.
"""

from __future__ import annotations

__all__ = ["autograde_preprocessors", "feedback_preprocessors", "release_preprocessors"]

OURS = "cnnlab.grading.preprocessors"


def _default(app, trait: str) -> list:
    return list(app.class_traits()[trait].default())


def _index(steps: list, name: str, where: str) -> int:
    for i, step in enumerate(steps):
        if getattr(step, "__name__", step) == name:
            return i
    raise LookupError(f"nbgrader's default {where} steps have no {name} any more")


def release_preprocessors() -> list:
    from nbgrader.converters import GenerateAssignment

    steps = _default(GenerateAssignment, "preprocessors")
    at = _index(steps, "ClearOutput", "release") + 1
    return [*steps[:at], f"{OURS}.ClearWidgetState", f"{OURS}.TagUnfinishedCells", *steps[at:]]


def autograde_preprocessors() -> list:
    from nbgrader.converters import Autograde

    steps = _default(Autograde, "autograde_preprocessors")
    steps[_index(steps, "Execute", "autograde")] = f"{OURS}.SandboxedExecute"
    return steps


def feedback_preprocessors() -> list:
    from nbgrader.converters import GenerateFeedback

    steps = _default(GenerateFeedback, "preprocessors")
    at = _index(steps, "GetGrades", "feedback") + 1
    hidden = [f"{OURS}.HideHiddenTests", "nbgrader.preprocessors.ClearHiddenTests"]
    return [*steps[:at], *hidden, *steps[at:]]
