"""The obvious nested-loop versions of cnnlab's ops: slow, plain, obviously right.

Each function here has the same name and signature as its counterpart in
:mod:`cnnlab.ops` or :mod:`cnnlab.grads`, so any test (or check) can use this
module as a second, independent answer. Nothing here validates its arguments:
give it what the real op accepts.

Every sum is accumulated in float64 and the result is returned in the dtype
the contract asks for: a float input keeps its dtype, an integer one gives
float64.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv2d",
    "conv2d_backward",
    "correlate2d",
    "cross_entropy",
    "cross_entropy_backward",
    "dense",
    "dense_backward",
    "flatten",
    "log_softmax",
    "max_pool2d",
    "max_pool2d_backward",
    "output_size",
    "relu",
    "relu_backward",
    "softmax",
]


# -------------------------------------------------------------------------- helpers


def _dtype(*arrays) -> np.dtype:
    """The dtype of a result computed from ``arrays``: floats kept, integers -> float64."""
    kinds = []
    for a in arrays:
        if a is None:
            continue
        a = np.asarray(a)
        kinds.append(a.dtype if a.dtype.kind == "f" else np.dtype(np.float64))
    return np.result_type(*kinds)


def _pair(value) -> tuple[int, int]:
    if isinstance(value, tuple | list):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _pad(image: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """A copy of a 2-D image with ``ph`` rows of zeros above and below, ``pw`` columns each side."""
    ph, pw = padding
    height, width = image.shape
    padded = np.zeros((height + 2 * ph, width + 2 * pw))
    for i in range(height):
        for j in range(width):
            padded[i + ph, j + pw] = image[i, j]
    return padded


def output_size(size, kernel_size, stride=1, padding=0) -> int:
    """Count the window positions one by one instead of using the formula."""
    count = 0
    start = 0
    while start + kernel_size <= size + 2 * padding:
        count += 1
        start += stride
    return count


# ---------------------------------------------------------------------- convolution


def correlate2d(image, kernel, stride=1, padding=0) -> np.ndarray:
    """out[i, j] = sum of the (padded) window at (i*sh, j*sw) times the kernel."""
    dtype = _dtype(image, kernel)
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    kh, kw = kernel.shape
    padded = _pad(image, (ph, pw))
    ho = output_size(image.shape[0], kh, sh, ph)
    wo = output_size(image.shape[1], kw, sw, pw)
    out = np.zeros((ho, wo))
    for i in range(ho):
        for j in range(wo):
            window = padded[i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[i, j] = np.sum(window * kernel)
    return out.astype(dtype)


def conv2d(x, weight, bias=None, stride=1, padding=0) -> np.ndarray:
    """out[n, f] = bias[f] + sum over c of correlate2d(x[n, c], weight[f, c])."""
    dtype = _dtype(x, weight, bias)
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    n_images, channels = x.shape[:2]
    n_filters = weight.shape[0]
    maps = []
    for n in range(n_images):
        for f in range(n_filters):
            total = 0.0 if bias is None else float(bias[f])
            for c in range(channels):
                total = total + correlate2d(x[n, c], weight[f, c], stride, padding)
            maps.append(total)
    ho, wo = maps[0].shape
    return np.array(maps).reshape(n_images, n_filters, ho, wo).astype(dtype)


# ------------------------------------------------------------------------ activation


def relu(x) -> np.ndarray:
    dtype = _dtype(x)
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        out[index] = x[index] if x[index] > 0 else 0.0
    return out.astype(dtype)


# --------------------------------------------------------------------------- pooling


def _pool(x, kernel_size, stride, reduce) -> np.ndarray:
    dtype = _dtype(x)
    x = np.asarray(x, dtype=np.float64)
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    n_images, channels, height, width = x.shape
    ho = output_size(height, kh, sh)
    wo = output_size(width, kw, sw)
    out = np.zeros((n_images, channels, ho, wo))
    for n in range(n_images):
        for c in range(channels):
            for i in range(ho):
                for j in range(wo):
                    window = [
                        x[n, c, i * sh + ki, j * sw + kj] for ki in range(kh) for kj in range(kw)
                    ]
                    out[n, c, i, j] = reduce(window)
    return out.astype(dtype)


def max_pool2d(x, kernel_size=2, stride=None) -> np.ndarray:
    return _pool(x, kernel_size, stride, max)


def avg_pool2d(x, kernel_size=2, stride=None) -> np.ndarray:
    return _pool(x, kernel_size, stride, lambda window: sum(window) / len(window))


# ------------------------------------------------------------------- dense layers


def flatten(x) -> np.ndarray:
    """Read each example's values in row-major order into one row."""
    dtype = _dtype(x)
    x = np.asarray(x)
    rows = []
    for n in range(x.shape[0]):
        rows.append([x[n][index] for index in np.ndindex(x.shape[1:])])
    return np.array(rows, dtype=np.float64).reshape(x.shape[0], -1).astype(dtype)


def dense(x, weight, bias=None) -> np.ndarray:
    """out[n, o] = bias[o] + sum over i of x[n, i] * weight[i, o]."""
    dtype = _dtype(x, weight, bias)
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    n_rows, n_in = x.shape
    n_out = weight.shape[1]
    out = np.zeros((n_rows, n_out))
    for n in range(n_rows):
        for o in range(n_out):
            total = 0.0 if bias is None else float(bias[o])
            for i in range(n_in):
                total += x[n, i] * weight[i, o]
            out[n, o] = total
    return out.astype(dtype)


# ------------------------------------------------------------------- probabilities


def _rows(logits, axis, per_row) -> np.ndarray:
    """Apply ``per_row`` (a 1-D float64 array -> same-length array) along ``axis``."""
    dtype = _dtype(logits)
    z = np.moveaxis(np.asarray(logits, dtype=np.float64), axis, -1)
    out = np.zeros(z.shape)
    for index in np.ndindex(z.shape[:-1]):
        out[index] = per_row(z[index])
    return np.moveaxis(out, -1, axis).astype(dtype)


def _log_softmax_row(row: np.ndarray) -> np.ndarray:
    biggest = max(row)
    log_total = np.log(sum(np.exp(v - biggest) for v in row))
    return np.array([v - biggest - log_total for v in row])


def softmax(logits, axis=-1) -> np.ndarray:
    return _rows(logits, axis, lambda row: np.exp(_log_softmax_row(row)))


def log_softmax(logits, axis=-1) -> np.ndarray:
    return _rows(logits, axis, _log_softmax_row)


def cross_entropy(logits, labels) -> float:
    """Mean over the rows of -log(probability of the true class)."""
    z = np.asarray(logits, dtype=np.float64)
    losses = [-_log_softmax_row(z[n])[int(labels[n])] for n in range(z.shape[0])]
    return float(sum(losses) / len(losses))


# -------------------------------------------------------------------------- backward


def relu_backward(dout, x) -> np.ndarray:
    dtype = _dtype(dout, x)
    x = np.asarray(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    dx = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        dx[index] = dout[index] if x[index] > 0 else 0.0
    return dx.astype(dtype)


def max_pool2d_backward(dout, x, kernel_size=2, stride=None) -> np.ndarray:
    """Each window's gradient goes to its first maximum in row-major order."""
    dtype = _dtype(dout, x)
    x = np.asarray(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    n_images, channels, ho, wo = dout.shape
    dx = np.zeros(x.shape)
    for n in range(n_images):
        for c in range(channels):
            for i in range(ho):
                for j in range(wo):
                    best = (i * sh, j * sw)
                    for ki in range(kh):
                        for kj in range(kw):
                            r, s = i * sh + ki, j * sw + kj
                            if x[n, c, r, s] > x[n, c, best[0], best[1]]:
                                best = (r, s)
                    dx[n, c, best[0], best[1]] += dout[n, c, i, j]
    return dx.astype(dtype)


def avg_pool2d_backward(dout, x, kernel_size=2, stride=None) -> np.ndarray:
    """Each window shares its gradient equally among its KH * KW inputs."""
    dtype = _dtype(dout, x)
    x = np.asarray(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    n_images, channels, ho, wo = dout.shape
    dx = np.zeros(x.shape)
    for n in range(n_images):
        for c in range(channels):
            for i in range(ho):
                for j in range(wo):
                    for ki in range(kh):
                        for kj in range(kw):
                            dx[n, c, i * sh + ki, j * sw + kj] += dout[n, c, i, j] / (kh * kw)
    return dx.astype(dtype)


def conv2d_backward(dout, x, weight, stride=1, padding=0):
    """Accumulate, window by window, what each output value owes its inputs.

    out[n, f, i, j] = bias[f] + sum over c, ki, kj of
    x_padded[n, c, i*sh + ki, j*sw + kj] * weight[f, c, ki, kj], so each output
    value passes dout * weight to the pixels of its window, dout * pixel to the
    weights, and dout to the bias.
    """
    dtype = _dtype(dout, x, weight)
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    n_images, channels, height, width = x.shape
    n_filters, _, kh, kw = weight.shape
    ho, wo = dout.shape[2:]
    x_padded = np.zeros((n_images, channels, height + 2 * ph, width + 2 * pw))
    x_padded[:, :, ph : ph + height, pw : pw + width] = x
    dx_padded = np.zeros(x_padded.shape)
    dweight = np.zeros(weight.shape)
    dbias = np.zeros(n_filters)
    for n in range(n_images):
        for f in range(n_filters):
            for i in range(ho):
                for j in range(wo):
                    g = dout[n, f, i, j]
                    rows = slice(i * sh, i * sh + kh)
                    cols = slice(j * sw, j * sw + kw)
                    for c in range(channels):
                        dx_padded[n, c, rows, cols] += g * weight[f, c]
                        dweight[f, c] += g * x_padded[n, c, rows, cols]
                    dbias[f] += g
    dx = dx_padded[:, :, ph : ph + height, pw : pw + width]
    return dx.astype(dtype), dweight.astype(dtype), dbias.astype(dtype)


def dense_backward(dout, x, weight):
    dtype = _dtype(dout, x, weight)
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    n_rows, n_in = x.shape
    n_out = weight.shape[1]
    dx = np.zeros(x.shape)
    dweight = np.zeros(weight.shape)
    dbias = np.zeros(n_out)
    for n in range(n_rows):
        for o in range(n_out):
            dbias[o] += dout[n, o]
            for i in range(n_in):
                dx[n, i] += dout[n, o] * weight[i, o]
                dweight[i, o] += dout[n, o] * x[n, i]
    return dx.astype(dtype), dweight.astype(dtype), dbias.astype(dtype)


def cross_entropy_backward(logits, labels) -> np.ndarray:
    """dlogits[n, k] = (p[n, k] - [k is the label of row n]) / N, for the mean loss."""
    dtype = _dtype(logits)
    z = np.asarray(logits, dtype=np.float64)
    n_rows, n_classes = z.shape
    grad = np.zeros(z.shape)
    for n in range(n_rows):
        p = np.exp(_log_softmax_row(z[n]))
        for k in range(n_classes):
            target = 1.0 if k == int(labels[n]) else 0.0
            grad[n, k] = (p[k] - target) / n_rows
    return grad.astype(dtype)
