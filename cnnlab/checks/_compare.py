"""Showing values, comparing a result with the expected one, and recognising mistakes.

Everything here writes for a learner: small arrays in full, large ones as a
shape, a range and a few values; a wrong type or shape as one plain sentence;
wrong values with the first place they differ, then the known mistake that
produces them ("Likely mistake: ...") or, failing that, a clue from
:mod:`~cnnlab.checks._clues` about what or where they differ ("every value
is 2 times the expected one", "only the border is wrong").
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from cnnlab.checks._clues import close, clue

if TYPE_CHECKING:
    from cnnlab.checks._core import Case, Check, Mistake

__all__ = [
    "Problem",
    "call_text",
    "compare",
    "diagnose",
    "dtype_problem",
    "labelled",
    "low_precision",
    "number",
    "ordinal",
    "show",
    "what",
]

# ------------------------------------------------------------------------ showing


def ordinal(i: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(i, f"{i}th")


_SMALL = 40  # arrays with at most this many values are shown in full


def number(value) -> str:
    if isinstance(value, bool | np.bool_):
        return repr(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.6g}"
    return repr(value)


def show(value) -> list[str]:
    """A value as lines of text: small arrays in full, large ones summarised."""
    if isinstance(value, np.ndarray):
        head = f"array of shape {value.shape}, {value.dtype}"
        if value.size <= _SMALL:
            body = np.array2string(
                value, precision=4, suppress_small=True, separator=", ", max_line_width=88
            )
            return [f"{head}:", *(line for line in body.splitlines() if line.strip())]
        flat = value.ravel()
        first = ", ".join(number(v) for v in flat[:4])
        if flat.dtype.kind in "fiub":
            finite = flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat
            if finite.size:
                head += f", values from {number(finite.min())} to {number(finite.max())}"
        return [f"{head}, starting [{first}, ...]"]
    if isinstance(value, tuple | list) and not isinstance(value, str):
        kind = type(value).__name__
        if len(value) > 6:
            return [f"a {kind} of {_items(len(value))}"]
        lines = [f"a {kind} of {_items(len(value))}:"]
        for i, item in enumerate(value, 1):
            item_lines = show(item)
            lines.append(f"  {i}. {item_lines[0]}")
            lines.extend(f"     {line}" for line in item_lines[1:])
        return lines
    if value is None or isinstance(value, numbers.Number):
        return [number(value)]
    return [f"{type(value).__name__} {value!r}"[:100]]


def labelled(label: str, value, width: int = 10) -> list[str]:
    """``  label:   <value>``, continuation lines aligned under the value.

    A label as long as the column or longer (``probabilities``) still gets a
    space before its value.
    """
    lines = show(value)
    width = max(width, len(label) + 2)
    pad = " " * (width + 2)
    return [f"  {label + ':':<{width}}{lines[0]}"] + [pad + line for line in lines[1:]]


def call_text(name: str, case: Case) -> tuple[str, list[str]]:
    """``conv2d(x, weight, stride=2)`` and the lines showing the arrays passed."""
    shown, lines = [], []
    for arg_name, value in case.args.items():
        if isinstance(value, np.ndarray):
            shown.append(arg_name)
            lines.extend(labelled(arg_name, value))
        else:
            shown.append(number(value) if isinstance(value, numbers.Number) else repr(value))
    for arg_name, value in case.kwargs.items():
        if isinstance(value, np.ndarray):
            shown.append(f"{arg_name}={arg_name}")
            lines.extend(labelled(arg_name, value))
        else:
            shown.append(f"{arg_name}={value!r}")
    return f"{name}({', '.join(shown)})", lines


def what(value) -> str:
    """A few words for what came back: 'None', 'a list', 'the float 3.5', ..."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, bool | np.bool_):
        return f"the bool {value!r}"
    if isinstance(value, numbers.Number):
        return f"the {type(value).__name__} {number(value)}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {_items(len(value))}"
    return f"a {type(value).__name__}"


def _items(n: int) -> str:
    return "1 item" if n == 1 else f"{n} items"


# ---------------------------------------------------------------------- comparing


def low_precision(*values) -> bool:
    """Whether float32 (or float16) takes part, so float32 tolerances apply."""
    for value in values:
        if isinstance(value, tuple | list | dict):
            items = value.values() if isinstance(value, dict) else value
            if low_precision(*items):
                return True
        elif (
            isinstance(value, np.ndarray | np.floating)
            and value.dtype.kind == "f"
            and value.dtype.itemsize < 8
        ):
            return True
    return False


_close = close  # element-wise "close enough", with a tolerance fit for the dtype


def _is_number(value) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    return isinstance(value, numbers.Real)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def same(wrong, got, low: bool) -> bool:
    """Whether ``got`` is (close to) the value ``wrong``, for recognising a mistake."""
    if wrong is None:
        return True
    if isinstance(wrong, tuple):
        return (
            isinstance(got, tuple | list)
            and len(got) == len(wrong)
            and all(same(w, g, low) for w, g in zip(wrong, got, strict=True))
        )
    if isinstance(wrong, np.ndarray):
        if not isinstance(got, np.ndarray) or got.shape != wrong.shape:
            return False
        if got.dtype.kind not in "biuf":
            return False
        if (wrong.dtype.kind == "b") != (got.dtype.kind == "b"):
            return False  # a mask is recognised as a mask only, never as indices 0 and 1
        return bool(np.all(_close(wrong, got, low)))
    if isinstance(wrong, numbers.Integral):  # an int is matched by an int only
        return _is_int(got) and int(got) == int(wrong)
    if isinstance(wrong, numbers.Real):  # a float by any number
        return _is_number(got) and bool(np.all(_close(wrong, float(got), low)))
    return False


@dataclass
class Problem:
    """What is wrong with one returned value, in a sentence and a few detail lines."""

    sentence: str
    detail: list = field(default_factory=list)
    values: bool = False  # True when the values differ (type and shape are right)
    diagnose: bool = True  # whether a known mistake may explain it (not for a dtype)


def _check_array(label, got, expected, layout, low) -> Problem | None:
    """Type, shape and values of one array; dtype is checked separately."""
    shape_text = f"shape {expected.shape}" + (f" {layout}" if layout else "")
    if not isinstance(got, np.ndarray):
        sentence = f"{label} should be a numpy array of {shape_text}, but it is {what(got)}."
        if got is None:
            sentence += " Did you forget the return statement?"
        elif isinstance(got, list | tuple):
            sentence += " np.array(...) turns a list into an array."
        return Problem(sentence)
    if got.dtype.kind not in "biuf":
        return Problem(f"{label} should hold real numbers, but it has dtype {got.dtype}.")
    if got.shape != expected.shape:
        return Problem(f"{label} has shape {got.shape}, but it should have {shape_text}.")
    close = _close(expected, got, low)
    if np.all(close):
        return None
    detail = labelled("expected", expected) + labelled("got", got)
    bad = np.argwhere(~close)
    index = tuple(int(i) for i in bad[0])
    e, g = expected[index], got[index]
    where = f"[{', '.join(map(str, index))}]"
    detail.append(
        f"  first difference at index {where}: expected {number(e)}, got {number(g)} "
        f"({len(bad)} of {got.size} values differ)"
    )
    return Problem(f"{label} has the right shape but wrong values.", detail, values=True)


def compare(check: Check, expected, got, low: bool) -> Problem | None:
    """Compare one result with the expected one: type, shape, then values."""
    name = check.name
    if check.returns == "array":
        return _check_array(f"The result of {name}", got, expected, check.layout, low)
    if check.returns == "tuple":
        n = len(check.parts)
        names = ", ".join(check.parts)
        if not isinstance(got, tuple | list):
            return Problem(
                f"{name} should return a tuple of {n} arrays ({names}), but it returned "
                f"{what(got)}." + (" Did you forget the return statement?" if got is None else "")
            )
        if len(got) != n:
            return Problem(
                f"{name} should return {n} arrays ({names}), but it returned {_items(len(got))}."
            )
        problems = []
        for i, (part, e, g) in enumerate(zip(check.parts, expected, got, strict=True)):
            label = f"{part} (the {ordinal(i + 1)} value {name} returned)"
            layout = check.layout[i] if isinstance(check.layout, tuple) else ""
            problem = _check_array(label, g, e, layout, low)
            if problem:
                problems.append(problem)
        # Report a wrong type or shape before wrong values: it is the more basic problem.
        problems.sort(key=lambda p: p.values)
        return problems[0] if problems else None
    if got is None:
        return Problem(
            f"{name} should return a number, but it returned None. "
            "Did you forget the return statement?"
        )
    if check.returns == "int":
        if not _is_int(got):
            if _is_number(got):
                return Problem(
                    f"{name} should return a whole number (an int), but it returned {what(got)}."
                )
            return Problem(f"{name} should return an int, but it returned {what(got)}.")
        if int(got) != expected:
            return Problem(
                f"{name} returned a wrong number.",
                [f"  expected: {expected}", f"  got:      {int(got)}"],
            )
        return None
    # a single real number
    if not _is_number(got):
        sentence = f"{name} should return a single number (a float), but it returned {what(got)}."
        if isinstance(got, np.ndarray) and got.size == 1:
            sentence += " float(...) turns a one-element array into a number."
        return Problem(sentence)
    if not np.all(_close(expected, float(got), low)):
        return Problem(
            f"{name} returned a wrong number.",
            [f"  expected: {number(expected)}", f"  got:      {number(float(got))}"],
        )
    return None


def dtype_problem(check: Check, case: Case, got) -> Problem | None:
    """Float input keeps its dtype; integer input gives float64."""
    if check.returns == "array":
        pairs = [(f"the result of {check.name}", case.expected, got)]
    elif check.returns == "tuple":
        pairs = list(zip(check.parts, case.expected, got, strict=True))
    else:
        return None
    inputs = [v for v in case.inputs().values() if isinstance(v, np.ndarray)]
    source = ", ".join(sorted({str(v.dtype) for v in inputs}))
    for label, e, g in pairs:
        if g.dtype == e.dtype:
            continue
        sentence = (
            f"The values are right, but {label} has dtype {g.dtype}; for {source} input it "
            f"should be {e.dtype}."
        )
        if e.dtype == np.float32:
            sentence += (
                " Float input keeps its dtype (float32 in, float32 out). An array made with "
                "np.zeros(shape) or np.array(list) is float64 unless you pass dtype=..., and "
                "one float64 array in a computation makes the result float64."
            )
        elif any(v.dtype.kind in "iub" for v in inputs):
            sentence += " Integer input (such as uint8 pixels) is computed in float64."
        return Problem(sentence, diagnose=False)
    return None


# --------------------------------------------------------------------- diagnosing


def diagnose(check: Check, case: Case, got, low: bool) -> str:
    """Name the known mistake that produces ``got``, or give a clue; '' if neither.

    Every known mistake of the case is tried. Of those that produce ``got``, a
    mistake about more of a tuple's parts wins over one about fewer (all three
    gradients divided by N, rather than dweight averaged); a mistake recognised
    by its values wins over one recognised by its shape only. When two
    different mistakes give exactly these values, neither is named: the runner
    then looks for a later case that tells them apart.
    """
    expected = case.expected
    shown = _shown_part(check, expected, got, low)
    found, by_shape = [], None
    mistakes = iter(check.mistakes(case))
    while True:
        try:
            mistake = next(mistakes)
        except Exception:  # StopIteration, or a mistake that cannot be built for this case
            break
        try:
            with np.errstate(all="ignore"):
                wrong = mistake.make()
                matched = _matches(mistake, wrong, expected, got, low)
        except Exception:  # the mistake cannot happen on this case
            continue
        if not matched:
            continue
        if mistake.shape_only:
            by_shape = by_shape or mistake
        else:
            found.append((mistake, _explains(check, wrong)))
    hint = clue(check, expected, got, low, shown)
    if found:
        named = _named(found, shown, hint)
        if check.returns == "number" and hint and hint not in named:
            # One number fits a wrong formula by chance more easily than an array does:
            # how far off it is stays worth saying next to the name.
            named += "\n" + hint
        return named
    if by_shape is not None:  # the shape says little: where the values are right may help
        return "\n".join([_likely(by_shape), *([hint] if hint else [])])
    return hint


def _likely(mistake: Mistake) -> str:
    return f"Likely mistake: {mistake.name}.\nHint: {mistake.hint}"


def _explains(check: Check, wrong) -> frozenset:
    """The parts of a tuple result that a mistake says something about (all, for an array)."""
    if check.returns == "tuple" and isinstance(wrong, tuple):
        return frozenset(i for i, part in enumerate(wrong) if part is not None)
    return frozenset({0})


def _named(found: list, shown, hint: str) -> str:
    # A mistake about fewer parts, where another explains those and more, is not the story.
    best = [(m, parts) for m, parts in found if not any(parts < other for _, other in found)]
    # Lead with the part the message shows; otherwise the catalogue's order decides.
    best.sort(key=lambda item: shown is not None and shown not in item[1])
    primary, parts = best[0]
    lines = [hint] if hint and shown is not None and shown not in parts else []
    lines.append(_likely(primary))
    seen = {primary.name}
    for other, other_parts in best[1:]:
        if other.name in seen:
            continue
        seen.add(other.name)
        if other_parts == parts:
            lines.append(f"Or: {other.name}, which gives the same values on this check.")
        elif not other_parts & parts:
            lines.append(f"Also: {other.name}. {other.hint[0].upper()}{other.hint[1:]}")
    return "\n".join(lines)


def _shown_part(check: Check, expected, got, low: bool):
    """For a tuple result, the index of the part whose problem the message shows."""
    if check.returns != "tuple" or not isinstance(got, tuple | list) or len(got) != len(expected):
        return None
    problems = []
    for i, (e, g) in enumerate(zip(expected, got, strict=True)):
        problem = _check_array(check.parts[i], g, e, "", low)
        if problem is not None:
            problems.append((problem.values, i))
    return min(problems)[1] if problems else None


def _matches(mistake: Mistake, wrong, expected, got, low: bool) -> bool:
    if mistake.shape_only:
        return _shape(got) == tuple(wrong) != _shape(expected)
    # both ways round: an int answer of 3 is not the float mistake that gives 3.0
    right = same(wrong, expected, low) and same(expected, wrong, low)
    return same(wrong, got, low) and not right


def _shape(value):
    return value.shape if isinstance(value, np.ndarray) else None
