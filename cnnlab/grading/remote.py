"""Judging a test cell outside the learner's kernel.

A graded test cell of a lesson only calls checks::

    from cnnlab.checks import check_relu

    check_relu(relu)
    ### BEGIN HIDDEN TESTS
    check_relu(relu, thorough=True)
    ### END HIDDEN TESTS

When grading, none of it runs in the kernel. :func:`graded_calls` reads the
calls from the test cell as the release has it (the gradebook's copy), and
:func:`judge` runs each check here, in the grader, on a
:class:`KernelFunction`: a stand-in for the learner's function that sends each
case's inputs to the kernel (:mod:`cnnlab.checks._kernel`) and takes plain
data back. The cases, the hidden ones included, are built here (the hidden
ones from a secret seed), the comparison and the message are made here, and
whether the learner's code uses what the exercise rules out is read from the
notebook's source (:mod:`cnnlab.checks._source`), not asked of the kernel.
Hidden tests never enter the kernel; nothing the kernel prints or returns can
turn a wrong answer into a passed test.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass

from cnnlab import checks
from cnnlab.checks import _wire
from cnnlab.checks._core import CheckFailure, Outcome, Remote, hidden_seed
from cnnlab.checks._source import Rules, notebook_findings
from cnnlab.checks.digits import Trained

__all__ = [
    "GradedCall",
    "KernelFunction",
    "KernelLost",
    "RemoteDigits",
    "Verdict",
    "graded_calls",
    "judge",
]

#: The name the kernel keeps its last reply under (a run of the grader's, not the learner's).
REPLY = "_cnnlab_reply_"


class KernelLost(RuntimeError):
    """The kernel died, or stopped answering, while the grader asked it something."""


@dataclass(frozen=True)
class GradedCall:
    """``check_relu(relu, thorough=True)``: the check, the learner's function, the mode."""

    check: str
    function: str
    thorough: bool = False


def graded_calls(source: str) -> list[GradedCall]:
    """The check calls of a test cell, in order; ValueError for anything else in it.

    Allowed besides the calls: imports from ``cnnlab.checks`` (the grader has
    its own) and blank lines or comments.
    """
    calls = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.module == "cnnlab.checks":
            continue
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
            raise ValueError(f"a test cell may only call checks: line {node.lineno} does more")
        call = node.value
        name = call.func.id if isinstance(call.func, ast.Name) else None
        if name is None or not name.startswith("check_") or not hasattr(checks, name):
            raise ValueError(f"line {node.lineno} calls {ast.unparse(call.func)}, not a check")
        if len(call.args) != 1 or not isinstance(call.args[0], ast.Name):
            raise ValueError(f"line {node.lineno}: a check takes the learner's function by name")
        thorough = False
        for keyword in call.keywords:
            if keyword.arg != "thorough" or not isinstance(keyword.value, ast.Constant):
                raise ValueError(f"line {node.lineno}: only thorough=True|False may be given")
            thorough = bool(keyword.value.value)
        calls.append(GradedCall(name, call.args[0].id, thorough))
    return calls


#: Runs code in the kernel and returns the repr of a name afterwards (the grader's channel).
Channel = Callable[[str, str], str]


def _exception(error: dict) -> Exception:
    """A stand-in for the learner's exception: the builtin class it is, under its own name."""
    base = getattr(builtins, str(error.get("builtin", "")), Exception)
    if not (isinstance(base, type) and issubclass(base, Exception)):
        base = Exception
    name = str(error.get("type", "Exception"))
    if name != base.__name__:
        base = type(name if name.isidentifier() else "Error", (base,), {})
    return base(str(error.get("message", "")))


class KernelFunction(Remote):
    """The learner's function ``name``, living in the grading kernel.

    ``channel`` runs code in the kernel and returns the repr of a variable;
    ``cells`` are the notebook's cells as (source, written by the learner),
    read for what the exercise rules out.
    """

    def __init__(self, name: str, channel: Channel, cells: list[tuple[str, bool]], exercises=()):
        self.name = name
        self.__name__ = name
        self._channel = channel
        self._cells = cells
        self._exercises = tuple(exercises)
        self._findings: dict[tuple, list] = {}

    def __call__(self, *args, **kwargs):  # pragma: no cover - run() uses call()
        raise TypeError("a function in the grading kernel is called through call()")

    def findings_for(self, uses: tuple | None) -> list:
        if uses not in self._findings:
            self._findings[uses] = notebook_findings(self._cells, self.name, Rules(cnnlab=uses))
        return self._findings[uses]

    def _ask(self, function: str, *args) -> dict | None:
        """Run ``cnnlab.checks._kernel.<function>(globals(), *args)`` in the kernel; its reply."""
        arguments = ", ".join(repr(a) for a in args)
        code = (
            f"{REPLY} = __import__('cnnlab.checks._kernel', fromlist=['{function}'])"
            f".{function}(globals(), {arguments})"
        )
        text = self._channel(code, REPLY)
        # The repr of the reply's text: a kernel that replaced the reply may send anything.
        if len(text) > 4 * _wire.MAX_BYTES + 2:
            return None
        try:
            value = ast.literal_eval(text)
            reply = _wire.loads(value) if isinstance(value, str) else None
        except Exception:  # whatever it sent, it is no answer
            return None
        return reply if isinstance(reply, dict) else None

    def digits(self) -> RemoteDigits:
        """The training function as :func:`cnnlab.checks.check_digits_model` uses it."""
        return RemoteDigits(self)

    def call(self, case, allowed: tuple) -> Outcome:
        request = _wire.dumps({"args": case.args, "kwargs": case.kwargs, "uses": list(allowed)})
        reply = self._ask("answer", self.name, request)
        if reply is None:
            return Outcome(error=RuntimeError("the kernel's answer could not be read"))
        if "missing" in reply:
            return Outcome(error=NameError(str(reply["missing"])))
        error = reply.get("error")
        changed = reply.get("changed") or []
        called = reply.get("called") or []
        return Outcome(
            got=reply.get("got"),
            error=_exception(error) if isinstance(error, dict) else None,
            changed=[str(name) for name in changed if str(name) in case.inputs()],
            where=str(reply.get("where") or "")[:500],
            called=[str(name)[:200] for name in called],
        )


class RemoteDigits:
    """A training function in the kernel: trained there, its model kept there, run there."""

    def __init__(self, fn: KernelFunction):
        self.fn = fn

    def train(self, slot: int, arrays) -> Trained:
        request = _wire.dumps({"arrays": list(arrays), "slot": slot})
        reply = self.fn._ask("train_digits", self.fn.name, request)
        if reply is None:
            error = RuntimeError("the kernel's answer could not be read")
            return Trained("error", error=error)
        if "missing" in reply:
            return Trained("error", error=NameError(str(reply["missing"])))
        error = reply.get("error")
        kind = str(reply.get("kind"))
        return Trained(
            kind if kind in ("model", "none", "history", "other", "error") else "other",
            what=str(reply.get("what") or "")[:200],
            error=_exception(error) if isinstance(error, dict) else None,
            where=str(reply.get("where") or "")[:500],
            layers=tuple(str(name)[:80] for name in reply.get("layers") or ()),
        )

    def scores(self, slot: int, x) -> Outcome:
        reply = self.fn._ask("digit_scores", _wire.dumps({"slot": slot, "x": x}))
        if reply is None:
            return Outcome(error=RuntimeError("the kernel's answer could not be read"))
        error = reply.get("error")
        if isinstance(error, dict):
            return Outcome(error=_exception(error))
        return Outcome(got=reply.get("got"))


@dataclass
class Verdict:
    """How a test cell went: the lines its checks printed, and the failure if one failed."""

    printed: list
    failure: str | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None


def judge(source: str, channel: Channel, cells: list, seed: int) -> Verdict:
    """Run the checks of a test cell on the learner's functions in the kernel.

    The checks run in order and stop at the first that fails, as in the
    notebook; ``thorough`` ones draw their random cases from ``seed``.
    Raises :class:`KernelLost` if the kernel dies or stops answering.
    """
    printed = []
    for call in graded_calls(source):
        fn = KernelFunction(call.function, channel, cells)
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), hidden_seed(seed if call.thorough else None):
                getattr(checks, call.check)(fn, thorough=call.thorough)
        except CheckFailure as failure:
            printed += out.getvalue().splitlines()
            return Verdict(printed, str(failure))
        printed += out.getvalue().splitlines()
    return Verdict(printed)
