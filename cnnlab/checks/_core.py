"""The runner every check shares, and what a check is made of.

A check is a :class:`Check`: the name of the exercise, the reference function,
a list of :class:`Case` objects (inputs, plus the expected answer computed by
the reference before the learner's code runs), and a generator of the
:class:`Mistake` objects that are known to happen on that exercise. :func:`run`
calls the learner's function on a fresh copy of every case's inputs and turns
whatever goes wrong into a message a learner can act on, in this order:

1. an exception (``NotImplementedError`` means "still the stub"), with the
   line of the learner's code that raised it;
2. a wrong return type or shape, in a plain sentence;
3. wrong values, shown in full for a small case, summarised for a large one,
   with the known mistake they match, if any ("Likely mistake: ..."), or a
   clue about how they differ ("every value is 2 times the expected one");
4. an input changed in place;
5. a dtype that is not the one the contract asks for.

The wording lives in :mod:`~cnnlab.checks._compare`. Before any case, the
learner's source is read (:mod:`~cnnlab.checks._source`) and during every
call what it calls is watched (:class:`~cnnlab.checks._reference.Watch`):
an answer that uses cnnlab's own implementation (``Check.uses`` lists the
cnnlab helpers an exercise may use), a library the course rules out, or code
that hides what runs fails in the visible check already. ``thorough=True``
only adds randomised cases (drawn from a secret seed when grading:
:func:`hidden_seed`).

When grading, the learner's function runs in a sandboxed kernel: :func:`run`
gets a :class:`Remote` stand-in, and calls it on each case as it would call
the function. Everything else, the cases, the comparison and every word of
the message, happens here, outside the learner's reach.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import inspect
import itertools
import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

import cnnlab
from cnnlab.checks._compare import (
    call_text,
    compare,
    diagnose,
    dtype_problem,
    low_precision,
    what,
)
from cnnlab.checks._reference import REF, Watch
from cnnlab.checks._source import Finding, Rules, function_findings, history_findings

__all__ = [
    "REF",
    "SIGN",
    "Case",
    "Check",
    "CheckFailure",
    "Mistake",
    "Outcome",
    "Remote",
    "allowed_sentence",
    "call_locally",
    "changed_inputs",
    "distinct",
    "extra_rng",
    "hidden_seed",
    "normal",
    "pair",
    "random_pair",
    "random_pooling",
    "run",
    "wrong_order",
]

# ---------------------------------------------------------------------- data classes


@dataclass
class Case:
    """One call of the learner's function.

    ``args`` are passed by position (in order), ``kwargs`` by keyword, as a
    learner would call the function in a notebook. ``expected`` is filled in by
    :func:`run` from the reference unless the case gives it.
    """

    title: str
    args: dict
    kwargs: dict = field(default_factory=dict)
    expected: object = None

    def inputs(self) -> dict:
        return {**self.args, **self.kwargs}


@dataclass
class Mistake:
    """A known wrong answer: what it is called, a hint, and how to compute it.

    ``make()`` returns the wrong answer for the case at hand (built from the
    reference ops on altered inputs, never shown to the learner). For a tuple
    result, a part given as ``None`` matches anything. With ``shape_only``,
    ``make()`` returns just the shape such a mistake produces.
    """

    name: str
    hint: str
    make: Callable[[], object]
    shape_only: bool = False


@dataclass
class Check:
    """Everything :func:`run` needs to check one exercise."""

    name: str
    reference: Callable
    cases: list
    mistakes: Callable[[Case], Iterable[Mistake]] = lambda case: ()
    returns: str = "array"  # "array", "number", "int" or "tuple"
    parts: tuple = ()  # the names of the returned tuple's items, e.g. ("dx", "dweight", "dbias")
    layout: object = ""  # e.g. "(N, F, Ho, Wo)"; a tuple of layouts for a tuple result
    uses: tuple = ()  # the cnnlab functions fn may call (by name, e.g. "output_size")
    tidy: Callable | None = None  # applied to what fn returns before it is compared


# ------------------------------------------------- helpers for building checks


def normal(rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
    """Standard-normal test data of a given dtype."""
    return rng.standard_normal(shape).astype(dtype)


def distinct(rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
    """Values from -5 to 5 without ties, so that every pooling window has one clear maximum."""
    ranks = rng.permutation(int(np.prod(shape))).reshape(shape)
    return (-5.0 + 10.0 * ranks / max(1, ranks.size - 1)).astype(dtype)


def pair(value) -> tuple[int, int]:
    """``stride=2`` means ``(2, 2)``: (vertical, horizontal)."""
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def random_pair(rng: np.random.Generator, low: int, high: int):
    """An int or, half of the time, a pair of ints, in [low, high)."""
    a, b = (int(v) for v in rng.integers(low, high, 2))
    return a if rng.random() < 0.5 else (a, b)


def pooling_maps() -> tuple[np.ndarray, np.ndarray]:
    """Two small maps whose window maxima are easy to check by eye, shape (1, 1, H, W):
    4 x 4 (2 x 2 windows tile it) and 5 x 5 (the last row and column fit no window).
    """
    grid = np.array([[1.0, 3, 2, 1], [4, 2, 0, 1], [5, 1, 7, 8], [0, 6, 2, 3]])
    odd = np.array(
        [[1.0, 7, 2, 0, 9], [3, 2, 5, 4, 1], [8, 0, 1, 6, 2], [2, 9, 3, 1, 7], [6, 1, 4, 8, 3]]
    )
    return grid.reshape(1, 1, 4, 4), odd.reshape(1, 1, 5, 5)


def random_pooling(rng: np.random.Generator, count: int = 8):
    """``count`` random pooling calls for thorough checks: (title, x, kwargs) each.

    A window of 1 to 3 pixels a side, a stride of its own or (3 times in 10) the
    default, a batch of maps at least one window large, float32 or float64.
    """
    for _ in range(count):
        kernel = random_pair(rng, 1, 4)
        stride = None if rng.random() < 0.3 else random_pair(rng, 1, 4)
        kh, kw = pair(kernel)
        shape = (
            *(int(v) for v in rng.integers(1, 4, 2)),
            int(rng.integers(kh, 11)),
            int(rng.integers(kw, 11)),
        )
        dtype = np.float32 if rng.random() < 0.5 else np.float64
        kwargs = {"kernel_size": kernel} | ({} if stride is None else {"stride": stride})
        title = f"random, kernel_size {kernel}, stride {stride}, {np.dtype(dtype)}"
        yield title, distinct(rng, shape, dtype), kwargs


#: The name and hint of a gradient with the wrong sign.
SIGN = ("wrong sign", "the gradient points uphill: it has the sign of the change in the loss.")


def wrong_order(expected: tuple, parts: tuple) -> Iterable[Mistake]:
    """Mistakes: the right gradients, returned in another order."""
    for order in itertools.permutations(range(len(parts))):
        if order != tuple(range(len(parts))):
            yield Mistake(
                "gradients returned in the wrong order",
                f"return them in the order ({', '.join(parts)}).",
                lambda order=order: tuple(expected[i] for i in order),
            )


# ------------------------------------------------------------------------ running


class CheckFailure(AssertionError):
    """A check's verdict: the message, and nothing of the checker's own code.

    In a notebook IPython shows ``_render_traceback_()`` instead of the
    traceback: the line of the learner's cell that called the check, then
    the message. The frames inside :mod:`cnnlab.checks` are noise to a learner.
    """

    def _render_traceback_(self) -> list[str]:
        lines = []
        for frame in traceback.extract_tb(self.__traceback__):
            if not frame.filename.startswith(_PACKAGE) and frame.line:
                lines = [f"{frame.line.strip()}  (line {frame.lineno} of this cell)"]
        return [*lines, f"{type(self).__name__}: {self}"]


#: cnnlab's own folder: frames in it are the checker's, not the learner's.
_PACKAGE = os.path.dirname(os.path.abspath(cnnlab.__file__)) + os.sep

#: When grading, the seed of the randomised cases that ``thorough=True`` adds
#: (None: the fixed seeds every learner sees). Set by :func:`hidden_seed`.
_HIDDEN_SEED: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "cnnlab_hidden_seed", default=None
)


@contextlib.contextmanager
def hidden_seed(seed: int | None):
    """Draw the randomised cases of ``thorough=True`` from ``seed`` for a while.

    The grader uses a secret seed, so that no answer can carry a table of the
    hidden cases' answers; the visible cases stay the ones the learner saw.
    """
    token = _HIDDEN_SEED.set(seed)
    try:
        yield
    finally:
        _HIDDEN_SEED.reset(token)


def extra_rng(rng: np.random.Generator) -> np.random.Generator:
    """The generator of a check's randomised thorough cases: ``rng``, unless grading."""
    seed = _HIDDEN_SEED.get()
    if seed is None:
        return rng
    return np.random.default_rng([seed, int(rng.integers(2**32))])


@dataclass
class Outcome:
    """What one call of the learner's function did, as plain facts.

    ``where`` is the line of the learner's code that raised, ``called`` the
    cnnlab functions it called that the exercise does not allow (see
    :class:`~cnnlab.checks._reference.Watch`).
    """

    got: object = None
    error: Exception | None = None
    changed: list = field(default_factory=list)
    where: str = ""
    called: list = field(default_factory=list)


class Remote:
    """The learner's function when it runs somewhere else (a grading kernel).

    :func:`run` calls :meth:`call` instead of the function; the answer comes
    back as plain data (see :mod:`cnnlab.grading.remote`); :meth:`findings_for`
    is what reading the learner's notebook finds (:mod:`~cnnlab.checks._source`).
    """

    name = "your function"

    def findings_for(self, uses: tuple) -> list:  # pragma: no cover - interface
        """What reading the learner's notebook finds that ``uses`` does not allow."""
        raise NotImplementedError

    def call(self, case: Case, allowed: tuple) -> Outcome:  # pragma: no cover - interface
        raise NotImplementedError


def _fresh(value):
    return value.copy() if isinstance(value, np.ndarray) else copy.deepcopy(value)


def changed_inputs(case: Case, passed: dict) -> list[str]:
    """The arrays of ``case`` that are not what they were after the call."""
    changed = []
    for name, original in case.inputs().items():
        now = passed.get(name)
        if isinstance(original, np.ndarray) and not (
            isinstance(now, np.ndarray)
            and now.shape == original.shape
            and np.array_equal(now, original, equal_nan=original.dtype.kind == "f")
        ):
            changed.append(name)
    return changed


def call_locally(fn, case: Case, allowed: tuple = ()) -> Outcome:
    """Call ``fn`` on fresh copies of the case's inputs, watching what it calls."""
    args = [_fresh(v) for v in case.args.values()]
    kwargs = {k: _fresh(v) for k, v in case.kwargs.items()}
    outcome = Outcome()
    watch = Watch(allowed)
    try:
        with np.errstate(all="ignore"), watch:
            outcome.got = fn(*args, **kwargs)
    except Exception as error:  # the learner's code failed: that is feedback, not a crash
        outcome.error = error
        outcome.where = _where(error, fn)
    outcome.called = watch.called
    outcome.changed = changed_inputs(case, dict(zip(case.args, args, strict=True)) | kwargs)
    return outcome


#: Frames in these directories are not the learner's code.
_LIBRARIES = tuple(
    os.path.dirname(module.__file__) + os.sep for module in (cnnlab, np, functools, inspect)
)


def _where(error: Exception, fn) -> str:
    """The line of the learner's code that raised, e.g. 'line 7: out = x[i, j]'."""
    frames = traceback.extract_tb(error.__traceback__)
    target = inspect.unwrap(fn)
    while isinstance(target, functools.partial):
        target = target.func
    code = getattr(target, "__code__", None)
    theirs = [f for f in frames if code is not None and f.filename == code.co_filename]
    if not theirs:
        theirs = [f for f in frames if not f.filename.startswith(_LIBRARIES)]
    if not theirs:
        return ""
    frame = theirs[-1]
    line = (frame.line or "").strip()
    return f"  in your code, line {frame.lineno}" + (f": {line}" if line else "")


def _error_text(name: str, error: Exception) -> str:
    kind = type(error).__name__
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{name} raised {kind}" + (f": {text}" if text else "")


def _case_lines(check: Check, case: Case, number: int) -> list[str]:
    call, lines = call_text(check.name, case)
    return [f"Check {number}: {case.title}", f"  {call}", *lines]


def _signature_hint(check: Check, error: Exception) -> str:
    if isinstance(error, TypeError) and "argument" in str(error):
        signature = inspect.signature(check.reference)
        return f"Hint: keep the parameters of the stub: {check.name}{signature}."
    return ""


def allowed_sentence(uses: tuple) -> str:
    """What an exercise may use: numpy, and the cnnlab helpers in ``uses``."""
    if not uses:
        return "You may use numpy (and plain Python)."
    names = [f"cnnlab.{name}" for name in uses]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"
    return f"You may use numpy, and {listed}."


def source_findings(check: Check, fn) -> list:
    """What reading the learner's code finds that the exercise does not allow."""
    if isinstance(fn, Remote):
        return fn.findings_for(tuple(check.uses))
    rules = Rules(cnnlab=tuple(check.uses))
    return function_findings(fn, rules) + history_findings(rules)


def run(check: Check, fn, thorough: bool = False) -> None:
    """Run every case of ``check`` on ``fn``; print one line, or raise AssertionError.

    ``fn`` is the learner's function, or a :class:`Remote` stand-in for it
    when grading. Before any case runs, the learner's code is read
    (:func:`source_findings`); during each call, what it calls is watched.
    Either way, an answer that uses cnnlab's own implementation, a library
    the course rules out, or code that hides what runs fails, visible and
    thorough mode alike.
    """
    name = check.name
    if not callable(fn):
        raise TypeError(
            f"check_{name} needs your function itself, e.g. check_{name}({name}), "
            f"not the result of calling it; got {what(fn)}"
        )
    for case in check.cases:
        if case.expected is None:
            case.expected = check.reference(*case.args.values(), **case.kwargs)

    findings = source_findings(check, fn)
    if findings:
        sentences = [finding.sentence(name) for finding in findings[:3]]
        more = len(findings) - len(sentences)
        if more:
            sentences.append(f"(and {more} more like these)")
        _fail("\n".join(sentences), allowed_sentence(check.uses))

    failures = []  # (case number, message lines)
    for number, case in enumerate(check.cases, 1):
        if isinstance(fn, Remote):
            outcome = fn.call(case, tuple(check.uses))
        else:
            outcome = call_locally(fn, case, tuple(check.uses))
        if check.tidy is not None and outcome.error is None:
            outcome.got = check.tidy(outcome.got)
        if outcome.called:
            finding = Finding("cnnlab", outcome.called[0], f"seen on check {number}")
            _fail(finding.sentence(name), allowed_sentence(check.uses))
        lines = _judge(check, case, number, outcome)
        if lines:
            failures.append((number, lines, outcome))

    total, passed = len(check.cases), len(check.cases) - len(failures)
    if not failures:
        print(f"{name}: {total}/{total} checks passed" + (" (thorough)" if thorough else ""))
        return
    head = f"{name}: {passed}/{total} checks passed."
    if all(isinstance(o.error, NotImplementedError) for _, _, o in failures) and passed == 0:
        raise CheckFailure(
            f"{head} {name} raised NotImplementedError: replace the stub with your code."
        ) from None
    number, lines, _ = failures[0]
    others = [str(n) for n, _, _ in failures[1:]]
    also = f" (also failed: {', '.join(others)})" if others else ""
    if not any(line.startswith("Likely mistake:") for line in lines):
        # A crash or an unknown error first; a later case may still recognise the mistake.
        for later, later_lines, _ in failures[1:]:
            named = [line for line in later_lines if line.startswith("Likely mistake:")]
            if named:
                lines = [*lines, f"Check {later}, which failed too, shows what is wrong:", named[0]]
                break
    message = "\n".join([f"{head} Check {number} failed{also}.", *lines])
    raise CheckFailure(message) from None


def _fail(sentence: str, allowed: str) -> None:
    extra = f" {allowed}" if allowed else ""
    raise CheckFailure(f"{sentence}{extra}") from None


def _judge(check: Check, case: Case, number: int, outcome: Outcome) -> list[str]:
    """The message lines for one case, or [] if it passed."""
    name = check.name
    changed = outcome.changed
    in_place = ""
    if changed:
        which = " and ".join(changed)
        in_place = (
            f"Likely mistake: input modified in place: {name} changed its argument {which}. "
            "It must leave its inputs as they were.\n"
            "Hint: write the result into a new array (or work on a copy), not into "
            f"{which} itself."
        )
    if outcome.error is not None:
        error = outcome.error
        lines = [_error_text(name, error)]
        if outcome.where:
            lines.append(outcome.where)
        if isinstance(error, NotImplementedError):
            lines.append("Replace the stub with your code.")
        lines.extend(_case_lines(check, case, number))
        hint = _signature_hint(check, error)
        if hint:
            lines.append(hint)
        return lines

    got = outcome.got
    low = low_precision(case.expected, case.inputs(), got)
    problem = compare(check, case.expected, got, low)
    if problem is None and not changed:
        problem = dtype_problem(check, case, got)
        if problem is None:
            return []
    lines = _case_lines(check, case, number)
    if problem is None:  # right answer, but an input was changed
        return [*lines, in_place]
    lines.append(problem.sentence)
    lines.extend(problem.detail)
    if problem.diagnose:
        try:
            explanation = diagnose(check, case, got, low)
        except Exception:  # never let the diagnosis hide the plain message
            explanation = ""
        if explanation:
            lines.append(explanation)
    if in_place:
        lines.append(in_place.replace("Likely mistake: ", "Also: ", 1))
    return lines
