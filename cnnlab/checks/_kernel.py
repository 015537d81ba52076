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

__all__ = ["answer", "describe_error", "digit_scores", "train_digits"]

#: Where the kernel keeps the models a training function gave (slot 0, 1, ...).
MODEL = "_cnnlab_model_{}"


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


def train_digits(namespace: dict, name: str, request: str) -> str:
    """Call the training function ``namespace[name]`` on the digits sent; keep the model.

    The reply says what came back (:class:`~cnnlab.checks.digits.Trained`):
    the model itself stays here, under :data:`MODEL`, for :func:`digit_scores`.
    """
    from cnnlab.checks.digits import train_and_describe

    fn = namespace.get(name)
    if fn is None or not callable(fn):
        found = "not defined" if fn is None else f"a {type(fn).__name__}, not a function"
        return _wire.dumps({"missing": f"{name} is {found}: run the cell that defines it."})
    data = _wire.loads(request)
    facts, model = train_and_describe(fn, data["arrays"])
    namespace[MODEL.format(int(data["slot"]))] = model
    reply = {
        "kind": facts.kind,
        "what": facts.what,
        "error": None if facts.error is None else describe_error(facts.error),
        "where": facts.where,
        "layers": list(facts.layers),
    }
    return _wire.dumps(reply)


def digit_scores(namespace: dict, request: str) -> str:
    """The scores a kept model gives the images sent (or its exception)."""
    from cnnlab.checks.digits import model_scores

    data = _wire.loads(request)
    model = namespace.get(MODEL.format(int(data["slot"])))
    if model is None:
        return _wire.dumps({"got": None, "error": None})
    outcome = model_scores(model, data["x"])
    error = None if outcome.error is None else describe_error(outcome.error)
    try:
        return _wire.dumps({"got": outcome.got if error is None else None, "error": error})
    except (TypeError, ValueError) as problem:
        return _wire.dumps({"got": None, "error": describe_error(problem)})
