"""How far a computed result may be from the exact one: bounds derived from the arithmetic.

A float32 convolution on a CPU with AVX-512 adds its products in another order
than one with AVX2 (OpenBLAS picks other kernels), so a tolerance found by
trying one machine fails on the next. These bounds follow from the rounding
of floating point instead, and hold for every summation order.

A sum of ``n`` terms (each a product, or a plain value) computed in floating
point with unit roundoff ``u`` (``2**-24`` in float32, ``2**-53`` in float64),
in any order and with or without fused multiply-adds, is off from the exact
sum by at most

    gamma(n) * sum(|terms|),    gamma(n) = n u / (1 - n u)

(Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., section
3.1: every term passes through at most ``n - 1`` additions and one product,
each rounding by a factor ``1 + delta`` with ``|delta| <= u``, whatever the
order or the blocking). ``sum(|terms|)`` is the same op applied to the
absolute values of its inputs, which the loop oracle computes exactly enough
(in float64). The exact result is the oracle's float64 answer on the same
inputs, whose own error, ``gamma_n`` in float64, is added to the bound.

Softmax and its relatives are not sums of products: their bounds are derived
in :func:`softmax_bound` and :func:`log_softmax_bound` from the same rounding
model plus an error of at most :data:`ULPS_EXP_LOG` units in the last place
for ``exp`` and ``log``.

In float64 these bounds are tight: ``gamma(27)`` is 3e-15, so a single term
left out or counted twice is caught. In float32 a large sum gets a loose bound
(``gamma(2380)`` is 1.4e-4 of the sum of magnitudes); the float64 run of the
same test is what catches a wrong term there, and the float32 run shows that
float32 stays float32 and within its rounding.
"""

from __future__ import annotations

import numpy as np
import oracle

__all__ = [
    "ULPS_EXP_LOG",
    "assert_close",
    "conv2d_backward_bounds",
    "conv2d_bound",
    "cross_entropy_backward_bound",
    "cross_entropy_bound",
    "dense_backward_bounds",
    "dense_bound",
    "exact",
    "gamma",
    "log_softmax_bound",
    "pool_backward_bound",
    "pool_bound",
    "softmax_bound",
    "sum_bound",
    "unit_roundoff",
]

F64 = np.float64
#: The largest error of numpy's exp and log, in units in the last place. glibc
#: stays below 1 ulp; numpy's own SIMD loops (AVX2, AVX-512) promise at most 4
#: ulp for float32 and 1 for float64; 4 covers both.
ULPS_EXP_LOG = 4


def unit_roundoff(dtype) -> float:
    """Half the machine epsilon: the largest relative error of one rounding."""
    return float(np.finfo(dtype).eps) / 2


def gamma(n, dtype):
    """``n u / (1 - n u)``: the relative error bound of ``n`` roundings in a row."""
    nu = np.asarray(n, dtype=F64) * unit_roundoff(dtype)
    if np.any(nu >= 1):
        raise ValueError(f"gamma: {n} roundings of {np.dtype(dtype)} leave no bound")
    return nu / (1 - nu)


def sum_bound(n_terms, magnitude, dtype) -> np.ndarray:
    """The error bound of a sum of ``n_terms`` whose absolute values sum to ``magnitude``.

    Includes the float64 oracle's own rounding. ``n_terms`` and ``magnitude``
    may be arrays (one value per output element).
    """
    magnitude = np.asarray(magnitude, dtype=F64)
    return (gamma(n_terms, dtype) + gamma(n_terms, F64)) * magnitude


def exact(function, *args, **kwargs):
    """The oracle's answer computed from the same values, in float64 throughout."""
    return function(*(_f64(a) for a in args), **kwargs)


def _f64(value):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(F64)
    return value


def _abs(value):
    return None if value is None else np.abs(np.asarray(value, dtype=F64))


def assert_close(actual, expected, bound, dtype, what: str = "result") -> None:
    """``actual`` has ``dtype``, the shape of ``expected``, and is within ``bound`` of it."""
    actual = np.asarray(actual)
    assert actual.dtype == dtype, f"{what}: dtype {actual.dtype}, expected {np.dtype(dtype)}"
    expected = np.asarray(expected, dtype=F64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, not {expected.shape}"
    bound = np.broadcast_to(np.asarray(bound, dtype=F64), expected.shape)
    error = np.abs(actual.astype(F64) - expected)
    over = ~(error <= bound)  # NaN counts as over
    if over.any():
        worst = np.unravel_index(np.argmax(np.where(over, error - bound, -np.inf)), error.shape)
        raise AssertionError(
            f"{what}: {int(over.sum())} of {error.size} values off by more than the rounding "
            f"bound; the worst at {tuple(int(i) for i in worst)}: got {actual[worst]!r}, exact "
            f"{expected[worst]!r}, error {error[worst]:.3g} > bound {bound[worst]:.3g}"
        )


# ----------------------------------------------------------------- sums of products


def conv2d_bound(x, weight, bias, stride, padding, dtype) -> np.ndarray:
    """conv2d (and correlate2d, with 2-D arguments): C * KH * KW products, plus the bias."""
    weight = np.asarray(weight)
    if weight.ndim == 2:  # correlate2d
        magnitude = oracle.correlate2d(_abs(x), _abs(weight), stride, padding)
        return sum_bound(weight.size, magnitude, dtype)
    n_terms = int(np.prod(weight.shape[1:])) + (bias is not None)
    magnitude = oracle.conv2d(_abs(x), _abs(weight), _abs(bias), stride, padding)
    return sum_bound(n_terms, magnitude, dtype)


def conv2d_backward_bounds(dout, x, weight, stride, padding, dtype) -> tuple:
    """Bounds of (dx, dweight, dbias).

    dx: each pixel gathers at most F * KH * KW products ``dout * weight``;
    dweight and dbias: each sums over the N * Ho * Wo output positions.
    """
    dout, weight = np.asarray(dout), np.asarray(weight)
    n_filters, _, kh, kw = weight.shape
    positions = dout.shape[0] * dout.shape[2] * dout.shape[3]
    mdx, mdw, mdb = oracle.conv2d_backward(_abs(dout), _abs(x), _abs(weight), stride, padding)
    return (
        sum_bound(n_filters * kh * kw, mdx, dtype),
        sum_bound(positions, mdw, dtype),
        sum_bound(positions, mdb, dtype),
    )


def dense_bound(x, weight, bias, dtype) -> np.ndarray:
    """dense: in_features products, plus the bias."""
    n_terms = np.asarray(weight).shape[0] + (bias is not None)
    magnitude = oracle.dense(_abs(x), _abs(weight), _abs(bias))
    return sum_bound(n_terms, magnitude, dtype)


def dense_backward_bounds(dout, x, weight, dtype) -> tuple:
    """Bounds of (dx, dweight, dbias): out_features terms for dx, N for the others."""
    dout = np.asarray(dout)
    mdx, mdw, mdb = oracle.dense_backward(_abs(dout), _abs(x), _abs(weight))
    n_rows, n_out = dout.shape
    return (
        sum_bound(n_out, mdx, dtype),
        sum_bound(n_rows, mdw, dtype),
        sum_bound(n_rows, mdb, dtype),
    )


def _windows(kernel_size, stride) -> tuple[int, int]:
    """(inputs per window, most windows one input can belong to)."""
    kh, kw = oracle._pair(kernel_size)
    sh, sw = oracle._pair(kernel_size if stride is None else stride)
    return kh * kw, -(-kh // sh) * -(-kw // sw)


def pool_bound(pool: str, x, kernel_size, stride, dtype) -> np.ndarray | float:
    """Max pooling picks a value: exact. Average pooling: a sum of K values, then / K."""
    if pool == "max_pool2d":
        return 0.0
    size, _ = _windows(kernel_size, stride)
    magnitude = oracle.avg_pool2d(_abs(x), kernel_size, stride)
    # K - 1 additions, then the division (or a rounded 1/K and a product): K + 1 roundings.
    return sum_bound(size + 1, magnitude, dtype)


def pool_backward_bound(pool: str, dout, x, kernel_size, stride, dtype) -> np.ndarray:
    """An input gets a share from each window it belongs to, added up.

    Max pooling: whole upstream values, at most one per overlapping window.
    Average pooling: each share is divided by K first (one or two more roundings).
    """
    _, overlap = _windows(kernel_size, stride)
    if pool == "max_pool2d":
        magnitude = oracle.max_pool2d_backward(_abs(dout), _f64(x), kernel_size, stride)
        return sum_bound(overlap, magnitude, dtype)
    magnitude = oracle.avg_pool2d_backward(_abs(dout), _f64(x), kernel_size, stride)
    return sum_bound(overlap + 2, magnitude, dtype)


# -------------------------------------------------------------------- probabilities


def _shifted(logits, axis):
    z = np.asarray(logits, dtype=F64)
    return z - z.max(axis=axis, keepdims=True)


def _exp_sum_error(shifted, axis, dtype):
    """Relative error (in units of u) of ``sum(exp(z - max))`` along ``axis``.

    Each ``z - max`` is rounded once (an absolute error u |z - max| inside exp,
    a relative error u |z - max| after it), each exp is off by ULPS_EXP_LOG
    ulp (2 u each), and the sum of K positive terms adds K - 1 roundings.
    """
    k = shifted.shape[axis]
    spread = np.abs(shifted).max(axis=axis, keepdims=True)
    return spread + 2 * ULPS_EXP_LOG + (k - 1)


def softmax_bound(logits, axis, dtype) -> np.ndarray:
    """``p = exp(z - max) / sum``: the numerator's error, the sum's, and the division.

    In units of u, relative to p: ``|z - max| + 2 ulps`` for the numerator,
    :func:`_exp_sum_error` for the denominator, 1 for the division; the same
    for the float64 oracle.
    """
    shifted = _shifted(logits, axis)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=axis, keepdims=True)
    units = np.abs(shifted) + 2 * ULPS_EXP_LOG + _exp_sum_error(shifted, axis, dtype) + 1
    # First-order terms; the factor 2 covers the products of small errors many times over.
    return 2 * units * (unit_roundoff(dtype) + unit_roundoff(F64)) * p


def log_softmax_bound(logits, axis, dtype) -> np.ndarray:
    """``(z - max) - log(sum)``, absolute error.

    ``z - max``: u |z - max|. ``log(sum)``: the sum's relative error becomes an
    absolute one, and log adds ULPS_EXP_LOG ulp of |log(sum)|. The final
    subtraction: u |result|.
    """
    shifted = _shifted(logits, axis)
    log_sum = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    result = shifted - log_sum
    units = (
        np.abs(shifted)
        + _exp_sum_error(shifted, axis, dtype)
        + 2 * ULPS_EXP_LOG * np.abs(log_sum)
        + np.abs(result)
    )
    return 2 * units * (unit_roundoff(dtype) + unit_roundoff(F64))


def cross_entropy_bound(logits, labels, dtype) -> float:
    """The mean of N values ``-log_softmax[n, label]``: their errors, plus N roundings."""
    logits = np.asarray(logits)
    rows = np.arange(logits.shape[0])
    per_row = log_softmax_bound(logits, 1, dtype)[rows, labels]
    terms = -oracle.log_softmax(_f64(logits), 1)[rows, labels]
    return float(per_row.mean() + sum_bound(len(rows) + 1, terms.mean(), dtype))


def cross_entropy_backward_bound(logits, labels, dtype) -> np.ndarray:
    """``(p - onehot) / N``: the softmax's error, then a subtraction and a division."""
    logits = np.asarray(logits)
    n_rows = logits.shape[0]
    exact_grad = oracle.cross_entropy_backward(_f64(logits), labels)
    rounding = 2 * (unit_roundoff(dtype) + unit_roundoff(F64)) * np.abs(exact_grad)
    return softmax_bound(logits, 1, dtype) / n_rows + rounding
