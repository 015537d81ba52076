"""Clues for a wrong answer that no known mistake explains: what differs, and where.

A clue relates the learner's values to the right ones without naming a cause:

* *what*: a constant factor, a sign, an offset, a factor of the form ``a x + b``,
  one factor per filter (or example, row, ...), a difference that depends on
  one axis only, the right values in reverse order, moved by a position, with
  two axes swapped, or all present but in the wrong places;
* *where*: which filters, channels, examples, rows or columns are wrong, the
  border only, only the values that should be 0, or the few positions that
  differ;
* for a wrong shape: the right values with an axis of length 1 too many or
  too few, with the axes in another order, with every k-th row kept, or with
  rows or columns too many or missing at the edge;
* for a set of indices: which ones are missing and which should not be there;
* for a number: how many times too large or too small.

The words for the axes come from the check's layout: ``(N, F, Ho, Wo)`` gives
examples, filters, rows and columns. :func:`clue` returns one sentence that
starts with ``Clue:``, or ``''``. It never shows more of the expected values
than the message already does.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["close", "clue"]


def close(expected, got, low: bool) -> np.ndarray:
    """Element-wise "close enough", with a tolerance fit for the dtype."""
    expected = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    rtol, atol = (1e-4, 1e-5) if low else (1e-6, 1e-9)
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    return np.isclose(got, expected, rtol=rtol, atol=atol * scale, equal_nan=True)


def _all_close(expected, got, low: bool) -> bool:
    return bool(np.all(close(expected, got, low)))


# -------------------------------------------------------------------- axis words


@dataclass(frozen=True)
class _Axis:
    one: str  # "filter"
    many: str  # "filters"
    token: str = ""  # "F", as in the layout
    spatial: bool = False  # rows and columns of an image or a map
    number: int | None = None  # for an axis known by its number only

    def which(self, indices) -> str:
        """'filter 0', 'filters 1 and 2', 'indices 0 and 3 along axis 1'."""
        indices = [int(i) for i in indices]
        if len(indices) > 6:
            listed = ", ".join(map(str, indices[:5])) + f", ... ({len(indices)} of them)"
        elif len(indices) > 1:
            listed = f"{', '.join(map(str, indices[:-1]))} and {indices[-1]}"
        else:
            listed = str(indices[0])
        if self.number is not None:
            kind = "index" if len(indices) == 1 else "indices"
            return f"the values at {kind} {listed} along axis {self.number}"
        return f"{self.one if len(indices) == 1 else self.many} {listed}"


_WORDS = {
    "N": ("example", "examples", False),
    "F": ("filter", "filters", False),
    "C": ("channel", "channels", False),
    "K": ("class", "classes", False),
    "M": ("index", "indices", False),
    "H": ("row", "rows", True),
    "Ho": ("row", "rows", True),
    "KH": ("kernel row", "kernel rows", True),
    "W": ("column", "columns", True),
    "Wo": ("column", "columns", True),
    "KW": ("kernel column", "kernel columns", True),
    "in_features": ("input feature", "input features", False),
    "out_features": ("output feature", "output features", False),
}


def _axes(layout: str, ndim: int) -> list[_Axis]:
    """The words for each axis of an array laid out as ``layout``."""
    match = re.match(r"\s*\(([^)]*)\)", layout or "")
    tokens = [t.strip() for t in match.group(1).split(",") if t.strip()] if match else []
    if len(tokens) == ndim and all(t in _WORDS for t in tokens):
        return [_Axis(*_WORDS[t][:2], token=t, spatial=_WORDS[t][2]) for t in tokens]
    axes = [_Axis(f"slice along axis {a}", f"slices along axis {a}", number=a) for a in range(ndim)]
    if ndim >= 2:  # the last two axes of any image-like array: rows and columns
        axes[-2] = _Axis("row", "rows", spatial=True)
        axes[-1] = _Axis("column", "columns", spatial=True)
    elif ndim == 1:
        axes[0] = _Axis("position", "positions")
    return axes


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# ------------------------------------------------------------------------ entry point


def clue(check, expected, got, low: bool, part: int | None = None) -> str:
    """A ``Clue: ...`` sentence about how ``got`` differs from ``expected``, or ''.

    For a tuple result, ``part`` is the index of the item the message shows.
    """
    if check.returns == "tuple":
        return _tuple_clue(check, expected, got, low, part)
    if check.returns == "int":
        return ""  # counts coincide too easily: 16 is 2 times 8 by chance, not by a factor
    if check.returns == "number":
        text = _number_clue(expected, got)
        return f"Clue: {text}" if text else ""
    text = _array_clue(expected, got, low, check.layout, "value")
    return f"Clue: {text}" if text else ""


def _tuple_clue(check, expected, got, low: bool, part: int | None) -> str:
    if not isinstance(got, tuple | list) or len(got) != len(expected):
        return ""
    wrong = [
        i
        for i, (e, g) in enumerate(zip(expected, got, strict=True))
        if not (isinstance(g, np.ndarray) and g.shape == e.shape and _all_close(e, g, low))
    ]
    if not wrong:
        return ""
    if part is None or part not in wrong:
        part = wrong[0]
    name = check.parts[part]
    layout = check.layout[part] if isinstance(check.layout, tuple) else ""
    text = ""
    e, g = expected[part], got[part]
    if isinstance(g, np.ndarray):
        text = _array_clue(e, g, low, layout, f"value of {name}", subject=name)
    right = [check.parts[i] for i in range(len(expected)) if i not in wrong]
    also = [check.parts[i] for i in wrong if i != part]
    notes = []
    if right:
        notes.append(f"{_join(right)} {'is' if len(right) == 1 else 'are'} right")
    if also:
        notes.append(f"{_join(also)} {'is' if len(also) == 1 else 'are'} wrong too")
    if text:
        return f"Clue: {text}" + (f" ({'; '.join(notes)}.)" if notes else "")
    if right:
        wrong_names = [name, *also]
        verb = "is" if len(wrong_names) == 1 else "are"
        return f"Clue: only {_join(wrong_names)} {verb} wrong; {notes[0]}."
    return ""


# --------------------------------------------------------------------------- numbers


def _number_clue(expected, got) -> str:
    try:
        e, g = float(expected), float(got)
    except (TypeError, ValueError):
        return ""
    if not (np.isfinite(e) and np.isfinite(g)) or e == 0:
        if np.isfinite(e) and not np.isfinite(g):
            return (
                f"your number is {g}: look for an overflow (exp of a large number), a log "
                "of 0 or a division by zero."
            )
        return ""
    ratio = g / e
    if np.isclose(ratio, -1):
        return "your number has the wrong sign; its size is right."
    for k in range(2, 1001):
        if np.isclose(ratio, k, rtol=1e-6):
            return f"your number is {k} times the right one."
        if np.isclose(ratio, 1 / k, rtol=1e-6):
            return f"your number is 1/{k} of the right one."
    return ""


# ---------------------------------------------------------------------------- arrays


def _array_clue(expected, got, low, layout, label, subject="your result") -> str:
    if not isinstance(got, np.ndarray) or not isinstance(expected, np.ndarray):
        return ""
    if got.dtype.kind not in "biuf" or expected.dtype.kind not in "biuf":
        return ""
    if expected.ndim == 1 and expected.dtype.kind in "iu" and got.ndim >= 1:
        text = _index_clue(expected, got)
        if text:
            return text
    axes = _axes(layout if isinstance(layout, str) else "", expected.ndim)
    if got.shape != expected.shape:
        return _shape_clue(expected, got, low, axes, subject)
    e = expected.astype(np.float64)
    g = got.astype(np.float64)
    for find in (_relation, _rearranged, _per_slice, _where):
        text = find(e, g, low, axes, label)
        if text:
            return text
    return ""


def _index_clue(expected: np.ndarray, got: np.ndarray) -> str:
    """For a set of indices: which are right, which are missing, which are extra."""
    if got.ndim != 1 or got.dtype.kind not in "iub" or got.dtype.kind == "b":
        return ""
    want, have = set(expected.tolist()), set(got.tolist())
    missing, extra = sorted(want - have), sorted(have - want)
    if not missing and not extra:
        if len(got) != len(set(got.tolist())):
            return "the right indices, but some of them more than once."
        return "the right indices, in the wrong order: list them in increasing order."
    parts = []
    if extra:
        parts.append(f"{_few(extra)} should not be there")
    if missing:
        parts.append(f"{_few(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    kept = len(have & want)
    return (
        f"you returned {len(got)} {'index' if len(got) == 1 else 'indices'}, {kept} of them "
        f"right; {' and '.join(parts)}."
    )


def _few(values) -> str:
    shown = ", ".join(str(v) for v in values[:6])
    return f"[{shown}{', ...' if len(values) > 6 else ''}]"


# ------------------------------------------------------------------------ wrong shape


def _shape_clue(expected, got, low, axes, subject) -> str:
    e, g = expected.astype(np.float64), got.astype(np.float64)
    if g.ndim == e.ndim:
        for order in itertools.permutations(range(e.ndim)):
            if order == tuple(range(e.ndim)):
                continue
            moved = e.transpose(order)
            if moved.shape == g.shape and _all_close(moved, g, low):
                if e.ndim == 2:
                    return f"{subject} is the right one transposed (rows and columns swapped)."
                return (
                    f"{subject} has the right values with the axes in another order: "
                    f"{_layout(axes, order)} instead of {_layout(axes, range(e.ndim))}."
                )
    squeezed = _squeezed(e, g, low, expected.shape, got.shape, subject)
    if squeezed:
        return squeezed
    if g.ndim == e.ndim:
        text = _stepped(e, g, low, axes, subject)
        if text:
            return text
        text = _cropped(e, g, low, axes, subject)
        if text:
            return text
    return ""


def _squeezed(e, g, low, want, have, subject) -> str:
    if e.size != g.size or e.squeeze().shape != g.squeeze().shape:
        return ""
    if not _all_close(e.squeeze(), g.squeeze(), low):
        return ""
    extra = "an axis of length 1 too many" if g.ndim > e.ndim else "an axis too few"
    if g.ndim == e.ndim:
        extra = "its axes of length 1 in other places"
    return (
        f"{subject} has the right values, but {extra}: shape {have} instead of {want} "
        "(keepdims, np.argwhere or a reshape can do that)."
    )


def _layout(axes, order) -> str:
    names = [axes[a].token or axes[a].many for a in order]
    return "(" + ", ".join(names) + ")"


def _stepped(e, g, low, axes, subject) -> str:
    """The right values at every k-th position of one axis: a step (stride) missing or extra."""
    differ = [a for a in range(e.ndim) if e.shape[a] != g.shape[a]]
    if len(differ) != 1:
        return ""
    a = differ[0]
    axis = axes[a]
    index = [slice(None)] * e.ndim
    if min(e.size, g.size) < 4:  # one or two values line up by chance too easily
        return ""
    for k in range(2, 5):
        index[a] = slice(None, None, k)
        sub = g[tuple(index)]
        if sub.shape == e.shape and _all_close(e, sub, low):
            return (
                f"every {_ordinal(k)} {axis.one} of {subject} is right, and the ones between "
                f"should not be there: the step of {k} along the {axis.many} is missing."
            )
        sub = e[tuple(index)]
        if sub.shape == g.shape and _all_close(sub, g, low):
            return (
                f"{subject} holds every {_ordinal(k)} {axis.one} of the right result: the "
                f"{axis.many} were stepped by {k} where the step is 1."
            )
    return ""


def _cropped(e, g, low, axes, subject) -> str:
    """The right values with rows or columns too many or missing at one edge or all round."""
    if e.ndim < 1:
        return ""
    differ = [a for a in range(e.ndim) if e.shape[a] != g.shape[a]]
    if not differ or len(differ) > 2:
        return ""
    bigger = all(g.shape[a] > e.shape[a] for a in differ)
    smaller = all(g.shape[a] < e.shape[a] for a in differ)
    if not (bigger or smaller):
        return ""
    big, small = (g, e) if bigger else (e, g)
    if small.size < 4:  # one or two values line up by chance too easily
        return ""
    ranges = []
    for a in range(e.ndim):
        extra = big.shape[a] - small.shape[a]
        ranges.append(sorted({0, extra // 2, extra}) if extra else [0])
    for start in itertools.product(*ranges):
        index = tuple(slice(s, s + n) for s, n in zip(start, small.shape, strict=True))
        if not _all_close(small, big[index], low):
            continue
        words = []
        for a in differ:
            extra = big.shape[a] - small.shape[a]
            where = (
                "at the end"
                if start[a] == 0
                else "at the start"
                if start[a] == extra
                else "on each side"
            )
            count = extra // 2 if where == "on each side" else extra
            noun = axes[a].one if count == 1 else axes[a].many
            words.append(f"{count} {noun} {where}")
        if bigger:
            return (
                f"{subject} is the right one with {_join(words)} too many; what overlaps is right."
            )
        return f"{subject} is the right one with {_join(words)} missing; what is there is right."
    return ""


def _ordinal(k: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(k, f"{k}th")


# ---------------------------------------------------------------- same shape: what


def _relation(e, g, low, axes, label) -> str:
    """A single relation that holds for every value: non-finite, zeros, a x + b."""
    if not np.all(np.isfinite(g)) and np.all(np.isfinite(e)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(g))[0])
        return (
            f"your result contains {g[index]:g} (first at index {list(index)}). Look for an "
            "overflow (exp of a large number), a log of 0 or a division by zero."
        )
    if not np.all(np.isfinite(g)):
        return ""
    if not np.any(g) and np.any(e):
        return "every value you returned is 0. Did you fill in the array you created?"
    if e.size < 2 or not np.any(e):
        return ""
    factor = float(np.vdot(g, e) / np.vdot(e, e))
    if _all_close(factor * e, g, low) and not np.isclose(factor, 1):
        if np.isclose(factor, -1):
            return f"every {label} has the wrong sign."
        return (
            f"every {label} is {factor:.4g} times the expected one, so a constant "
            "factor is off (a division or multiplication too many, or missing)."
        )
    offset = float(np.mean(g - e))
    if _all_close(e + offset, g, low):
        return f"every {label} is off by the same amount, {offset:.4g}."
    if np.ptp(e) > 0:
        a, b = np.polyfit(e.ravel(), g.ravel(), 1)
        if _all_close(a * e + b, g, low) and not np.isclose(a, 1) and not np.isclose(b, 0):
            return f"every {label} is {a:.4g} times the expected one, plus {b:.4g}."
    return ""


def _rearranged(e, g, low, axes, label) -> str:
    """The right values, moved: axes swapped, reversed, shifted by a position, or shuffled."""
    if e.ndim >= 2:
        for order in itertools.permutations(range(e.ndim)):
            if order == tuple(range(e.ndim)):
                continue
            moved = e.transpose(order)
            if moved.shape == g.shape and _all_close(moved, g, low):
                swapped = [a for a in range(e.ndim) if order[a] != a]
                if len(swapped) == 2:
                    one, two = (axes[a] for a in swapped)
                    return f"the right values with the {one.many} and {two.many} swapped."
                return "the right values with the axes in another order."
    for count in (1, 2):
        for flipped in itertools.combinations(range(e.ndim), count):
            if any(e.shape[a] < 2 for a in flipped):
                continue
            if _all_close(np.flip(e, flipped), g, low):
                return (
                    "the right values in reverse order along the "
                    f"{_join([axes[a].many for a in flipped])}."
                )
    for a in range(e.ndim):
        if e.shape[a] < 3:
            continue
        for k in (1, -1, 2, -2):
            near = [slice(None)] * e.ndim
            far = [slice(None)] * e.ndim
            near[a], far[a] = (
                (slice(k, None), slice(None, -k))
                if k > 0
                else (
                    slice(None, k),
                    slice(-k, None),
                )
            )
            if _all_close(e[tuple(far)], g[tuple(near)], low):
                steps = f"{abs(k)} {axes[a].one if abs(k) == 1 else axes[a].many}"
                towards = "later" if k > 0 else "earlier"
                return (
                    f"the right values, moved {steps} {towards} along the {axes[a].many} "
                    f"(your {axes[a].one} i + {k} holds the expected {axes[a].one} i)."
                    if k > 0
                    else f"the right values, moved {steps} {towards} along the "
                    f"{axes[a].many} (your {axes[a].one} i holds the expected "
                    f"{axes[a].one} i + {-k})."
                )
    if e.size >= 4 and _all_close(np.sort(e, axis=None), np.sort(g, axis=None), low):
        return (
            "you have exactly the right values, but some are in the wrong places: look at "
            "the order in which you read or write the array."
        )
    return ""


def _per_slice(e, g, low, axes, label) -> str:
    """A relation that holds within each filter (or example, row, ...), not across them."""
    if e.ndim < 2:
        return ""
    difference = g - e
    for a in range(e.ndim):
        if e.shape[a] < 2:
            continue
        others = tuple(b for b in range(e.ndim) if b != a)
        if all(e.shape[b] == 1 for b in others):
            continue
        level = difference.mean(axis=others, keepdims=True)
        if _all_close(e + level, g, low) and np.ptp(level) > 0:
            axis = axes[a]
            return (
                f"the difference from the right values depends only on the {axis.one}: "
                f"every value in one {axis.one} is off by the same amount, which changes "
                f"from {axis.one} to {axis.one}. Is something added along the wrong axis?"
            )
    if e.ndim >= 3:
        for a, b in itertools.combinations(range(e.ndim), 2):
            if e.shape[a] < 2 or e.shape[b] < 2:
                continue
            rest_a = tuple(c for c in range(e.ndim) if c != a)
            rest_b = tuple(c for c in range(e.ndim) if c != b)
            fit = (
                difference.mean(axis=rest_a, keepdims=True)
                + difference.mean(axis=rest_b, keepdims=True)
                - difference.mean()
            )
            if _all_close(e + fit, g, low):
                one, two = axes[a], axes[b]
                return (
                    f"the difference from the right values is one amount per {one.one} plus "
                    f"one amount per {two.one}, the same everywhere else: is something added "
                    f"along the {two.many} that belongs along the {one.many} (or the other "
                    "way round)?"
                )
    for a in range(e.ndim):
        if e.shape[a] < 2 or axes[a].spatial:
            continue
        others = tuple(b for b in range(e.ndim) if b != a)
        top = np.sum(g * e, axis=others, keepdims=True)
        bottom = np.sum(e * e, axis=others, keepdims=True)
        if np.any(bottom == 0):
            continue
        factors = top / bottom
        if np.any(np.isclose(factors, 0)):
            continue  # a slice of zeros: which ones is the better clue (see _where)
        if _all_close(factors * e, g, low) and np.ptp(factors) > 1e-6 * np.abs(factors).max():
            axis = axes[a]
            shown = ", ".join(f"{v:.3g}" for v in factors.ravel()[:4])
            more = ", ..." if factors.size > 4 else ""
            return (
                f"each {axis.one} is off by a factor of its own (times {shown}{more}, "
                f"{axis.one} by {axis.one}): something is scaled per {axis.one}."
            )
    return ""


# --------------------------------------------------------------- same shape: where


def _where(e, g, low, axes, label) -> str:
    good = close(e, g, low)
    bad = ~good
    total = int(bad.sum())
    if total == 0:
        return ""
    # only the values that should be 0
    zero = e == 0
    if np.any(good) and np.all(zero[bad]):
        return (
            f"only values that should be 0 are wrong ({total} of them); every value that "
            "should not be 0 is right."
        )
    # which examples, filters, channels, ... (the axes that are not rows or columns)
    for a, axis in enumerate(axes):
        if axis.spatial or e.shape[a] < 2:
            continue
        others = tuple(b for b in range(e.ndim) if b != a)
        wrong = np.flatnonzero(bad.any(axis=others))
        if 0 < len(wrong) < e.shape[a]:
            right = np.setdiff1d(np.arange(e.shape[a]), wrong)
            verb = "is" if len(right) == 1 else "are"
            zeros = not np.any(np.take(g, wrong, axis=a))
            return (
                f"only {axis.which(wrong)} {'is' if len(wrong) == 1 else 'are'} wrong"
                f"{' (all 0)' if zeros else ''}; {axis.which(right)} {verb} right."
            )
    spatial = [a for a, axis in enumerate(axes) if axis.spatial]
    if len(spatial) >= 2:
        text = _border(bad, e, spatial[-2], spatial[-1], axes)
        if text:
            return text
    for a in spatial:
        if e.shape[a] < 2:
            continue
        others = tuple(b for b in range(e.ndim) if b != a)
        wrong = np.flatnonzero(bad.any(axis=others))
        if 0 < len(wrong) < e.shape[a]:
            axis = axes[a]
            last = e.shape[a] - 1
            if list(wrong) == [last]:
                return f"only the last {axis.one} is wrong; the others are right."
            if list(wrong) == [0]:
                return f"only the first {axis.one} is wrong; the others are right."
            return f"only {axis.which(wrong)} {'are' if len(wrong) > 1 else 'is'} wrong."
    text = _sparse(e, g, low, bad)
    if text:
        return text
    if total <= 3 and e.size >= 8:
        places = ", ".join(str(list(map(int, i))) for i in np.argwhere(bad))
        verb = "is" if total == 1 else "are"
        return f"only {total} of the {e.size} values {verb} wrong, at {places}."
    return ""


def _sparse(e, g, low, bad) -> str:
    """Where a result that is mostly 0 (a pooling gradient, say) has its non-zero values."""
    should = e != 0
    has = ~close(np.zeros_like(g), g, low)
    if should.mean() > 0.5 or not np.any(should):
        return ""
    extra, missing = np.argwhere(has & ~should), np.argwhere(should & ~has)
    if not len(extra) and not len(missing):
        return ""  # the non-zero values are in the right places, only their sizes differ
    parts = []
    if len(extra):
        parts.append(f"not 0 at {_places(extra)}, where it should be 0")
    if len(missing):
        parts.append(f"0 at {_places(missing)}, where it should not be")
    return f"your result is {' and '.join(parts)}: some values went to the wrong places."


def _places(indices) -> str:
    shown = ", ".join(str([int(i) for i in index]) for index in indices[:3])
    return shown + (f" (and {len(indices) - 3} more)" if len(indices) > 3 else "")


def _border(bad, e, rows_axis, cols_axis, axes) -> str:
    """Only values near the edge of the rows and columns are wrong; inside, values are right.

    Said only when the inside holds values that are not 0: an inside of zeros
    that happen to match says nothing.
    """
    height, width = bad.shape[rows_axis], bad.shape[cols_axis]
    if min(height, width) < 4:  # in a 3 x 3 array, everything but the centre is border
        return ""
    i = np.arange(height).reshape([-1 if a == rows_axis else 1 for a in range(bad.ndim)])
    j = np.arange(width).reshape([-1 if a == cols_axis else 1 for a in range(bad.ndim)])
    depth = np.minimum(np.minimum(i, height - 1 - i), np.minimum(j, width - 1 - j))
    depth = np.broadcast_to(depth, bad.shape)
    band = int(depth[bad].max()) + 1
    inside = depth >= band
    if band > (min(height, width) - 1) // 2 or not np.any(e[inside]):
        return ""
    pixels = "pixel" if band == 1 else "pixels"
    return (
        f"only values within {band} {pixels} of the border are wrong; everything further "
        "inside is right. Look at what happens at the edges (the padding, or windows "
        "that reach the edge)."
    )
