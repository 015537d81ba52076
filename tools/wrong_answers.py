"""Realistic wrong answers to the exercises, and what the checks tell a learner about them.

    .venv/bin/python tools/wrong_answers.py          # one line per wrong answer, then the share
    .venv/bin/python tools/wrong_answers.py -v       # also the lines of each message that help
    .venv/bin/python tools/wrong_answers.py --at d41d909   # the same, with an older commit's checks

Each wrong answer below is written the way a learner might write it (numpy
only, loops where a learner would loop), with one slip, most of them outside
the catalogue of mistakes the checks knew when this list was made. Each gets
one of these verdicts from the message of the visible check:

``named``
    a ``Likely mistake: ...`` (or ``Or: ...``) line names the slip that was
    made (``RIGHT_NAMES`` says what the name of each slip contains);
``misnamed``
    a line names a mistake, but another one than was made;
``clue``
    a ``Clue: ...`` line says what or where the difference is (the border,
    one channel, a constant factor, a transpose, the right values in the
    wrong order, ...);
``bare``
    only the case, the expected and the returned values (or a plain sentence
    about a wrong shape or type).

The share of wrong answers that get their mistake named or a clue is what
issue 13 part 4 measures; a second, held-out list was written after the
catalogues were extended, to see how the clues do on slips nobody listed.
``--at REV`` runs the same wrong answers against the checks of another
commit (``--at d41d909``: before the clues). A wrong answer that passes the
check is reported as ``PASSES`` (a weak check, or a bad entry).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab import checks


def pair(value):
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


# ------------------------------------------------------------- learners' building blocks


def gray(image, weights):
    dtype = image.dtype if image.dtype.kind == "f" else np.dtype(np.float64)
    r, g, b = (dtype.type(w) for w in weights)
    image = image.astype(dtype)
    return r * image[..., 0] + g * image[..., 1] + b * image[..., 2]


def slide(image, kernel, stride=1, padding=0, *, mode="constant", strides=None, kernel_fix=None):
    """A learner's correlate2d: pad, then loop over the window positions."""
    sh, sw = pair(stride) if strides is None else strides
    ph, pw = pair(padding)
    padded = np.pad(image, ((ph, ph), (pw, pw)), mode=mode)
    if kernel_fix is not None:
        kernel = kernel_fix(kernel)
    kh, kw = kernel.shape
    ho = (padded.shape[0] - kh) // sh + 1
    wo = (padded.shape[1] - kw) // sw + 1
    out = np.zeros((ho, wo), dtype=np.result_type(image, kernel))
    for i in range(ho):
        for j in range(wo):
            out[i, j] = np.sum(padded[i * sh : i * sh + kh, j * sw : j * sw + kw] * kernel)
    return out


def conv(x, weight, bias=None, stride=1, padding=0, *, kernel=None, add_bias=None, **slide_kw):
    """A learner's conv2d from their correlate2d; ``kernel(weight, f, c)`` picks a kernel."""
    n, c = x.shape[:2]
    f = weight.shape[0]
    maps = []
    for i in range(n):
        for k in range(f):
            total = sum(
                slide(
                    x[i, ch],
                    weight[k, ch] if kernel is None else kernel(weight, k, ch),
                    stride,
                    padding,
                    **slide_kw,
                )
                for ch in range(c)
            )
            if bias is not None and add_bias is None:
                total = total + bias[k]
            maps.append(total)
    ho, wo = maps[0].shape
    out = np.array(maps, dtype=np.result_type(x, weight)).reshape(n, f, ho, wo)
    if bias is not None and add_bias is not None:
        out = add_bias(out, bias)
    return out


def pool(x, kernel_size=2, stride=None, *, reduce=np.max, kernel_fix=None, stride_fix=None):
    kh, kw = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
    if kernel_fix is not None:
        kh, kw = kernel_fix(kh, kw)
    if stride_fix is not None:
        sh, sw = stride_fix(sh, sw, kh, kw, stride)
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return reduce(windows, axis=(4, 5)).astype(x.dtype)


def softmax_rows(z, axis=1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def max_pool_backward(dout, x, kernel_size=2, stride=None, *, offset=(True, True), stride_fix=None):
    """A learner's loop: argmax in each window, then dout to that pixel of dx."""
    kh, kw = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
    if stride_fix is not None:
        sh, sw = stride_fix(sh, sw, kh, kw)
    dx = np.zeros(x.shape, dtype=np.result_type(dout, x))
    for n, c, i, j in np.ndindex(dout.shape):
        window = x[n, c, i * sh : i * sh + kh, j * sw : j * sw + kw]
        r, s = divmod(int(np.argmax(window)), kw)
        row = r + (i * sh if offset[0] else 0)
        col = s + (j * sw if offset[1] else 0)
        dx[n, c, row, col] += dout[n, c, i, j]
    return dx


def conv_backward(
    dout, x, weight, stride=1, padding=0, *, dx_stride=True, dw_stride=True, crop="both"
):
    """A learner's loop over examples, filters and output positions."""
    dtype = np.result_type(dout, x, weight)
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    h, w = x.shape[2:]
    kh, kw = weight.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dxp = np.zeros(xp.shape, dtype=dtype)
    dweight = np.zeros(weight.shape, dtype=dtype)
    for n, k, i, j in np.ndindex(dout.shape):
        g = dout[n, k, i, j]
        top, left = (i * sh, j * sw) if dx_stride else (i, j)
        dxp[n, :, top : top + kh, left : left + kw] += g * weight[k]
        top, left = (i * sh, j * sw) if dw_stride else (i, j)
        dweight[k] += g * xp[n, :, top : top + kh, left : left + kw]
    dx = dxp[:, :, ph : ph + h, pw : pw + w] if crop == "both" else dxp[:, :, :h, :w]
    return dx, dweight, dout.sum(axis=(0, 2, 3)).astype(dtype)


def short_loop(out, axis=-1):
    """What a loop that stops one position short leaves: the last row or column still 0."""
    out = out.copy()
    index = [slice(None)] * out.ndim
    index[axis] = -1
    out[tuple(index)] = 0
    return out


def first_image_bias(out, bias):
    out = out.copy()
    out[0] += bias[:, None, None]
    return out


def shift_from_ones(images, dy, dx):
    out = np.ones_like(images)
    h, w = images.shape[2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    rows_in, rows_out = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    cols_in, cols_out = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[:, :, rows_out, cols_out] = images[:, :, rows_in, cols_in]
    return out


def confident(probabilities, labels, threshold=0.9, *, predicted=None):
    if predicted is None:
        predicted = probabilities.argmax(axis=1)
    return (predicted != labels) & (probabilities.max(axis=1) >= threshold)


# ------------------------------------------------------------------------- wrong answers


@dataclass
class Wrong:
    lesson: int
    what: str
    check: object
    fn: object


def _wrong_answers() -> list[Wrong]:
    R709 = (0.2126, 0.7152, 0.0722)

    def shift_cols_wrap(images, dy, dx):
        out = np.zeros_like(images)
        h = images.shape[2]
        moved = np.roll(images, dx, axis=3)
        if abs(dy) < h:
            rows_in = slice(max(0, -dy), h - max(0, dy))
            rows_out = slice(max(0, dy), h - max(0, -dy))
            out[:, :, rows_out] = moved[:, :, rows_in]
        return out

    def loss_eps(logits, labels):
        p = softmax_rows(logits.astype(np.float64))
        return float(-np.mean(np.log(p[np.arange(len(labels)), labels] + 1e-9)))

    def loss_rows(logits, labels):
        p = softmax_rows(logits.astype(np.float64))
        return float(-np.mean(np.log(p[labels])))

    def log_softmax_clipped(logits, axis=-1):
        return np.log(np.maximum(softmax_rows(logits, axis), 1e-12))

    def softmax_unshifted_sum(logits, axis=-1):
        top = logits.max(axis=axis, keepdims=True)
        return np.exp(logits - top) / np.exp(logits).sum(axis=axis, keepdims=True)

    def ce_backward_half(logits, labels):
        n, k = logits.shape
        return softmax_rows(logits) / n - np.eye(k, dtype=logits.dtype)[labels]

    def dense_backward_mean(dout, x, weight):
        n = len(x)
        return dout @ weight.T / n, x.T @ dout / n, dout.sum(axis=0) / n

    def dense_backward_keepdims(dout, x, weight):
        return dout @ weight.T, x.T @ dout, dout.sum(axis=0, keepdims=True)

    def template_grad_means(template, images, labels, scale=3.0):
        error = np.einsum("nij,ij->n", images, template) / scale - labels
        return 2 * error.mean() * images.mean(axis=0) / scale

    def grayscale_loop_bgr_first(image):
        return gray(image, (0.114, 0.587, 0.299))

    return [
        Wrong(
            0,
            "to_grayscale with the Rec. 709 (HDTV) weights",
            checks.check_to_grayscale,
            lambda image: gray(image, R709),
        ),
        Wrong(
            0,
            "to_grayscale with the weights rounded to 0.3, 0.59, 0.11",
            checks.check_to_grayscale,
            lambda image: gray(image, (0.3, 0.59, 0.11)),
        ),
        Wrong(
            0,
            "to_grayscale: the green channel only",
            checks.check_to_grayscale,
            lambda image: gray(image, (0.0, 1.0, 0.0)),
        ),
        Wrong(
            0,
            "to_grayscale: weights in BGR order",
            checks.check_to_grayscale,
            grayscale_loop_bgr_first,
        ),
        Wrong(
            0,
            "normalize: inverted, 1 - image / 255",
            checks.check_normalize,
            lambda image: 1 - image / 255,
        ),
        Wrong(
            1,
            "count_placements: (H - h + 1) ** 2",
            checks.check_count_placements,
            lambda a, b: (a[0] - b[0] + 1) ** 2,
        ),
        Wrong(
            1,
            "count_placements: the template's height used for both axes",
            checks.check_count_placements,
            lambda a, b: (a[0] - b[0] + 1) * (a[1] - b[0] + 1),
        ),
        Wrong(
            1,
            "match_score: the template transposed",
            checks.check_match_score,
            lambda image, template: float(np.sum(image * template.T)),
        ),
        Wrong(
            2,
            "output_size: rounded to the nearest",
            checks.check_output_size,
            lambda n, k, stride=1, padding=0: round((n + 2 * padding - k) / stride) + 1,
        ),
        Wrong(
            2,
            "correlate2d: np.pad(mode='edge')",
            checks.check_correlate2d,
            lambda image, kernel, stride=1, padding=0: slide(
                image, kernel, stride, padding, mode="edge"
            ),
        ),
        Wrong(
            2,
            "correlate2d: stride on the rows only",
            checks.check_correlate2d,
            lambda image, kernel, stride=1, padding=0: slide(
                image, kernel, stride, padding, strides=(pair(stride)[0], 1)
            ),
        ),
        Wrong(
            2,
            "correlate2d: the vertical stride used for both axes",
            checks.check_correlate2d,
            lambda image, kernel, stride=1, padding=0: slide(
                image, kernel, stride, padding, strides=(pair(stride)[0],) * 2
            ),
        ),
        Wrong(
            2,
            "correlate2d: the loop over rows stops one short (range(ho - 1))",
            checks.check_correlate2d,
            lambda image, kernel, stride=1, padding=0: short_loop(
                slide(image, kernel, stride, padding), axis=-2
            ),
        ),
        Wrong(
            2,
            "correlate2d: kernel flipped left-right only",
            checks.check_correlate2d,
            lambda image, kernel, stride=1, padding=0: slide(
                image, kernel, stride, padding, kernel_fix=lambda k: k[:, ::-1]
            ),
        ),
        Wrong(
            2,
            "conv2d: bias added along the rows (bias[:, None])",
            checks.check_conv2d,
            lambda x, weight, bias=None, stride=1, padding=0: conv(
                x, weight, bias, stride, padding, add_bias=lambda out, b: out + b[:, None]
            ),
        ),
        Wrong(
            2,
            "conv2d: the first channel's kernel used for every channel",
            checks.check_conv2d,
            lambda x, weight, bias=None, stride=1, padding=0: conv(
                x, weight, bias, stride, padding, kernel=lambda w, f, c: w[f, 0]
            ),
        ),
        Wrong(
            2,
            "conv2d: the bias added to the first image only",
            checks.check_conv2d,
            lambda x, weight, bias=None, stride=1, padding=0: conv(
                x, weight, bias, stride, padding, add_bias=first_image_bias
            ),
        ),
        Wrong(
            2,
            "conv2d: np.pad(mode='edge')",
            checks.check_conv2d,
            lambda x, weight, bias=None, stride=1, padding=0: conv(
                x, weight, bias, stride, padding, mode="edge"
            ),
        ),
        Wrong(
            2,
            "conv2d: result channels-last (N, Ho, Wo, F)",
            checks.check_conv2d,
            lambda x, weight, bias=None, stride=1, padding=0: conv(
                x, weight, bias, stride, padding
            ).transpose(0, 2, 3, 1),
        ),
        Wrong(
            2,
            "conv2d: stride on the columns only",
            checks.check_conv2d,
            lambda x, weight, bias=None, stride=1, padding=0: conv(
                x, weight, bias, stride, padding, strides=(1, pair(stride)[1])
            ),
        ),
        Wrong(
            3,
            "relu: leaky, 0.01 * x below 0",
            checks.check_relu,
            lambda x: np.where(x > 0, x, x.dtype.type(0.01) * x),
        ),
        Wrong(
            4,
            "max_pool2d: window height used for both sides",
            checks.check_max_pool2d,
            lambda x, kernel_size=2, stride=None: pool(
                x, kernel_size, stride, kernel_fix=lambda kh, kw: (kh, kh)
            ),
        ),
        Wrong(
            4,
            "max_pool2d: the vertical stride used for both axes",
            checks.check_max_pool2d,
            lambda x, kernel_size=2, stride=None: pool(
                x, kernel_size, stride, stride_fix=lambda sh, sw, kh, kw, s: (sh, sh)
            ),
        ),
        Wrong(
            4,
            "max_pool2d: the loop over columns stops one short (range(wo - 1))",
            checks.check_max_pool2d,
            lambda x, kernel_size=2, stride=None: short_loop(pool(x, kernel_size, stride)),
        ),
        Wrong(
            5,
            "flatten: each channel read column by column",
            checks.check_flatten,
            lambda x: (
                np.swapaxes(x, -1, -2).reshape(len(x), -1) if x.ndim > 2 else x.reshape(len(x), -1)
            ),
        ),
        Wrong(
            6,
            "softmax: the denominator not shifted by the maximum",
            checks.check_softmax,
            softmax_unshifted_sum,
        ),
        Wrong(
            6,
            "log_softmax: log of a clipped softmax",
            checks.check_log_softmax,
            log_softmax_clipped,
        ),
        Wrong(6, "cross_entropy: -log(p + 1e-9)", checks.check_cross_entropy, loss_eps),
        Wrong(6, "cross_entropy: p[labels] picks rows", checks.check_cross_entropy, loss_rows),
        Wrong(
            7,
            "template_loss_gradient: mean error times mean image",
            checks.check_template_loss_gradient,
            template_grad_means,
        ),
        Wrong(
            8,
            "relu_backward: leaky, 0.01 * dout below 0",
            checks.check_relu_backward,
            lambda dout, x: np.where(x > 0, dout, dout.dtype.type(0.01) * dout),
        ),
        Wrong(
            8,
            "relu_backward: dout times the sign of x",
            checks.check_relu_backward,
            lambda dout, x: dout * np.sign(x),
        ),
        Wrong(
            8,
            "max_pool2d_backward: the window offset forgotten",
            checks.check_max_pool2d_backward,
            lambda dout, x, kernel_size=2, stride=None: max_pool_backward(
                dout, x, kernel_size, stride, offset=(False, False)
            ),
        ),
        Wrong(
            8,
            "max_pool2d_backward: the column offset forgotten",
            checks.check_max_pool2d_backward,
            lambda dout, x, kernel_size=2, stride=None: max_pool_backward(
                dout, x, kernel_size, stride, offset=(True, False)
            ),
        ),
        Wrong(
            8,
            "max_pool2d_backward: stride taken as kernel_size always",
            checks.check_max_pool2d_backward,
            lambda dout, x, kernel_size=2, stride=None: max_pool_backward(
                dout, x, kernel_size, stride, stride_fix=lambda sh, sw, kh, kw: (kh, kw)
            ),
        ),
        Wrong(
            8,
            "dense_backward: every gradient divided by N",
            checks.check_dense_backward,
            dense_backward_mean,
        ),
        Wrong(
            8,
            "dense_backward: dbias with keepdims=True",
            checks.check_dense_backward,
            dense_backward_keepdims,
        ),
        Wrong(
            8,
            "cross_entropy_backward: only the probabilities divided by N",
            checks.check_cross_entropy_backward,
            ce_backward_half,
        ),
        Wrong(
            8,
            "conv2d_backward: stride forgotten in dx",
            checks.check_conv2d_backward,
            lambda dout, x, weight, stride=1, padding=0: conv_backward(
                dout, x, weight, stride, padding, dx_stride=False
            ),
        ),
        Wrong(
            8,
            "conv2d_backward: stride forgotten in dweight",
            checks.check_conv2d_backward,
            lambda dout, x, weight, stride=1, padding=0: conv_backward(
                dout, x, weight, stride, padding, dw_stride=False
            ),
        ),
        Wrong(
            8,
            "conv2d_backward: padding cut off one side of dx only",
            checks.check_conv2d_backward,
            lambda dout, x, weight, stride=1, padding=0: conv_backward(
                dout, x, weight, stride, padding, crop="one side"
            ),
        ),
        Wrong(10, "shift: wrap-around in the columns only", checks.check_shift, shift_cols_wrap),
        Wrong(10, "shift: started from np.ones_like", checks.check_shift, shift_from_ones),
        Wrong(
            10,
            "confident_mistakes: argmax without axis=1",
            checks.check_confident_mistakes,
            lambda p, labels, threshold=0.9: np.flatnonzero(
                confident(p, labels, threshold, predicted=p.argmax())
            ),
        ),
        Wrong(
            10,
            "confident_mistakes: np.argwhere(mask)",
            checks.check_confident_mistakes,
            lambda p, labels, threshold=0.9: np.argwhere(confident(p, labels, threshold)),
        ),
        Wrong(
            10,
            "confident_mistakes: > threshold on the wrong ones, < on the right ones",
            checks.check_confident_mistakes,
            lambda p, labels, threshold=0.9: np.flatnonzero(
                (p.argmax(axis=1) != labels) ^ (p.max(axis=1) < threshold)
            ),
        ),
    ]


def _held_out() -> list[Wrong]:
    """Wrong answers written after the catalogues were extended, and not used to extend them.

    They show how the checks do on slips nobody listed: a clue, a name that
    happens to fit, or nothing.
    """

    def windows_by_kernel_height(image, kernel, stride=1, padding=0):
        kh = kernel.shape[0]  # the window's width taken from the kernel's height
        return slide(image, kernel, stride, padding, kernel_fix=lambda k: k[:, :kh])

    def relu_backward_both(dout, x):
        return dout * (x > 0) * (dout > 0)

    def label_probability(p, labels, threshold=0.9):
        sure = p[np.arange(len(labels)), labels] >= threshold
        return np.flatnonzero((p.argmax(axis=1) != labels) & sure)

    def dbias_over_rows_and_columns(dout, x, weight, stride=1, padding=0):
        dx, dweight, _ = conv_backward(dout, x, weight, stride, padding)
        return dx, dweight, dout.sum(axis=(0, 1, 2))

    def gradient_label_minus_prediction(template, images, labels, scale=3.0):
        error = labels - np.einsum("nij,ij->n", images, template) / scale
        return np.tensordot(error, images, axes=(0, 0)) / scale / len(images)

    return [
        Wrong(
            1,
            "match_score: divided by 3, the score of a match",
            checks.check_match_score,
            lambda image, template: float(np.sum(image * template)) / 3,
        ),
        Wrong(
            2,
            "correlate2d: the window's width taken from the kernel's height",
            checks.check_correlate2d,
            windows_by_kernel_height,
        ),
        Wrong(
            2,
            "conv2d: the bias added twice",
            checks.check_conv2d,
            lambda x, weight, bias=None, stride=1, padding=0: conv(
                x, weight, bias, stride, padding, add_bias=lambda out, b: out + 2 * b[:, None, None]
            ),
        ),
        Wrong(
            5,
            "flatten: each example read backwards",
            checks.check_flatten,
            lambda x: x.reshape(len(x), -1)[:, ::-1],
        ),
        Wrong(
            7,
            "template_loss_gradient: label - prediction, and the 2 forgotten",
            checks.check_template_loss_gradient,
            gradient_label_minus_prediction,
        ),
        Wrong(
            7,
            "sgd_step: a step of lr in the direction of the gradient's sign",
            checks.check_sgd_step,
            lambda params, grad, lr: params - lr * np.sign(grad),
        ),
        Wrong(
            8,
            "relu_backward: dout also clamped at 0",
            checks.check_relu_backward,
            relu_backward_both,
        ),
        Wrong(
            8,
            "dense_backward: dx halved",
            checks.check_dense_backward,
            lambda dout, x, weight: (dout @ weight.T / 2, x.T @ dout, dout.sum(axis=0)),
        ),
        Wrong(
            8,
            "conv2d_backward: dbias summed over the wrong axes",
            checks.check_conv2d_backward,
            dbias_over_rows_and_columns,
        ),
        Wrong(
            8,
            "max_pool2d_backward: dout spread over the window's maxima of the whole map",
            checks.check_max_pool2d_backward,
            lambda dout, x, kernel_size=2, stride=None: np.where(
                x == x.max(axis=(2, 3), keepdims=True), dout.sum(axis=(2, 3), keepdims=True), 0
            ),
        ),
        Wrong(
            10,
            "confident_mistakes: the label's probability compared with the threshold",
            checks.check_confident_mistakes,
            label_probability,
        ),
        Wrong(
            10,
            "shift: moved one row too few (dy - 1)",
            checks.check_shift,
            lambda images, dy, dx: _shift(images, dy - 1, dx),
        ),
    ]


def _shift(images, dy, dx):
    """shift written out in numpy (so that the check does not refuse it as cnnlab's)."""
    out = np.zeros_like(images)
    height, width = images.shape[-2:]
    rows = slice(max(dy, 0), height + min(dy, 0))
    cols = slice(max(dx, 0), width + min(dx, 0))
    source_rows = slice(max(-dy, 0), height + min(-dy, 0))
    source_cols = slice(max(-dx, 0), width + min(-dx, 0))
    out[..., rows, cols] = images[..., source_rows, source_cols]
    return out


# ---------------------------------------------------------------------------- verdicts


#: What a message that names the slip right says (in its "Likely mistake:" or "Or:"
#: line); an answer not listed here has no name in any catalogue, only clues.
RIGHT_NAMES = {
    "to_grayscale with the Rec. 709 (HDTV) weights": ("HDTV",),
    "to_grayscale with the weights rounded to 0.3, 0.59, 0.11": ("weights rounded",),
    "to_grayscale: the green channel only": ("one channel taken",),
    "to_grayscale: weights in BGR order": ("BGR",),
    "count_placements: (H - h + 1) ** 2": ("squared",),
    "count_placements: the template's height used for both axes": ("one side of the template",),
    "match_score: the template transposed": ("template transposed",),
    "output_size: rounded to the nearest": ("rounded up",),  # 8/3 rounds up on that case
    "correlate2d: np.pad(mode='edge')": ("copies of the border",),
    "correlate2d: stride on the rows only": ("one axis only",),
    "correlate2d: the vertical stride used for both axes": ("one stride used for both",),
    "correlate2d: kernel flipped left-right only": ("flipped along one axis",),
    "conv2d: bias added along the rows (bias[:, None])": ("bias added along the wrong axis",),
    "conv2d: the first channel's kernel used for every channel": ("one channel's kernel",),
    "conv2d: np.pad(mode='edge')": ("copies of the border",),
    "conv2d: stride on the columns only": ("one axis only",),
    "relu: leaky, 0.01 * x below 0": ("leaky",),
    "max_pool2d: window height used for both sides": ("one side of the window",),
    # on the failing case, stride (1, 2) became (1, 1): that is "stride ignored" too
    "max_pool2d: the vertical stride used for both axes": ("one stride", "stride ignored"),
    "flatten: each channel read column by column": ("each map read column by column",),
    "softmax: the denominator not shifted by the maximum": ("one place only",),
    "log_softmax: log of a clipped softmax": ("kept away from 0",),
    "cross_entropy: -log(p + 1e-9)": ("kept away from 0",),
    "cross_entropy: p[labels] picks rows": ("[labels]",),
    "template_loss_gradient: mean error times mean image": ("averaged separately",),
    "relu_backward: leaky, 0.01 * dout below 0": ("leaks",),
    "relu_backward: dout times the sign of x": ("sign of x",),
    "max_pool2d_backward: the window offset forgotten": ("position not added",),
    "max_pool2d_backward: the column offset forgotten": ("one axis only",),
    "max_pool2d_backward: stride taken as kernel_size always": ("stepped by kernel_size",),
    "dense_backward: every gradient divided by N": ("every gradient divided",),
    "dense_backward: dbias with keepdims=True": ("keepdims",),
    "cross_entropy_backward: only the probabilities divided by N": ("only part of the gradient",),
    "conv2d_backward: stride forgotten in dx": ("stride forgotten in dx",),
    "conv2d_backward: stride forgotten in dweight": ("stride forgotten in dweight",),
    "conv2d_backward: padding cut off one side of dx only": ("one side only",),
    "shift: wrap-around in the columns only": ("wrap-around",),
    # argmax over the whole array: the "predictions" are nonsense, and right ones slip in
    "confident_mistakes: argmax without axis=1": ("correct predictions included",),
    "confident_mistakes: np.argwhere(mask)": ("argwhere",),
}


def verdict(wrong: Wrong, message: str) -> str:
    """named (the slip itself), misnamed (another mistake's name), clue or bare."""
    names = [line for line in message.splitlines() if line.startswith(("Likely mistake:", "Or:"))]
    if names:
        right = RIGHT_NAMES.get(wrong.what, ())
        return "named" if any(p in line for p in right for line in names) else "misnamed"
    if "Clue:" in message:
        return "clue"
    return "bare"


def message_of(wrong: Wrong) -> str | None:
    try:
        with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
            wrong.check(wrong.fn)
    except AssertionError as error:
        return str(error)
    return None


def at_revision(revision: str, argv: list[str]) -> int:
    """Run this script against the cnnlab of another commit (its checks, its messages)."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as scratch:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", revision, "cnnlab"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", scratch], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": scratch}
        print(f"cnnlab as of {revision}:", flush=True)
        return subprocess.run([sys.executable, __file__, *argv], env=env, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="show what helped")
    parser.add_argument("--at", metavar="REV", help="use the checks of this git revision")
    args = parser.parse_args()
    if args.at:
        return at_revision(args.at, ["-v"] if args.verbose else [])
    status = 0
    for title, wrongs in [
        ("the wrong answers of issue 13 and more", _wrong_answers()),
        ("held out: written after the catalogues were extended", _held_out()),
    ]:
        print(f"{title}:")
        status |= _report(wrongs, args.verbose)
        print()
    return status


def _report(wrongs: list[Wrong], verbose: bool) -> int:
    counts = dict.fromkeys(["named", "misnamed", "clue", "bare", "PASSES"], 0)
    misnamed_with_clue = 0
    for wrong in wrongs:
        message = message_of(wrong)
        kind = "PASSES" if message is None else verdict(wrong, message)
        counts[kind] += 1
        misnamed_with_clue += kind == "misnamed" and "Clue:" in message
        print(f"L{wrong.lesson:<3}{kind:<9}{wrong.what}")
        if verbose and message is not None:
            lines = message.splitlines()
            helpful = ("Likely", "Hint", "Clue", "Or:", "Also:")
            shown = [line for line in lines if line.startswith(helpful)]
            for line in [lines[0], *shown]:
                print(f"{'':12}{line}")
    total = len(wrongs)
    helped = counts["named"] + counts["clue"]
    print(
        f"{total} wrong answers: {counts['named']} named, {counts['misnamed']} given another "
        f"mistake's name ({misnamed_with_clue} of them with a clue too), {counts['clue']} "
        f"with a clue only, {counts['bare']} bare, {counts['PASSES']} passing."
    )
    print(f"named right or located by a clue: {helped}/{total} = {helped / total:.0%}")
    anything = helped + counts["misnamed"]
    print(f"any name or clue:                 {anything}/{total} = {anything / total:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
