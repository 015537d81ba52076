"""What a grading kernel does for the grader: call the learner's function, send back facts.

The grader (:mod:`cnnlab.grading.remote`) never runs a check inside the
learner's kernel. For each case it asks the kernel, through
:func:`answer`, to call the learner's function on the inputs it sends, and
gets back plain data (:mod:`~cnnlab.checks._wire`): the result, or the
exception's type and message and the line of the learner's code that raised
it, which inputs the call changed, and which of cnnlab's functions it
called. The grader compares, judges and words the feedback itself.

Nothing here is trusted: the learner's code runs in this process and may
have replaced any of it. A replaced :func:`answer` can only send back wrong
facts, and the grader only ever believes facts that make a wrong answer
fail.
"""

from __future__ import annotations

import builtins

from cnnlab.checks import _wire
from cnnlab.checks._core import Case, call_locally

__all__ = ["answer", "describe_error"]


def describe_error(error: BaseException) -> dict:
    """An exception as plain data: its type, the builtin exception it is, its message."""
    builtin = next(
        (
            cls.__name__
            for cls in type(error).__mro__
            if isinstance(getattr(builtins, cls.__name__, None), type)
            and issubclass(getattr(builtins, cls.__name__), BaseException)
        ),
        "Exception",
    )
    try:
        message = str(error)[:2000]
    except Exception:
        message = ""
    return {"type": type(error).__name__[:80], "builtin": builtin, "message": message}


def answer(namespace: dict, name: str, request: str) -> str:
    """Call ``namespace[name]`` on the inputs of ``request``; the facts, as JSON."""
    fn = namespace.get(name)
    if fn is None or not callable(fn):
        found = "not defined" if fn is None else f"a {type(fn).__name__}, not a function"
        return _wire.dumps({"missing": f"{name} is {found}: run the cell that defines it."})
    data = _wire.loads(request)
    case = Case("", data["args"], data["kwargs"])
    outcome = call_locally(fn, case, tuple(data["uses"]))
    reply = {
        "got": outcome.got if outcome.error is None else None,
        "error": None if outcome.error is None else describe_error(outcome.error),
        "where": outcome.where,
        "changed": outcome.changed,
        "called": outcome.called,
    }
    try:
        return _wire.dumps(reply)
    except (TypeError, ValueError) as error:
        reply["got"] = None
        reply["error"] = describe_error(error)
        return _wire.dumps(reply)
