"""Forward operations of a convolutional network, in numpy.

Names, argument names and layouts follow ``torch.nn.functional``: batches are
``(N, C, H, W)``, convolution weights are ``(F, C, KH, KW)``, and spatial sizes
round down. Like every deep-learning framework, :func:`conv2d` computes a
*cross-correlation*: the kernel is not flipped.

Every function validates its arguments, never modifies them, keeps a float
dtype (float32 stays float32) and computes integer input in float64.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab._validation import (
    as_float_array,
    as_int,
    as_labels,
    check_shape,
    describe,
    int_pair,
    result_dtype,
)

__all__ = [
    "avg_pool2d",
    "conv2d",
    "correlate2d",
    "cross_entropy",
    "dense",
    "flatten",
    "log_softmax",
    "max_pool2d",
    "output_size",
    "relu",
    "softmax",
]


# --------------------------------------------------------------------------- sizes


def output_size(size, kernel_size, stride=1, padding=0) -> int:
    """Length of one spatial axis after a convolution or pooling window slides over it.

    ``out = (size + 2 * padding - kernel_size) // stride + 1``

    Parameters
    ----------
    size : int
        Input length along the axis (height or width), at least 1.
    kernel_size : int
        Window length along the axis, at least 1.
    stride : int, default 1
        Step between two window positions, at least 1.
    padding : int, default 0
        Zeros added at *each* end of the axis, at least 0.

    Returns
    -------
    int
        The number of window positions. The division rounds down: a window that
        would hang over the end of the (padded) input is not used.

    Examples
    --------
    >>> output_size(5, 3)
    3
    >>> output_size(7, 3, stride=2, padding=1)
    4
    """
    size = as_int("output_size", "size", size, minimum=1)
    kernel_size = as_int("output_size", "kernel_size", kernel_size, minimum=1)
    stride = as_int("output_size", "stride", stride, minimum=1)
    padding = as_int("output_size", "padding", padding, minimum=0)
    return _axis_out("output_size", "size", size, kernel_size, stride, padding)


def _axis_out(func: str, what: str, size: int, kernel: int, stride: int, padding: int) -> int:
    padded = size + 2 * padding
    if kernel > padded:
        raise ValueError(
            f"{func}: kernel of size {kernel} is larger than the padded {what} "
            f"{size} + 2*{padding} = {padded}; use a smaller kernel or more padding"
        )
    return (padded - kernel) // stride + 1


def _pad(x: np.ndarray, padding: tuple) -> np.ndarray:
    """Zero-pad the last two axes by ``padding = (ph, pw)`` on each side."""
    ph, pw = padding
    if ph == pw == 0:
        return x
    out = np.zeros((*x.shape[:-2], x.shape[-2] + 2 * ph, x.shape[-1] + 2 * pw), dtype=x.dtype)
    out[..., ph : ph + x.shape[-2], pw : pw + x.shape[-1]] = x
    return out


def _windows(
    func: str, x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple = (0, 0)
) -> np.ndarray:
    """All ``KH x KW`` windows of the last two axes, as a read-only strided view.

    Returns shape ``(..., Ho, Wo, KH, KW)``; nothing is copied unless padding is needed.
    """
    height, width = x.shape[-2:]
    _axis_out(func, "input height", height, kernel[0], stride[0], padding[0])
    _axis_out(func, "input width", width, kernel[1], stride[1], padding[1])
    view = sliding_window_view(_pad(x, padding), kernel, axis=(-2, -1))
    return view[..., :: stride[0], :: stride[1], :, :]


# ---------------------------------------------------------------------- convolution


def correlate2d(image, kernel, stride=1, padding=0) -> np.ndarray:
    """Slide ``kernel`` over one 2-D image, multiplying element-wise and summing.

    This is the cross-correlation that CNNs call "convolution": the kernel is
    used as it is, not flipped.

    ``out[i, j] = sum(image_padded[i*sh : i*sh + KH, j*sw : j*sw + KW] * kernel)``

    Parameters
    ----------
    image : ndarray of shape (H, W)
        One single-channel image.
    kernel : ndarray of shape (KH, KW)
        The template or filter.
    stride : int or (int, int), default 1
        Step of the window, vertically and horizontally.
    padding : int or (int, int), default 0
        Zeros added on each side (top and bottom, left and right).

    Returns
    -------
    ndarray of shape (Ho, Wo)
        ``Ho = (H + 2*ph - KH) // sh + 1`` and ``Wo = (W + 2*pw - KW) // sw + 1``.

    Examples
    --------
    >>> correlate2d(np.arange(9.0).reshape(3, 3), np.arange(4.0).reshape(2, 2))
    array([[19., 25.],
           [37., 43.]])
    """
    image = as_float_array("correlate2d", "image", image, ndim=2, layout="(H, W)")
    kernel = as_float_array("correlate2d", "kernel", kernel, ndim=2, layout="(KH, KW)")
    if kernel.size == 0:
        raise ValueError(f"correlate2d: kernel must be at least 1x1, got shape {kernel.shape}")
    stride = int_pair("correlate2d", "stride", stride, minimum=1)
    padding = int_pair("correlate2d", "padding", padding, minimum=0)
    windows = _windows("correlate2d", image, kernel.shape, stride, padding)
    out = np.tensordot(windows, kernel, axes=([2, 3], [0, 1]))
    return out.astype(result_dtype(image, kernel), copy=False)


def _conv_args(func: str, x, weight, bias, stride, padding):
    """Validate the arguments shared by conv2d and conv2d_backward."""
    x = as_float_array(func, "x", x, ndim=4, layout="(N, C, H, W)")
    weight = as_float_array(func, "weight", weight, ndim=4, layout="(F, C, KH, KW)")
    if weight.shape[0] == 0 or weight.shape[2] == 0 or weight.shape[3] == 0:
        raise ValueError(
            f"{func}: weight must hold at least one filter with a kernel of at least 1x1, "
            f"got shape {weight.shape}"
        )
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"{func}: x has {x.shape[1]} channels but weight expects {weight.shape[1]} "
            f"(x shape {x.shape}, weight shape {weight.shape})"
        )
    if bias is not None:
        bias = as_float_array(func, "bias", bias, ndim=1, layout="(F,)")
        check_shape(
            func, "bias", bias, (weight.shape[0],), f"one value per filter of weight {weight.shape}"
        )
    stride = int_pair(func, "stride", stride, minimum=1)
    padding = int_pair(func, "padding", padding, minimum=0)
    return x, weight, bias, stride, padding


# conv2d and conv2d_backward turn the convolution into matrix products: the
# windows of the input are copied into columns (im2col) and multiplied by the
# filters (and a row of ones after the windows by the bias, see conv2d). Each
# output is the same sum of C*KH*KW products whichever way the columns are laid
# out; only the speed differs:
#
# * per image, (N, C*KH*KW, Ho*Wo): one BLAS product per image, which comes out
#   directly as (N, F, Ho*Wo). Wins on large maps (MNIST 28x28, the photos):
#   each product is big enough to run at full speed and nothing is transposed.
# * batch last, (C*KH*KW, Ho*Wo*N): one BLAS product for the whole group. Wins
#   on small maps (the digits' 8x8 and 4x4, MNIST's 14x14 after pooling): there
#   N products of a few dozen columns would be mostly call overhead, and with
#   the batch innermost every copy moves Wo*N neighbouring values instead of Wo.
#   It costs a transpose of x and one of the result, which large maps do not repay.
#
# With a stride, both cut the windows from the phases of the padded input
# (_Geometry.slices), never with a step.
_BATCH_LAST_BELOW = 256  # output positions per map (Ho * Wo)

# Both work on a group of images at a time, as many as keep the group's columns
# within this many bytes: the columns then stay in the CPU's cache between being
# copied and being multiplied, and each group reuses the memory of the previous
# one instead of asking the operating system for fresh pages (on a batch of 64
# MNIST maps, whose columns take 7 MB, that alone made the backward pass 2x slower).
_GROUP_BYTES = 2**21


class _Geometry(NamedTuple):
    """The sizes of one convolution, as conv2d and conv2d_backward share them."""

    kernel: tuple  # (KH, KW)
    stride: tuple
    padding: tuple
    out_hw: tuple  # (Ho, Wo)

    @property
    def batch_last(self) -> bool:
        return self.out_hw[0] * self.out_hw[1] < _BATCH_LAST_BELOW

    def groups(self, x: np.ndarray) -> list[slice]:
        """Consecutive slices of the batch, each small enough for the cache."""
        (kh, kw), (ho, wo) = self.kernel, self.out_hw
        per_image = x.shape[1] * kh * kw * ho * wo * x.itemsize
        size = max(1, _GROUP_BYTES // per_image)
        n = x.shape[0]
        return [slice(start, min(start + size, n)) for start in range(0, n, size)]

    def buffer(self, name: str, groups: list[slice], rows: int, dtype) -> np.ndarray:
        """Scratch memory for ``rows`` values per output position of the largest group."""
        largest = max((g.stop - g.start for g in groups), default=0)
        return _WORKSPACE.get(name, largest * rows * self.out_hw[0] * self.out_hw[1], dtype)

    def slices(self):
        """``(i, j, phase, rows, cols)`` for every kernel offset, in row-major order.

        With a stride of ``(sh, sw)`` the padded input falls into ``sh * sw``
        phases, ``phase (a, b) = padded[a::sh, b::sw]``, and kernel entry
        ``(i, j)`` multiplies, for every output position at once, the pixels
        ``phases[phase][rows, cols]``: phase ``(i % sh, j % sw)``, with rows and
        cols of unit step. With a stride of 1 the one phase is the padded input.
        """
        (kh, kw), (sh, sw), (ho, wo) = self.kernel, self.stride, self.out_hw
        for i in range(kh):
            for j in range(kw):
                rows, cols = slice(i // sh, i // sh + ho), slice(j // sw, j // sw + wo)
                yield i, j, (i % sh, j % sw), rows, cols

    def phases(self, padded: np.ndarray, axis: int, zeroed: bool = False) -> dict:
        """The phases of ``padded`` that the kernel reads, each copied to contiguous memory
        (scratch memory of the workspace), or with ``zeroed`` each filled with zeros.

        ``axis`` is the axis of the rows (the columns follow it). A strided
        convolution reads every pixel of a phase with a unit step: copying the
        phases once (each pixel moves once) and cutting the windows from them
        took the 5x5 stride-2 photo's im2col from 0.37 to 0.21 ms, since
        copies with a step of 2 run at half the speed. With a stride of 1 the
        one phase is ``padded`` itself.
        """
        if self.stride == (1, 1):
            return {(0, 0): padded}
        phases = {}
        for _, _, phase, _, _ in self.slices():
            if phase not in phases:
                view = _at(padded, axis, *self.phase(*phase))
                if zeroed:
                    phases[phase] = _WORKSPACE.zeros(("dphase", *phase), view.shape, view.dtype)
                else:
                    array = _WORKSPACE.get(("phase", *phase), view.size, view.dtype)
                    phases[phase] = array.reshape(view.shape)
                    phases[phase][...] = view
        return phases

    def phase(self, a: int, b: int) -> tuple:
        """The rows and columns of phase ``(a, b)`` in the padded input."""
        return slice(a, None, self.stride[0]), slice(b, None, self.stride[1])


def _at(array: np.ndarray, axis: int, rows, cols) -> np.ndarray:
    """``array`` indexed by ``rows`` on ``axis`` and by ``cols`` on the axis after it."""
    index = [slice(None)] * array.ndim
    index[axis : axis + 2] = rows, cols
    return array[tuple(index)]


class _Workspace(threading.local):
    """Scratch memory that conv2d and conv2d_backward reuse from call to call.

    Memory fresh from the operating system costs a page fault for every 4 KiB
    the first time it is written; on MNIST 14x14 16->32 that was a third of the
    time of a forward and backward pass. Only the window columns and products
    of a group live here, never an array that is returned, and each thread has
    its own. An array larger than ``_WORKSPACE_KEEP`` bytes is not kept.
    """

    def __init__(self):
        self.arrays: dict = {}

    def get(self, name, size: int, dtype) -> np.ndarray:
        """A 1-D array of ``size`` values of ``dtype``, whose contents are garbage."""
        key = (name, np.dtype(dtype))
        array = self.arrays.get(key)
        if array is None or array.size < size:
            array = np.empty(size, dtype=dtype)
            if array.nbytes <= _WORKSPACE_KEEP:
                self.arrays[key] = array
        return array[:size]

    def zeros(self, name, shape: tuple, dtype) -> np.ndarray:
        """An array of ``shape`` filled with zeros (filling memory already mapped is far
        cheaper than a page fault for every 4 KiB of a fresh ``np.zeros``)."""
        array = self.get(name, math.prod(shape), dtype).reshape(shape)
        array.fill(0)
        return array


_WORKSPACE = _Workspace()
_WORKSPACE_KEEP = 2**26


def _geometry(func: str, x: np.ndarray, weight: np.ndarray, stride, padding) -> _Geometry:
    kernel = weight.shape[2:]
    out_hw = (
        _axis_out(func, "input height", x.shape[2], kernel[0], stride[0], padding[0]),
        _axis_out(func, "input width", x.shape[3], kernel[1], stride[1], padding[1]),
    )
    return _Geometry(kernel, stride, padding, out_hw)


def im2col(
    x: np.ndarray, geometry: _Geometry, buffer: np.ndarray | None = None, ones: bool = False
) -> np.ndarray:
    """Copy every window of ``x`` into one column: ``(N, C, H, W) -> (N, C*KH*KW, Ho*Wo)``.

    Turning the convolution into a matrix product is what makes it fast: the
    multiply-and-sum of every window with every filter becomes one BLAS call
    per image. The copy runs once per kernel offset ``(i, j)``, each moving the
    pixels that offset sees in every window at once. With ``ones``, a row of
    ones follows the windows (see :func:`conv2d`).
    """
    n, c = x.shape[:2]
    (kh, kw), (ho, wo) = geometry.kernel, geometry.out_hw
    full = _empty((n, c * kh * kw + ones, ho * wo), x.dtype, buffer)
    cols = full[:, : c * kh * kw].reshape(n, c, kh, kw, ho, wo)
    (h, w), (ph, pw) = x.shape[2:], geometry.padding
    padded = _WORKSPACE.zeros("padded", (n, c, h + 2 * ph, w + 2 * pw), x.dtype)
    padded[:, :, ph : ph + h, pw : pw + w] = x
    phases = geometry.phases(padded, axis=2)
    for i, j, phase, rows, columns in geometry.slices():
        cols[:, :, i, j] = phases[phase][:, :, rows, columns]
    if ones:
        full[:, -1] = 1
    return full


def im2col_batch_last(
    x: np.ndarray, geometry: _Geometry, buffer: np.ndarray | None = None, ones: bool = False
) -> np.ndarray:
    """The windows of a batch as columns, batch innermost: ``(C*KH*KW, Ho*Wo*N)``.

    ``x`` is transposed to ``(C, H, W, N)`` as it is padded (one copy for
    both), so that one row of a window, for the whole batch, is one run of
    neighbouring values. With ``ones``, a row of ones follows the windows.
    """
    n, c, h, w = x.shape
    (kh, kw), (ph, pw), (ho, wo) = geometry.kernel, geometry.padding, geometry.out_hw
    padded = _WORKSPACE.zeros("padded", (c, h + 2 * ph, w + 2 * pw, n), x.dtype)
    padded[:, ph : ph + h, pw : pw + w] = x.transpose(1, 2, 3, 0)
    full = _empty((c * kh * kw + ones, ho * wo * n), x.dtype, buffer)
    cols = full[: c * kh * kw].reshape(c, kh, kw, ho, wo, n)
    phases = geometry.phases(padded, axis=1)
    for i, j, phase, rows, columns in geometry.slices():
        cols[:, i, j] = phases[phase][:, rows, columns]
    if ones:
        full[-1] = 1
    return full


def _empty(shape: tuple, dtype, buffer: np.ndarray | None) -> np.ndarray:
    """An array of ``shape``, in the front of ``buffer`` when one is given."""
    if buffer is None:
        return np.empty(shape, dtype=dtype)
    return buffer[: math.prod(shape)].reshape(shape)


def conv2d(x, weight, bias=None, stride=1, padding=0) -> np.ndarray:
    """2-D convolution of a batch of images with a bank of filters (cross-correlation).

    Every filter looks at all ``C`` input channels at once; each of the ``F``
    filters produces one activation map.

    ``out[n, f] = bias[f] + sum_c correlate2d(x[n, c], weight[f, c], stride, padding)``

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
        A batch of ``N`` images with ``C`` channels.
    weight : ndarray of shape (F, C, KH, KW)
        ``F`` filters, each with one ``KH x KW`` kernel per input channel.
    bias : ndarray of shape (F,), optional
        One number added to every value of each output map.
    stride : int or (int, int), default 1
        Step of the window, vertically and horizontally.
    padding : int or (int, int), default 0
        Zeros added on each side of every image.

    Returns
    -------
    ndarray of shape (N, F, Ho, Wo)
        ``Ho = (H + 2*ph - KH) // sh + 1`` and ``Wo = (W + 2*pw - KW) // sw + 1``.
    """
    x, weight, bias, stride, padding = _conv_args("conv2d", x, weight, bias, stride, padding)
    dtype = result_dtype(x, weight, bias)
    geometry = _geometry("conv2d", x, weight, stride, padding)
    x = x.astype(dtype, copy=False)
    n, f, (ho, wo) = x.shape[0], weight.shape[0], geometry.out_hw
    # The bias rides in the matrix product: a column of it after the filters'
    # weights meets a row of ones after the windows, which spares a pass over
    # the whole output (a tenth of the time on MNIST's 28x28 maps).
    weight_rows = weight.reshape(f, -1).astype(dtype, copy=False)  # (F, C*KH*KW)
    if bias is not None:
        weight_rows = np.concatenate([weight_rows, bias.astype(dtype)[:, None]], axis=1)
    ones = bias is not None
    out = np.empty((n, f, ho, wo), dtype=dtype)
    groups = geometry.groups(x)
    columns = geometry.buffer("columns", groups, weight_rows.shape[1], dtype)
    if geometry.batch_last:
        products = geometry.buffer("products", groups, f, dtype)
    for group in groups:
        if geometry.batch_last:
            cols = im2col_batch_last(x[group], geometry, columns, ones)  # (C*KH*KW+1, Ho*Wo*n)
            product = np.matmul(weight_rows, cols, out=_empty((f, cols.shape[1]), dtype, products))
            out[group] = product.reshape(f, ho, wo, -1).transpose(3, 0, 1, 2)
        else:
            cols = im2col(x[group], geometry, columns, ones)  # (n, C*KH*KW+1, Ho*Wo)
            np.matmul(weight_rows, cols, out=out[group].reshape(-1, f, ho * wo))
    return out


# The batch-last layout needs dout's batch moved from the front to the back.
# Done in one step, numpy walks dout with a stride of a whole image (K*P values):
# on the digits' 8x8 maps with 16 filters that is exactly 4 KiB, every value
# then lands on the same few cache sets, and the copy took 100 us instead of 20.
# Two steps keep every stride within one map of P values: first swap the batch
# with the K axis, moving whole maps, then transpose each (n, P) block. (The
# other way, back to batch first, conv2d's one step is as fast.)


def batch_last(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Copy ``a (n, K, P)`` into ``out (K, P, n)``, through ``(K, n, P)``; returns ``out``."""
    n, k, p = a.shape
    middle = _WORKSPACE.get("transpose", a.size, a.dtype).reshape(k, n, p)
    middle[...] = a.transpose(1, 0, 2)
    out[...] = middle.transpose(0, 2, 1)
    return out


# ------------------------------------------------------------------------ activation


def relu(x) -> np.ndarray:
    """Rectified linear unit: keep positive values, replace negative ones by 0.

    ``relu(x) = max(x, 0)``, element-wise.

    Parameters
    ----------
    x : ndarray of any shape

    Returns
    -------
    ndarray of the same shape as ``x``
        A new array; ``x`` is not changed.
    """
    x = as_float_array("relu", "x", x)
    return np.maximum(x, x.dtype.type(0))


# --------------------------------------------------------------------------- pooling


def _pool_args(func: str, x, kernel_size, stride):
    x = as_float_array(func, "x", x, ndim=4, layout="(N, C, H, W)")
    kernel = int_pair(func, "kernel_size", kernel_size, minimum=1)
    stride = kernel if stride is None else int_pair(func, "stride", stride, minimum=1)
    return x, kernel, stride


def _offsets(func: str, x: np.ndarray, kernel: tuple, stride: tuple) -> list[tuple]:
    """One ``(rows, cols)`` pair of strided slices per kernel offset ``(i, j)``.

    ``x[..., rows, cols]`` has shape ``(N, C, Ho, Wo)`` and holds, for every
    window at once, the element at row ``i`` and column ``j`` of that window.
    Reducing over the ``KH * KW`` slices reduces over every window, with long
    contiguous loops instead of many tiny ones. Offsets come in row-major order.
    """
    ho = _axis_out(func, "input height", x.shape[-2], kernel[0], stride[0], 0)
    wo = _axis_out(func, "input width", x.shape[-1], kernel[1], stride[1], 0)
    return [
        (
            slice(i, i + stride[0] * (ho - 1) + 1, stride[0]),
            slice(j, j + stride[1] * (wo - 1) + 1, stride[1]),
        )
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]


def max_pool2d(x, kernel_size=2, stride=None) -> np.ndarray:
    """Max pooling: the largest value of each ``KH x KW`` window, channel by channel.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size : int or (int, int), default 2
        Window size.
    stride : int or (int, int), optional
        Step of the window; defaults to ``kernel_size`` (windows that do not overlap).

    Returns
    -------
    ndarray of shape (N, C, Ho, Wo)
        ``Ho = (H - KH) // sh + 1`` and ``Wo = (W - KW) // sw + 1``: rows and
        columns that do not fill a whole window are dropped, as in PyTorch.
    """
    x, kernel, stride = _pool_args("max_pool2d", x, kernel_size, stride)
    (rows, cols), *rest = _offsets("max_pool2d", x, kernel, stride)
    out = x[..., rows, cols].copy()
    for rows, cols in rest:
        np.maximum(out, x[..., rows, cols], out=out)
    return out


def avg_pool2d(x, kernel_size=2, stride=None) -> np.ndarray:
    """Average pooling: the mean of each ``KH x KW`` window, channel by channel.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size : int or (int, int), default 2
        Window size.
    stride : int or (int, int), optional
        Step of the window; defaults to ``kernel_size``.

    Returns
    -------
    ndarray of shape (N, C, Ho, Wo)
        ``Ho = (H - KH) // sh + 1`` and ``Wo = (W - KW) // sw + 1``.
    """
    x, kernel, stride = _pool_args("avg_pool2d", x, kernel_size, stride)
    (rows, cols), *rest = _offsets("avg_pool2d", x, kernel, stride)
    out = x[..., rows, cols].copy()
    for rows, cols in rest:
        out += x[..., rows, cols]
    out /= kernel[0] * kernel[1]
    return out


# ------------------------------------------------------------------- dense layers


def flatten(x) -> np.ndarray:
    """Turn each example of a batch into one vector: ``(N, C, H, W) -> (N, C*H*W)``.

    The order is row-major (C order): channel by channel, row by row, as
    ``torch.flatten(x, 1)``.

    Parameters
    ----------
    x : ndarray of shape (N, ...)
        At least 2 dimensions; the first is the batch.

    Returns
    -------
    ndarray of shape (N, prod(rest))
        A view of ``x`` when its memory allows it, as with ``torch.flatten``:
        nothing is copied, and ``x`` itself is never changed.
    """
    x = as_float_array("flatten", "x", x)
    if x.ndim < 2:
        raise ValueError(
            f"flatten: x must have a batch axis and at least one more, e.g. (N, C, H, W), "
            f"got shape {x.shape}"
        )
    return x.reshape(x.shape[0], -1)


def dense(x, weight, bias=None) -> np.ndarray:
    """Fully connected layer: every output is a weighted sum of every input.

    ``out = x @ weight + bias``

    Parameters
    ----------
    x : ndarray of shape (N, in_features)
    weight : ndarray of shape (in_features, out_features)
    bias : ndarray of shape (out_features,), optional

    Returns
    -------
    ndarray of shape (N, out_features)
    """
    x = as_float_array("dense", "x", x, ndim=2, layout="(N, in_features)")
    weight = as_float_array("dense", "weight", weight, ndim=2, layout="(in_features, out_features)")
    if x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"dense: x has {x.shape[1]} features but weight expects {weight.shape[0]} "
            f"(x shape {x.shape}, weight shape {weight.shape}); flatten x first?"
        )
    out = x @ weight
    if bias is not None:
        bias = as_float_array("dense", "bias", bias, ndim=1, layout="(out_features,)")
        check_shape("dense", "bias", bias, (weight.shape[1],), "one value per output feature")
        out = out + bias
    return out


# ------------------------------------------------------------------- probabilities


def _axis(func: str, x: np.ndarray, axis) -> int:
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise TypeError(f"{func}: axis must be an int, got {describe(axis)}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{func}: axis {axis} is out of range for logits of shape {x.shape}")
    if x.shape[axis] == 0:
        raise ValueError(
            f"{func}: logits must hold at least one class along axis {axis}, got shape {x.shape}"
        )
    return int(axis)


def softmax(logits, axis=-1) -> np.ndarray:
    """Turn scores into probabilities that are positive and sum to 1 along ``axis``.

    ``softmax(z)_k = exp(z_k - max(z)) / sum_j exp(z_j - max(z))``

    Subtracting the maximum changes nothing mathematically but keeps ``exp``
    from overflowing, so logits of magnitude 1e4 are fine.

    Parameters
    ----------
    logits : ndarray of any shape, at least 1-D
    axis : int, default -1
        The axis of the classes.

    Returns
    -------
    ndarray of the same shape as ``logits``
    """
    z = as_float_array("softmax", "logits", logits)
    axis = _axis("softmax", z, axis)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(logits, axis=-1) -> np.ndarray:
    """Logarithm of :func:`softmax`, computed without ever taking ``log(0)``.

    ``log_softmax(z)_k = (z_k - max(z)) - log(sum_j exp(z_j - max(z)))``

    Parameters
    ----------
    logits : ndarray of any shape, at least 1-D
    axis : int, default -1

    Returns
    -------
    ndarray of the same shape as ``logits``
    """
    z = as_float_array("log_softmax", "logits", logits)
    axis = _axis("log_softmax", z, axis)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def cross_entropy(logits, labels) -> float:
    """Mean cross-entropy loss of a batch: how surprised the model is by the true labels.

    ``loss = -mean_n log(softmax(logits[n])[labels[n]])``

    Parameters
    ----------
    logits : ndarray of shape (N, K)
        Raw class scores, one row per example, one column per class.
    labels : ndarray of shape (N,)
        True class index of each example, an integer in ``[0, K)``.

    Returns
    -------
    float
        The mean loss; ``log(K)`` for uniform scores, 0 for a certain, right answer.
    """
    z = as_float_array("cross_entropy", "logits", logits, ndim=2, layout="(N, K)")
    labels = as_labels(
        "cross_entropy", labels, n=z.shape[0], num_classes=z.shape[1], per="row of logits"
    )
    if z.shape[0] == 0:
        raise ValueError("cross_entropy: logits must hold at least one example, got shape (0, K)")
    log_p = log_softmax(z, axis=1)
    return float(-log_p[np.arange(z.shape[0]), labels].mean())
