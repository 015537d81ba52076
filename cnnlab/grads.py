"""Backward operations: the gradient of a scalar loss with respect to each input.

Every ``*_backward`` function takes the upstream gradient ``dout`` (the
gradient of the loss with respect to the forward op's output, same shape as
that output) together with the forward op's inputs, and returns the gradient
with respect to those inputs. Chaining them, last layer first, is
backpropagation.

:func:`numerical_gradient` and :func:`rel_error` check any of them against
central differences.
"""

from __future__ import annotations

import math

import numpy as np

from cnnlab._validation import (
    as_float_array,
    as_labels,
    check_shape,
    describe,
    result_dtype,
)
from cnnlab.ops import (
    _WORKSPACE,
    _at,
    _conv_args,
    _empty,
    _geometry,
    _offsets,
    _pool_args,
    batch_last,
    im2col,
    im2col_batch_last,
    softmax,
)

__all__ = [
    "avg_pool2d_backward",
    "conv2d_backward",
    "cross_entropy_backward",
    "dense_backward",
    "max_pool2d_backward",
    "numerical_gradient",
    "rel_error",
    "relu_backward",
]


def _dout(func: str, dout, shape: tuple, forward: str) -> np.ndarray:
    dout = as_float_array(func, "dout", dout)
    check_shape(func, "dout", dout, shape, f"the shape of the output of {forward}")
    return dout


def relu_backward(dout, x) -> np.ndarray:
    """Gradient of :func:`~cnnlab.ops.relu`: pass ``dout`` where ``x > 0``, block it elsewhere.

    ``dx = dout * (x > 0)`` (at exactly 0 the gradient is taken as 0, as in PyTorch).

    Parameters
    ----------
    dout : ndarray, same shape as ``x``
        Gradient of the loss with respect to ``relu(x)``.
    x : ndarray of any shape
        The input of the forward pass.

    Returns
    -------
    dx : ndarray, same shape as ``x``
    """
    x = as_float_array("relu_backward", "x", x)
    dout = _dout("relu_backward", dout, x.shape, "relu(x)")
    # A product with the mask, not np.where: the same numbers, several times faster.
    return (dout * (x > 0)).astype(result_dtype(dout, x), copy=False)


def _pool_dout(func: str, dout, x, kernel_size, stride, forward: str):
    x, kernel, stride = _pool_args(func, x, kernel_size, stride)
    offsets = _offsets(func, x, kernel, stride)
    rows, cols = offsets[0]
    dout = _dout(func, dout, x[..., rows, cols].shape, forward)
    return x, kernel, stride, offsets, dout


def max_pool2d_backward(dout, x, kernel_size=2, stride=None) -> np.ndarray:
    """Gradient of :func:`~cnnlab.ops.max_pool2d`: each window's gradient goes to its maximum.

    Only the winning input of each window influenced the output, so it alone
    receives that window's upstream gradient; the others receive 0. If two
    inputs tie, the first one (in row-major order) wins, as in PyTorch. Where
    windows overlap, an input that wins several windows collects all their
    gradients.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo)
        Gradient of the loss with respect to the pooled output.
    x : ndarray of shape (N, C, H, W)
        The input of the forward pass.
    kernel_size, stride : int or (int, int)
        As given to ``max_pool2d``; ``stride`` defaults to ``kernel_size``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    return _max_pool2d_backward(dout, x, kernel_size, stride)


def _max_pool2d_backward(dout, x, kernel_size, stride, winners=None) -> np.ndarray:
    """max_pool2d_backward, given the ``winners`` of :func:`_max_pool2d_winners` if the
    caller kept them: :class:`cnnlab.nn.MaxPool2d` finds them in its forward pass, as
    PyTorch keeps the position of each maximum, and then routes dout at once."""
    func = "max_pool2d_backward"
    x, kernel, stride, offsets, dout = _pool_dout(
        func, dout, x, kernel_size, stride, "max_pool2d(x)"
    )
    if winners is None:
        winners = _max_pool2d_winners(x, offsets)[1]
    dtype = result_dtype(dout, x)
    shares = _WORKSPACE.get("shares", winners.size, dtype).reshape(winners.shape)
    np.multiply(winners, dout, out=shares)
    if stride[0] >= kernel[0] and stride[1] >= kernel[1]:  # windows do not overlap
        (ho, wo), (h, w) = dout.shape[-2:], x.shape[-2:]
        tiled = stride == kernel and (ho * kernel[0], wo * kernel[1]) == (h, w)
        # every input is in exactly one window when they tile x, else some in none
        dx = np.empty(x.shape, dtype=dtype) if tiled else np.zeros(x.shape, dtype=dtype)
        for share, (rows, cols) in zip(shares, offsets, strict=True):
            # + 0 turns -0.0 (a negative gradient times False) into 0.0
            np.add(share, 0, out=dx[..., rows, cols])
    else:  # an input in several windows collects from each
        dx = np.zeros(x.shape, dtype=dtype)
        for share, (rows, cols) in zip(shares, offsets, strict=True):
            dx[..., rows, cols] += share
    return dx


def _max_pool2d_winners(x: np.ndarray, offsets: list):
    """``max_pool2d(x)`` and, for each kernel offset, where that input wins its window.

    ``offsets`` are those of :func:`cnnlab.ops._offsets`, in row-major order.
    Returns ``(pooled, winners)``: ``winners[k]`` is a boolean map shaped like
    ``pooled``, true where the input at offset ``k`` is its window's first
    maximum. ``x`` must be validated.
    """
    # The KH*KW elements of every window side by side, one contiguous map per
    # offset (scratch memory): the comparisons below then run over contiguous
    # memory, twice as fast as over strided views of x.
    rows, cols = offsets[0]
    shape = x[..., rows, cols].shape
    stack = _WORKSPACE.get("windows", len(offsets) * math.prod(shape), x.dtype)
    stack = stack.reshape(len(offsets), *shape)
    for k, (rows, cols) in enumerate(offsets):
        stack[k] = x[..., rows, cols]
    pooled = stack.max(axis=0)
    winners = stack == pooled
    # A window is taken by its first maximum; its later ties win nothing.
    taken = winners[0].copy()
    for k in range(1, len(offsets)):
        winners[k] &= ~taken
        taken |= winners[k]
    return pooled, winners


def avg_pool2d_backward(dout, x, kernel_size=2, stride=None) -> np.ndarray:
    """Gradient of :func:`~cnnlab.ops.avg_pool2d`: each window shares its gradient equally.

    Every input of a ``KH x KW`` window contributed ``1 / (KH * KW)`` of the
    window's mean, so it receives ``dout / (KH * KW)``; where windows overlap,
    the shares add up.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo)
    x : ndarray of shape (N, C, H, W)
    kernel_size, stride : int or (int, int)
        As given to ``avg_pool2d``; ``stride`` defaults to ``kernel_size``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    func = "avg_pool2d_backward"
    x, kernel, _, offsets, dout = _pool_dout(func, dout, x, kernel_size, stride, "avg_pool2d(x)")
    dtype = result_dtype(dout, x)
    share = (dout / (kernel[0] * kernel[1])).astype(dtype, copy=False)
    dx = np.zeros(x.shape, dtype=dtype)
    for rows, cols in offsets:
        dx[..., rows, cols] += share
    return dx


def conv2d_backward(dout, x, weight, stride=1, padding=0):
    """Gradients of :func:`~cnnlab.ops.conv2d` with respect to its input, weight and bias.

    With ``cols`` the matrix of input windows (one column per output position),
    the forward pass is ``out = weight_matrix @ cols + bias``, so:

    * ``dweight = dout_matrix @ cols.T``, summed over the batch and positions;
    * ``dbias = dout`` summed over the batch and every position;
    * ``dx``: each window's gradient ``weight_matrix.T @ dout_matrix`` is added
      back onto the pixels it was cut from (overlapping windows add up), and
      the padding is cut off.

    Parameters
    ----------
    dout : ndarray of shape (N, F, Ho, Wo)
        Gradient of the loss with respect to the output of ``conv2d``.
    x : ndarray of shape (N, C, H, W)
    weight : ndarray of shape (F, C, KH, KW)
    stride, padding : int or (int, int)
        As given to ``conv2d``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dweight : ndarray of shape (F, C, KH, KW)
    dbias : ndarray of shape (F,)
    """
    func = "conv2d_backward"
    x, weight, _, stride, padding = _conv_args(func, x, weight, None, stride, padding)
    geometry = _geometry(func, x, weight, stride, padding)
    n, f = x.shape[0], weight.shape[0]
    dout = _dout(func, dout, (n, f, *geometry.out_hw), "conv2d(x, weight)")
    dtype = result_dtype(dout, x, weight)
    x, dout = x.astype(dtype, copy=False), dout.astype(dtype, copy=False)
    weight_t = np.ascontiguousarray(weight.reshape(f, -1).T, dtype=dtype)  # (C*KH*KW, F)
    rows = weight_t.shape[0]
    dx = np.empty(x.shape, dtype=dtype)
    # dweight and dbias come out of one product: the windows carry a row of
    # ones (as in conv2d), whose product with dout is dout summed, dbias.
    dparams = np.zeros((rows + 1, f), dtype=dtype)  # (C*KH*KW + 1, F)
    # The groups and layouts of conv2d (see cnnlab.ops._BATCH_LAST_BELOW).
    groups = geometry.groups(x)
    positions = geometry.out_hw[0] * geometry.out_hw[1]
    columns = geometry.buffer("columns", groups, rows + 1, dtype)
    if geometry.batch_last:
        dout_buffer = geometry.buffer("products", groups, f, dtype)
    for group in groups:
        if geometry.batch_last:
            cols = im2col_batch_last(x[group], geometry, columns, ones=True)  # (rows + 1, Ho*Wo*n)
            dout_group = dout[group].reshape(-1, f, positions)
            dout_rows = _empty((f, positions, dout_group.shape[0]), dtype, dout_buffer)
            dout_rows = batch_last(dout_group, dout_rows).reshape(f, -1)  # (F, Ho*Wo*n)
            # cols @ dout_rows.T, not (dout_rows @ cols.T).T: the same sums, and
            # OpenBLAS runs this orientation up to twice as fast.
            dparams += cols @ dout_rows.T
            dcols = np.matmul(weight_t, dout_rows, out=cols[:rows])  # the windows are used up
            _add_windows_batch_last(dcols, dx[group], geometry)
        else:
            cols = im2col(x[group], geometry, columns, ones=True)  # (n, rows + 1, Ho*Wo)
            dout_rows = dout[group].reshape(cols.shape[0], f, -1)
            dparams += (cols @ dout_rows.transpose(0, 2, 1)).sum(axis=0)
            dcols = np.matmul(weight_t, dout_rows, out=cols[:, :rows])
            dx[group] = _add_windows(dcols, x.shape, geometry)
    dweight = np.ascontiguousarray(dparams[:rows].T).reshape(weight.shape)
    return dx, dweight, dparams[rows].copy()


def _add_windows(dcols: np.ndarray, x_shape: tuple, geometry) -> np.ndarray:
    """col2im: add each window's gradient back onto the pixels it was cut from.

    ``dcols`` is ``(n, C*KH*KW, Ho*Wo)``; returns ``(n, C, H, W)``, padding cut
    off, as a view of scratch memory that the next call overwrites: copy it.
    """
    c = x_shape[1]
    (kh, kw), (ho, wo) = geometry.kernel, geometry.out_hw
    dcols = dcols.reshape(-1, c, kh, kw, ho, wo)
    shape = (dcols.shape[0], c, *_padded_hw(x_shape, geometry))
    padded = _WORKSPACE.zeros("dpadded", shape, dcols.dtype)
    phases = geometry.phases(padded, axis=2, zeroed=True)
    for i, j, phase, rows, cols in geometry.slices():
        phases[phase][:, :, rows, cols] += dcols[:, :, i, j]
    return _crop(_merge_phases(phases, padded, geometry, axis=2), x_shape, geometry, axis=2)


def _add_windows_batch_last(dcols: np.ndarray, dx: np.ndarray, geometry) -> np.ndarray:
    """col2im for the batch-last layout: ``dcols (C*KH*KW, Ho*Wo*n)`` into ``dx (n, C, H, W)``."""
    n, c = dx.shape[:2]
    (kh, kw), (ho, wo) = geometry.kernel, geometry.out_hw
    dcols = dcols.reshape(c, kh, kw, ho, wo, n)
    padded = _WORKSPACE.zeros("dpadded", (c, *_padded_hw(dx.shape, geometry), n), dcols.dtype)
    phases = geometry.phases(padded, axis=1, zeroed=True)
    for i, j, phase, rows, cols in geometry.slices():
        phases[phase][:, rows, cols] += dcols[:, i, j]
    padded = _merge_phases(phases, padded, geometry, axis=1)
    dx[...] = _crop(padded, dx.shape, geometry, axis=1).transpose(3, 0, 1, 2)
    return dx


# With a stride, col2im adds the windows' gradients into the phases of the padded
# input (see _Geometry.slices), with unit steps, and then moves each phase to
# its place: on the 5x5 stride-2 photo 0.40 ms instead of 0.77 for adding with
# a step of 2. Every pixel is in exactly one phase, so the move is a copy.


def _padded_hw(x_shape: tuple, geometry) -> tuple:
    (h, w), (ph, pw) = x_shape[2:], geometry.padding
    return h + 2 * ph, w + 2 * pw


def _merge_phases(phases: dict, padded: np.ndarray, geometry, axis: int) -> np.ndarray:
    """Copy each phase to its pixels of ``padded`` (zeros where no kernel entry reaches)."""
    if geometry.stride == (1, 1):
        return phases[0, 0]
    for phase, values in phases.items():
        _at(padded, axis, *geometry.phase(*phase))[...] = values
    return padded


def _crop(padded: np.ndarray, x_shape: tuple, geometry, axis: int) -> np.ndarray:
    """The padding cut off again: the view of ``padded`` that holds the input's pixels."""
    (h, w), (ph, pw) = x_shape[2:], geometry.padding
    return _at(padded, axis, slice(ph, ph + h), slice(pw, pw + w))


def dense_backward(dout, x, weight):
    """Gradients of :func:`~cnnlab.ops.dense` (``out = x @ weight + bias``).

    ``dx = dout @ weight.T``, ``dweight = x.T @ dout`` (summed over the batch),
    ``dbias = dout.sum(axis=0)``.

    Parameters
    ----------
    dout : ndarray of shape (N, out_features)
    x : ndarray of shape (N, in_features)
    weight : ndarray of shape (in_features, out_features)

    Returns
    -------
    dx : ndarray of shape (N, in_features)
    dweight : ndarray of shape (in_features, out_features)
    dbias : ndarray of shape (out_features,)
    """
    func = "dense_backward"
    x = as_float_array(func, "x", x, ndim=2, layout="(N, in_features)")
    weight = as_float_array(func, "weight", weight, ndim=2, layout="(in_features, out_features)")
    if x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"{func}: x has {x.shape[1]} features but weight expects {weight.shape[0]} "
            f"(x shape {x.shape}, weight shape {weight.shape})"
        )
    dout = _dout(func, dout, (x.shape[0], weight.shape[1]), "dense(x, weight)")
    return dout @ weight.T, x.T @ dout, dout.sum(axis=0)


def cross_entropy_backward(logits, labels) -> np.ndarray:
    """Gradient of the *mean* :func:`~cnnlab.ops.cross_entropy` with respect to the logits.

    ``dlogits = (softmax(logits) - one_hot(labels)) / N``: push the true class
    up and every other class down, each in proportion to its probability.

    Parameters
    ----------
    logits : ndarray of shape (N, K)
    labels : ndarray of shape (N,)
        Class indices in ``[0, K)``.

    Returns
    -------
    dlogits : ndarray of shape (N, K)
    """
    func = "cross_entropy_backward"
    z = as_float_array(func, "logits", logits, ndim=2, layout="(N, K)")
    labels = as_labels(func, labels, n=z.shape[0], num_classes=z.shape[1], per="row of logits")
    if z.shape[0] == 0:
        raise ValueError(f"{func}: logits must hold at least one example, got shape (0, K)")
    grad = softmax(z, axis=1)
    grad[np.arange(z.shape[0]), labels] -= 1
    return grad / z.shape[0]


# ------------------------------------------------------------------ gradient checks


def numerical_gradient(f, x, h=1e-5) -> np.ndarray:
    """Estimate the gradient of a scalar function by central differences.

    ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)`` for every element ``i``.
    The error is of order ``h**2``; use float64 input to compare with an
    analytic gradient to ``rel_error < 1e-7``.

    Parameters
    ----------
    f : callable
        Takes an array shaped like ``x`` and returns a scalar.
    x : ndarray of any shape
        The point at which to differentiate. It is not modified: ``f`` is
        called on a perturbed copy.
    h : float, default 1e-5
        The step.

    Returns
    -------
    ndarray of the same shape and dtype as ``x``
    """
    if not callable(f):
        raise TypeError(f"numerical_gradient: f must be a callable, got {describe(f)}")
    x = as_float_array("numerical_gradient", "x", x)
    if isinstance(h, bool) or not isinstance(h, int | float | np.integer | np.floating):
        raise TypeError(f"numerical_gradient: h must be a positive number, got {describe(h)}")
    if not h > 0:
        raise ValueError(f"numerical_gradient: h must be a positive number, got {h!r}")
    point = x.copy()
    grad = np.zeros_like(point)
    flat_point, flat_grad = point.reshape(-1), grad.reshape(-1)

    def value_at() -> float:
        value = f(point)
        if np.ndim(value) != 0:
            raise TypeError(
                f"numerical_gradient: f must return one number (a scalar loss), "
                f"got {describe(np.asarray(value))}"
            )
        return float(value)

    for i in range(flat_point.size):
        original = flat_point[i]
        flat_point[i] = original + h
        above = value_at()
        flat_point[i] = original - h
        below = value_at()
        flat_point[i] = original
        flat_grad[i] = (above - below) / (2 * h)
    return grad


def rel_error(a, b) -> float:
    """Largest relative difference between two arrays, in ``[0, 1]``.

    ``max |a - b| / max(1e-8, |a| + |b|)``, element-wise: about 1e-7 or less
    for a correct float64 gradient, around 1 for an unrelated one.
    """
    a = as_float_array("rel_error", "a", a)
    b = as_float_array("rel_error", "b", b)
    if a.shape != b.shape:
        raise ValueError(
            f"rel_error: a and b must have the same shape, got {a.shape} and {b.shape}"
        )
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
