"""Argument checks shared by every public function of cnnlab.

Each helper takes the name of the calling function and of the argument, so
that every message reads like ``conv2d: x must have 4 dimensions (N, C, H, W),
got shape (3, 8, 8)``: who complained, about what, what came, what is needed.
``TypeError`` is raised for a wrong type, ``ValueError`` for a wrong value.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_float_array",
    "as_int",
    "as_labels",
    "check_shape",
    "describe",
    "int_pair",
    "result_dtype",
]


def describe(value) -> str:
    """Say in a few words what ``value`` is, for an error message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, str):
        text = value if len(value) <= 20 else value[:17] + "..."
        return f"the string {text!r}"
    return f"{type(value).__name__} {value!r}"[:80]


def as_float_array(func: str, name: str, value, *, ndim=None, layout: str = "") -> np.ndarray:
    """Return ``value`` as a numeric ndarray, checking its number of dimensions.

    Float arrays keep their dtype; integer and boolean arrays become float64.
    The input is never copied unless a conversion is needed, and never modified.

    Parameters
    ----------
    func, name : str
        The public function and the argument, for the message.
    value : array_like
        What the caller passed.
    ndim : int or tuple of int, optional
        The allowed number(s) of dimensions.
    layout : str
        The expected layout, e.g. ``"(N, C, H, W)"``, quoted in the message.
    """
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{func}: {name} must be a numpy array of numbers, got {describe(value)}")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:  # ragged nested lists
        raise TypeError(
            f"{func}: {name} must be a numpy array of numbers, got {describe(value)} ({error})"
        ) from None
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    elif array.dtype.kind != "f":
        raise TypeError(
            f"{func}: {name} must hold real numbers (float or int), got dtype {array.dtype}"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            wanted = " or ".join(str(n) for n in allowed)
            suffix = f" {layout}" if layout else ""
            raise ValueError(
                f"{func}: {name} must have {wanted} dimensions{suffix}, "
                f"got {array.ndim} (shape {array.shape})"
            )
    return array


def result_dtype(*arrays: np.ndarray | None) -> np.dtype:
    """The float dtype of a result computed from ``arrays`` (``None`` is skipped)."""
    return np.result_type(*(a.dtype for a in arrays if a is not None))


def check_shape(func: str, name: str, array: np.ndarray, shape: tuple, why: str = "") -> None:
    """Raise ``ValueError`` unless ``array.shape == shape``."""
    if array.shape != tuple(shape):
        because = f" ({why})" if why else ""
        raise ValueError(
            f"{func}: {name} must have shape {tuple(shape)}{because}, got {array.shape}"
        )


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def as_int(func: str, name: str, value, *, minimum: int) -> int:
    """Check one int argument (``size``, ``stride``, ...) and return it as a Python int."""
    kind = "positive" if minimum >= 1 else "non-negative"
    if not _is_int(value):
        raise TypeError(f"{func}: {name} must be a {kind} int, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{func}: {name} must be a {kind} int, got {value!r}")
    return int(value)


def int_pair(func: str, name: str, value, *, minimum: int) -> tuple[int, int]:
    """Turn an int or a pair of ints into ``(vertical, horizontal)``.

    Raises ``TypeError`` for anything that is not an int or a pair of ints, and
    ``ValueError`` for a value below ``minimum``.
    """
    kind = "positive" if minimum >= 1 else "non-negative"
    need = f"{name} must be a {kind} int or a pair of {kind} ints"
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, tuple | list) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{func}: {need}, got {describe(value)}")
    if min(pair) < minimum:
        raise ValueError(f"{func}: {need}, got {value!r}")
    return pair


def as_labels(func: str, labels, *, n: int, num_classes: int) -> np.ndarray:
    """Check class-index labels: shape ``(n,)``, integers in ``[0, num_classes)``.

    Integer-valued floats (``3.0``) are accepted, as numpy produces them easily;
    ``2.5``, negative or too-large labels are not.
    """
    if isinstance(labels, str | bytes) or labels is None:
        raise TypeError(f"{func}: labels must be an array of class indices, got {describe(labels)}")
    array = np.asarray(labels)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if np.any(bad):
            raise ValueError(
                f"{func}: labels must be whole class indices, got non-integer values "
                f"such as {array[bad][:3].tolist()}"
            )
        array = array.astype(np.int64)
    elif array.dtype.kind not in "iu":
        raise TypeError(f"{func}: labels must be integer class indices, got dtype {array.dtype}")
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(
            f"{func}: labels must have shape ({n},), one class index per row of logits, "
            f"got shape {array.shape}"
        )
    if n and (array.min() < 0 or array.max() >= num_classes):
        bad = array[(array < 0) | (array >= num_classes)][:3].tolist()
        raise ValueError(
            f"{func}: labels must lie in [0, {num_classes}) for {num_classes} classes, got {bad}"
        )
    return array.astype(np.intp, copy=False)
