"""Argument checks shared by every public function of cnnlab.

Each helper takes the name of the calling function and of the argument, so
that every message reads like ``conv2d: x must have 4 dimensions (N, C, H, W),
got shape (3, 8, 8)``: who complained, about what, what came, what is needed.
``TypeError`` is raised for a wrong type, ``ValueError`` for a wrong value.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "DEFAULT_SEED",
    "as_array",
    "as_class_names",
    "as_float_array",
    "as_float_dtype",
    "as_generator",
    "as_int",
    "as_labels",
    "as_matching_matrices",
    "as_real",
    "as_seed",
    "check_shape",
    "describe",
    "int_pair",
    "result_dtype",
]

#: The seed every random argument (``rng=``) falls back to when given ``None``:
#: the same code gives the same numbers every time.
DEFAULT_SEED = 0


def describe(value) -> str:
    """Say in a few words what ``value`` is, for an error message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, str):
        text = value if len(value) <= 20 else value[:17] + "..."
        return f"the string {text!r}"
    return f"{type(value).__name__} {value!r}"[:80]


def as_array(func: str, name: str, value) -> np.ndarray:
    """Return ``value`` as a numeric ndarray of unchanged dtype (uint8 stays uint8).

    Booleans, integers and floats are accepted; strings, ``None``, ragged lists
    and complex numbers raise ``TypeError``. Nothing is copied unless needed.
    """
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{func}: {name} must be a numpy array of numbers, got {describe(value)}")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:  # ragged nested lists
        raise TypeError(
            f"{func}: {name} must be a numpy array of numbers, got {describe(value)} ({error})"
        ) from None
    if array.dtype.kind not in "buif":
        raise TypeError(
            f"{func}: {name} must hold real numbers (float or int), got dtype {array.dtype}"
        )
    return array


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
    array = as_array(func, name, value)
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
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


def as_matching_matrices(
    func: str, names: tuple[str, str], first, second, *, hint: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Two 2-D float arrays ``(h, w)`` of one shape, e.g. an image and the template over it."""
    first = as_float_array(func, names[0], first, ndim=2, layout="(h, w)")
    second = as_float_array(func, names[1], second, ndim=2, layout="(h, w)")
    if first.shape != second.shape:
        advice = f"; {hint}" if hint else ""
        raise ValueError(
            f"{func}: {names[0]} and {names[1]} must have the same shape, got {names[0]} "
            f"{first.shape} and {names[1]} {second.shape}{advice}"
        )
    return first, second


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


def as_int(func: str, name: str, value, *, minimum: int | None) -> int:
    """Check one int argument (``size``, ``stride``, ...) and return it as a Python int.

    ``minimum=None`` allows any sign (a shift by ``-2`` pixels); ``bool`` is never an int.
    """
    need = "an int" if minimum is None else f"a {_sign(minimum)} int"
    if not _is_int(value):
        raise TypeError(f"{func}: {name} must be {need}, got {describe(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{func}: {name} must be {need}, got {value!r}")
    return int(value)


def _sign(minimum: int) -> str:
    return "positive" if minimum >= 1 else "non-negative"


def int_pair(func: str, name: str, value, *, minimum: int) -> tuple[int, int]:
    """Turn an int or a pair of ints into ``(vertical, horizontal)``.

    Raises ``TypeError`` for anything that is not an int or a pair of ints, and
    ``ValueError`` for a value below ``minimum``.
    """
    kind = _sign(minimum)
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


def as_real(
    func: str, name: str, value, *, at_least=None, above=None, at_most=None, below=None
) -> float:
    """Check one real number (a learning rate, a threshold, ...) and return it as a float.

    ``TypeError`` for anything that is not a real number (``bool`` included),
    ``ValueError`` for NaN, infinity, or a value outside the bounds: ``at_least``
    and ``at_most`` are included, ``above`` and ``below`` are not. The message
    says "positive" for ``above=0`` and "non-negative" for ``at_least=0``.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: {name} must be a number, got {describe(value)}")
    number = float(value)
    low = at_least if above is None else above
    high = at_most if below is None else below
    fits = math.isfinite(number)
    fits = fits and (at_least is None or number >= at_least) and (above is None or number > above)
    fits = fits and (at_most is None or number <= at_most) and (below is None or number < below)
    if not fits:
        if low == 0 and high is None:
            need = (
                "a finite positive number" if above is not None else "a finite non-negative number"
            )
        elif low is not None and high is not None:
            left, right = "[" if above is None else "(", "]" if below is None else ")"
            need = f"a finite number in {left}{low:g}, {high:g}{right}"
        elif low is not None:
            need = f"a finite number {'>=' if above is None else '>'} {low:g}"
        elif high is not None:
            need = f"a finite number {'<=' if below is None else '<'} {high:g}"
        else:
            need = "a finite number"
        raise ValueError(f"{func}: {name} must be {need}, got {number!r}")
    return number


def as_float_dtype(func: str, dtype, name: str = "dtype") -> np.dtype:
    """Check a dtype argument: ``TypeError`` for no dtype, ``ValueError`` for a non-float one."""
    try:
        dtype = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(
            f"{func}: {name} must be a numpy float dtype such as np.float32, got {describe(dtype)}"
        ) from None
    if dtype.kind != "f":
        raise ValueError(
            f"{func}: {name} must be a float dtype such as np.float32 or np.float64, got {dtype}"
        )
    return dtype


def as_seed(func: str, name: str, rng) -> int:
    """An ``rng=`` argument as an int seed: ``None`` is :data:`DEFAULT_SEED`, an int stays,
    a ``numpy.random.Generator`` draws one (and so moves on)."""
    if rng is None:
        return DEFAULT_SEED
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**32))
    if _is_int(rng):
        return as_int(func, name, rng, minimum=0)
    raise TypeError(
        f"{func}: {name} must be None, an int seed or a numpy.random.Generator, got {describe(rng)}"
    )


def as_generator(func: str, name: str, rng) -> np.random.Generator:
    """An ``rng=`` argument as a ``numpy.random.Generator``.

    A Generator is returned as it is (drawing from it moves it on, as numpy
    does); an int ``s >= 0`` gives ``numpy.random.default_rng(s)``; ``None``
    the same for :data:`DEFAULT_SEED`. Anything else raises ``TypeError``,
    a negative seed ``ValueError``.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(as_seed(func, name, rng))


def as_labels(
    func: str,
    labels,
    *,
    n: int | None = None,
    num_classes: int | None = None,
    name: str = "labels",
    per: str = "example",
) -> np.ndarray:
    """Check class-index labels: shape ``(n,)``, integers in ``[0, num_classes)``.

    Integer-valued floats (``3.0``) are accepted, as numpy produces them easily;
    ``2.5``, NaN, booleans, negative or too-large labels are not. ``n=None``
    accepts any length and ``num_classes=None`` any class ``>= 0``; ``per``
    says what each label belongs to ("row of logits"), for the message.
    Returns an ``intp`` array (the input itself when it already is one).
    """
    if isinstance(labels, str | bytes) or labels is None:
        raise TypeError(f"{func}: {name} must be an array of class indices, got {describe(labels)}")
    array = np.asarray(labels)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if np.any(bad):
            raise ValueError(
                f"{func}: {name} must be whole class indices, got non-integer values "
                f"such as {array[bad][:3].tolist()}"
            )
        array = array.astype(np.int64)
    elif array.dtype.kind not in "iu":
        raise TypeError(f"{func}: {name} must be integer class indices, got dtype {array.dtype}")
    if array.ndim != 1 or (n is not None and array.shape[0] != n):
        need = f"({n},), one class index per {per}" if n is not None else "(N,), one dimension"
        raise ValueError(f"{func}: {name} must have shape {need}, got shape {array.shape}")
    if array.size and num_classes is None and array.min() < 0:
        raise ValueError(f"{func}: {name} must be class indices >= 0, got {array.min()}")
    if array.size and num_classes is not None and (array.min() < 0 or array.max() >= num_classes):
        bad = array[(array < 0) | (array >= num_classes)][:3].tolist()
        raise ValueError(
            f"{func}: {name} must lie in [0, {num_classes}) for {num_classes} classes, got {bad}"
        )
    return array.astype(np.intp, copy=False)


def as_class_names(func: str, class_names, k: int) -> list[str]:
    """Names of ``k`` classes: ``class_names`` as strings, or ``"0" .. "k-1"`` for ``None``."""
    if class_names is None:
        return [str(c) for c in range(k)]
    if isinstance(class_names, str):
        raise TypeError(f"{func}: class_names must be a list of names, got {describe(class_names)}")
    names = [str(name) for name in class_names]
    if len(names) != k:
        raise ValueError(
            f"{func}: class_names must have {k} entries, one per class, got {len(names)}"
        )
    return names
