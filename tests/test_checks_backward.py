"""Checks of the backward ops: right gradients pass, the classic backprop mistakes are named."""

import functools

import numpy as np
import oracle
import pytest
from check_messages import names_mistake
from numpy.lib.stride_tricks import sliding_window_view

import cnnlab
from cnnlab import checks


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def message_of(check, fn, thorough=False) -> str:
    with pytest.raises(AssertionError) as info:
        check(fn, thorough=thorough)
    return str(info.value)


# ----------------------------------------------------------------------- learners


def add_at_max_pool2d_backward(dout, x, kernel_size=2, stride=None):
    """argmax over strided windows, then np.add.at (which adds up repeated indices)."""
    kh, kw = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    n, c, ho, wo = windows.shape[:4]
    best = windows.reshape(n, c, ho, wo, kh * kw).argmax(axis=-1)
    rows = np.arange(ho)[:, None] * sh + best // kw
    cols = np.arange(wo)[None, :] * sw + best % kw
    images = np.arange(n)[:, None, None, None]
    channels = np.arange(c)[None, :, None, None]
    dx = np.zeros(x.shape, dtype=np.result_type(dout, x))
    np.add.at(dx, (images, channels, rows, cols), dout)
    return dx


def loop_pool_backward(dout, x, kernel_size=2, stride=None, bug=None, average=False):
    """A learner's loop over the windows, for max (or average) pooling, with one optional bug."""
    kh, kw = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
    if (bug == "default stride 1" and stride is None) or (bug == "stride 1" and stride):
        sh = sw = 1
    if bug == "kernel stride":
        sh, sw = kh, kw
    dx = np.zeros(x.shape, dtype=np.result_type(dout, x))
    for n, c, i, j in np.ndindex(dout.shape):
        top, left = (0, 0) if bug == "no offset" else (i * sh, j * sw)
        window = x[n, c, top : top + kh, left : left + kw]
        if bug == "offset not added":  # the right window, written at the corner of dx
            top, left = 0, 0
        if bug == "column offset not added":
            left = 0
        region = dx[n, c, top : top + kh, left : left + kw]
        g = 1.0 if bug == "upstream" else dout[n, c, i, j]
        if average or bug == "average":
            share = g / {"no division": 1, "height only": kh}.get(bug, kh * kw)
            if bug == "overwrite":
                region[...] = share
            else:
                region += share
        elif bug == "whole window":
            region += g
        elif bug == "all tied":
            region[window == window.max()] += g
        else:
            flat = window.ravel()
            if bug == "min":
                k = np.argmin(flat)
            elif bug == "last tied":
                k = flat.size - 1 - np.argmax(flat[::-1])
            else:
                k = np.argmax(flat)
            r, s = divmod(int(k), kw)
            if bug == "overwrite":
                region[r, s] = g
            else:
                region[r, s] += g
    return -dx if bug == "sign" else dx


def einsum_dense_backward(dout, x, weight):
    return (
        np.einsum("no,io->ni", dout, weight),
        np.einsum("ni,no->io", x, dout),
        np.einsum("no->o", dout),
    )


def softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def one_hot_cross_entropy_backward(logits, labels):
    one_hot = np.eye(logits.shape[1], dtype=logits.dtype)[labels]
    return (softmax_rows(logits) - one_hot) / len(labels)


def conv2d_backward_via_conv2d(dout, x, weight, stride=1, padding=0):
    """dx as a full convolution with the flipped kernel, dweight as a correlation of x with dout.

    Uses cnnlab.conv2d, which thorough mode allows here; only conv2d_backward is forbidden.
    """
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    ho, wo = dout.shape[2:]
    spread = np.zeros((n, f, (ho - 1) * sh + 1, (wo - 1) * sw + 1), dtype=dout.dtype)
    spread[:, :, ::sh, ::sw] = dout  # dout with stride - 1 zeros between its values
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, KH, KW)
    full = cnnlab.conv2d(spread, flipped, padding=(kh - 1, kw - 1))
    dx_padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=full.dtype)
    dx_padded[:, :, : full.shape[2], : full.shape[3]] = full
    dx = dx_padded[:, :, ph : ph + h, pw : pw + w]
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    per_channel = cnnlab.conv2d(x_padded.transpose(1, 0, 2, 3), spread.transpose(1, 0, 2, 3))
    dweight = per_channel[:, :, :kh, :kw].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx), np.ascontiguousarray(dweight), dout.sum(axis=(0, 2, 3))


def loop_conv2d_backward(dout, x, weight, stride=1, padding=0, bug=None):
    """A learner's loop over examples, filters and output positions, with one optional bug."""
    dtype = np.result_type(dout, x, weight)
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    n_images, _, h, w = x.shape
    n_filters, _, kh, kw = weight.shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dx_padded = np.zeros(x_padded.shape, dtype=dtype)
    dweight = np.zeros(weight.shape, dtype=dtype)
    dbias = np.zeros(n_filters, dtype=dtype)
    for n, f, i, j in np.ndindex(dout.shape):
        g = 1.0 if bug == "upstream" else dout[n, f, i, j]
        rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
        kernel = weight[f, :, ::-1, ::-1] if bug == "flip dx" else weight[f]
        if bug == "dx stride":
            dx_padded[n, :, i : i + kh, j : j + kw] += g * kernel
        elif bug == "overwrite dx":
            dx_padded[n, :, rows, cols] = g * kernel
        elif bug != "dx first filter" or f == 0:
            dx_padded[n, :, rows, cols] += g * kernel
        if bug == "dweight stride":
            dweight[f] += g * x_padded[n, :, i : i + kh, j : j + kw]
        elif bug != "dweight first example" or n == 0:
            dweight[f] += g * x_padded[n, :, rows, cols]
        if bug != "dbias first example" or n == 0:
            dbias[f] += g
    if bug == "dweight mean":
        dweight /= n_images
    if bug == "dbias mean":
        dbias /= n_images
    if bug == "flip dweight":
        dweight = dweight[:, :, ::-1, ::-1]
    dx = dx_padded if bug == "keep padding" else dx_padded[:, :, ph : ph + h, pw : pw + w]
    if bug == "one-sided cut":
        dx = dx_padded[:, :, :h, :w]
    if bug == "order":
        return dweight, dx, dbias
    if bug == "all over N":
        return dx / n_images, dweight / n_images, dbias / n_images
    return dx, dweight, dbias


# ---------------------------------------------------------------- right answers pass

RIGHT_ANSWERS = [
    (checks.check_relu_backward, lambda dout, x: dout * (x > 0)),
    (checks.check_relu_backward, oracle.relu_backward),
    (checks.check_max_pool2d_backward, add_at_max_pool2d_backward),
    (checks.check_max_pool2d_backward, loop_pool_backward),
    (checks.check_max_pool2d_backward, oracle.max_pool2d_backward),
    (checks.check_avg_pool2d_backward, functools.partial(loop_pool_backward, average=True)),
    (checks.check_avg_pool2d_backward, oracle.avg_pool2d_backward),
    (checks.check_dense_backward, einsum_dense_backward),
    (checks.check_dense_backward, oracle.dense_backward),
    (checks.check_cross_entropy_backward, one_hot_cross_entropy_backward),
    (checks.check_cross_entropy_backward, oracle.cross_entropy_backward),
    (checks.check_conv2d_backward, conv2d_backward_via_conv2d),
    (checks.check_conv2d_backward, loop_conv2d_backward),
    (checks.check_conv2d_backward, oracle.conv2d_backward),
]


@pytest.mark.parametrize(("check", "fn"), RIGHT_ANSWERS)
def test_a_right_answer_written_differently_passes(check, fn, capsys):
    check(fn)
    check(fn, thorough=True)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].endswith("checks passed") and out[1].endswith("checks passed (thorough)")


# ------------------------------------------------------------- known mistakes named


def pool_bug(bug, average=False):
    return functools.partial(loop_pool_backward, bug=bug, average=average)


def conv_bug(bug):
    return functools.partial(loop_conv2d_backward, bug=bug)


def dense_grads(dout, x, weight):
    return dout @ weight.T, x.T @ dout, dout.sum(axis=0)


def with_part(index, make):
    """dense_backward with one of its three gradients replaced."""

    def wrong(dout, x, weight):
        grads = list(dense_grads(dout, x, weight))
        grads[index] = make(dout, x, weight)
        return tuple(grads)

    return wrong


def ce_grad(logits, labels, *, probabilities=None, scale=None, subtract=None):
    n, k = logits.shape
    p = softmax_rows(logits) if probabilities is None else probabilities(logits)
    one_hot = np.eye(k)[labels]
    if subtract is not None:
        one_hot = subtract(p, labels)
    return (p - one_hot) / (n if scale is None else scale(n, k))


def columns_one_hot(p, labels):
    wrong = np.zeros_like(p)
    wrong[:, labels] = 1
    return wrong


def naive_softmax_rows(z):
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


MISTAKES = [
    (checks.check_relu_backward, lambda dout, x: (x > 0) * 1.0, "upstream gradient ignored"),
    (
        checks.check_relu_backward,
        lambda dout, x: dout * (x >= 0),
        "the gradient passes at x == 0 too",
    ),
    (
        checks.check_relu_backward,
        lambda dout, x: np.maximum(dout, 0),
        "the mask built from dout instead of x",
    ),
    (checks.check_relu_backward, lambda dout, x: x * (dout > 0), "dout and x swapped"),
    (checks.check_relu_backward, lambda dout, x: np.maximum(x, 0), "relu(x) returned"),
    (checks.check_relu_backward, lambda dout, x: dout * x * (x > 0), "multiplied by x"),
    (checks.check_relu_backward, lambda dout, x: dout * (x < 0), "mask inverted"),
    (checks.check_relu_backward, lambda dout, x: dout.copy(), "dout returned unchanged"),
    (checks.check_relu_backward, lambda dout, x: -dout * (x > 0), "wrong sign"),
    (checks.check_max_pool2d_backward, pool_bug("upstream"), "upstream gradient ignored"),
    (
        checks.check_max_pool2d_backward,
        pool_bug("whole window"),
        "gradient sent to every element of the window",
    ),
    (checks.check_max_pool2d_backward, pool_bug("average"), "average pooling's gradient"),
    (
        checks.check_max_pool2d_backward,
        pool_bug("all tied"),
        "gradient given to every tied maximum",
    ),
    (
        checks.check_max_pool2d_backward,
        pool_bug("last tied"),
        "gradient given to the last of the tied maxima",
    ),
    (
        checks.check_max_pool2d_backward,
        pool_bug("overwrite"),
        "overlapping windows overwrite each other",
    ),
    (checks.check_max_pool2d_backward, pool_bug("no offset"), "the window's position not added"),
    (
        checks.check_max_pool2d_backward,
        pool_bug("stride 1"),
        "stride ignored (windows one pixel apart)",
    ),
    (checks.check_max_pool2d_backward, pool_bug("min"), "gradient sent to the minimum"),
    (checks.check_max_pool2d_backward, pool_bug("sign"), "wrong sign"),
    (
        checks.check_max_pool2d_backward,
        lambda dout, x, kernel_size=2, stride=None: dout.copy(),
        "dx has the shape of dout",
    ),
    (checks.check_avg_pool2d_backward, pool_bug("upstream", True), "upstream gradient ignored"),
    (
        checks.check_avg_pool2d_backward,
        pool_bug("no division", True),
        "not divided by the window size",
    ),
    (checks.check_avg_pool2d_backward, pool_bug(None), "max pooling's gradient"),
    (
        checks.check_avg_pool2d_backward,
        pool_bug("no offset", True),
        "the window's position not added",
    ),
    (checks.check_avg_pool2d_backward, pool_bug("default stride 1", True), "stride defaults to 1"),
    (
        checks.check_dense_backward,
        with_part(0, lambda dout, x, w: dout @ w),
        "dx: weight not transposed",
    ),
    (
        checks.check_dense_backward,
        with_part(1, lambda dout, x, w: dout.T @ x),
        "dweight transposed",
    ),
    (
        checks.check_dense_backward,
        with_part(1, lambda dout, x, w: x.T @ dout / len(x)),
        "dweight averaged over the batch",
    ),
    (
        checks.check_dense_backward,
        with_part(1, lambda dout, x, w: np.outer(x[0], dout[0])),
        "dweight from the first example only",
    ),
    (
        checks.check_dense_backward,
        with_part(2, lambda dout, x, w: dout.mean(axis=0)),
        "dbias averaged over the batch",
    ),
    (
        checks.check_dense_backward,
        with_part(2, lambda dout, x, w: dout[0].copy()),
        "dbias from the first example only",
    ),
    (
        checks.check_dense_backward,
        with_part(2, lambda dout, x, w: dout.sum(axis=1)),
        "dbias summed over the wrong axis",
    ),
    (checks.check_dense_backward, with_part(2, lambda dout, x, w: dout.copy()), "dbias not summed"),
    (
        checks.check_dense_backward,
        lambda dout, x, w: dense_grads(np.ones_like(dout), x, w),
        "upstream gradient ignored",
    ),
    (checks.check_dense_backward, lambda dout, x, w: dense_grads(-dout, x, w), "wrong sign"),
    (
        checks.check_dense_backward,
        lambda dout, x, w: dense_grads(dout, x, w)[::-1],
        "gradients returned in the wrong order",
    ),
    (
        checks.check_cross_entropy_backward,
        lambda z, y: ce_grad(z, y, scale=lambda n, k: 1),
        "not divided by the batch size",
    ),
    (checks.check_cross_entropy_backward, lambda z, y: -ce_grad(z, y), "wrong sign"),
    (checks.check_cross_entropy_backward, lambda z, y: softmax_rows(z) / len(y), "labels ignored"),
    (
        checks.check_cross_entropy_backward,
        lambda z, y: (softmax_rows(z) - 1) / len(y),
        "1 subtracted everywhere",
    ),
    (
        checks.check_cross_entropy_backward,
        lambda z, y: ce_grad(z, y, subtract=columns_one_hot),
        "one-hot subtracted with [:, labels]",
    ),
    (
        checks.check_cross_entropy_backward,
        lambda z, y: ce_grad(z, y, probabilities=naive_softmax_rows),
        "overflow on large logits",
    ),
    (
        checks.check_cross_entropy_backward,
        lambda z, y: ce_grad(z, y, probabilities=lambda z: z),
        "logits used instead of probabilities",
    ),
    (
        checks.check_cross_entropy_backward,
        lambda z, y: ce_grad(z, y, probabilities=lambda z: softmax_rows(z.T).T),
        "softmax over the wrong axis",
    ),
    (
        checks.check_cross_entropy_backward,
        lambda z, y: ce_grad(z, y, scale=lambda n, k: k),
        "divided by the number of classes",
    ),
    (checks.check_conv2d_backward, conv_bug("upstream"), "upstream gradient ignored"),
    (
        checks.check_conv2d_backward,
        conv_bug("dweight first example"),
        "dweight from the first example only",
    ),
    (checks.check_conv2d_backward, conv_bug("dweight mean"), "dweight averaged over the batch"),
    (
        checks.check_conv2d_backward,
        conv_bug("dbias first example"),
        "dbias from the first example only",
    ),
    (checks.check_conv2d_backward, conv_bug("dbias mean"), "dbias averaged over the batch"),
    (checks.check_conv2d_backward, conv_bug("flip dx"), "dx computed with the kernel flipped"),
    (checks.check_conv2d_backward, conv_bug("flip dweight"), "dweight flipped"),
    (checks.check_conv2d_backward, conv_bug("dx first filter"), "dx from the first filter only"),
    (checks.check_conv2d_backward, conv_bug("keep padding"), "padding not cut off dx"),
    (checks.check_conv2d_backward, conv_bug("overwrite dx"), "overlapping windows overwrite"),
    (checks.check_conv2d_backward, conv_bug("order"), "gradients returned in the wrong order"),
    (
        checks.check_conv2d_backward,
        lambda dout, x, w, stride=1, padding=0: (
            *oracle.conv2d_backward(dout, x, w, stride, padding)[:2],
            dout.sum(axis=0),
        ),
        "dbias not summed over the positions",
    ),
    (
        checks.check_conv2d_backward,
        lambda dout, x, w, stride=1, padding=0: tuple(
            -g for g in oracle.conv2d_backward(dout, x, w, stride, padding)
        ),
        "wrong sign",
    ),
]


def conv_grads_with(index, make):
    """conv2d_backward with one of its three gradients replaced."""

    def wrong(dout, x, weight, stride=1, padding=0):
        grads = list(oracle.conv2d_backward(dout, x, weight, stride, padding))
        grads[index] = make(dout, x, weight, stride, padding)
        return tuple(grads)

    return wrong


MISTAKES += [
    (
        checks.check_max_pool2d_backward,
        pool_bug("default stride 1"),
        "stride defaults to 1 instead of kernel_size",
    ),
    (
        checks.check_avg_pool2d_backward,
        pool_bug("overwrite", True),
        "overlapping windows overwrite each other",
    ),
    (
        checks.check_avg_pool2d_backward,
        pool_bug("stride 1", True),
        "stride ignored (windows one pixel apart)",
    ),
    (checks.check_avg_pool2d_backward, pool_bug("sign", True), "wrong sign"),
    (
        checks.check_avg_pool2d_backward,
        pool_bug("height only", True),
        "divided by kernel height (or width) only",
    ),
    (
        checks.check_avg_pool2d_backward,
        lambda dout, x, kernel_size=2, stride=None: dout / 4,
        "dx has the shape of dout",
    ),
    (
        checks.check_dense_backward,
        with_part(1, lambda dout, x, w: np.outer(x[-1], dout[-1])),
        "dweight from the last example only",
    ),
    (
        checks.check_conv2d_backward,
        conv_grads_with(
            1, lambda dout, x, w, s, p: oracle.conv2d_backward(dout[-1:], x[-1:], w, s, p)[1]
        ),
        "dweight from the last example only",
    ),
    (
        checks.check_conv2d_backward,
        conv_grads_with(2, lambda dout, x, w, s, p: dout.mean(axis=(2, 3)).sum(axis=0)),
        "dbias averaged over the positions",
    ),
    (
        checks.check_conv2d_backward,
        conv_grads_with(2, lambda dout, x, w, s, p: dout.sum(axis=(2, 3))),
        "dbias not summed over the batch",
    ),
]


def every_gradient_over_n(dout, x, weight):
    return tuple(g / len(x) for g in dense_grads(dout, x, weight))


MISTAKES += [
    (
        checks.check_relu_backward,
        lambda dout, x: np.where(x > 0, dout, dout.dtype.type(0.01) * dout),
        "the gradient leaks through where x < 0",
    ),
    (checks.check_relu_backward, lambda dout, x: dout * np.sign(x), "multiplied by the sign of x"),
    *[
        (check, pool_bug(bug, average), phrase)
        for check, average in [
            (checks.check_max_pool2d_backward, False),
            (checks.check_avg_pool2d_backward, True),
        ]
        for bug, phrase in [
            ("offset not added", "the window's position not added"),
            ("column offset not added", "the window's position added along one axis only"),
            ("kernel stride", "stride ignored (the windows stepped by kernel_size)"),
        ]
    ],
    (checks.check_dense_backward, every_gradient_over_n, "every gradient divided by the batch"),
    (
        checks.check_dense_backward,
        with_part(2, lambda dout, x, w: dout.sum(axis=0, keepdims=True)),
        "dbias kept as a row of shape (1, out_features)",
    ),
    (
        checks.check_cross_entropy_backward,
        lambda z, y: softmax_rows(z) / len(y) - np.eye(z.shape[1])[y],
        "only part of the gradient divided by N",
    ),
    (checks.check_conv2d_backward, conv_bug("dx stride"), "stride forgotten in dx"),
    (checks.check_conv2d_backward, conv_bug("dweight stride"), "stride forgotten in dweight"),
    (checks.check_conv2d_backward, conv_bug("one-sided cut"), "padding cut off dx on one side"),
    (checks.check_conv2d_backward, conv_bug("all over N"), "every gradient divided by the batch"),
]


@pytest.mark.parametrize(
    ("check", "fn", "name"), MISTAKES, ids=[f"{c.__name__}-{n}" for c, _, n in MISTAKES]
)
def test_a_known_mistake_is_rejected_and_named(check, fn, name):
    message = message_of(check, fn)
    assert names_mistake(message, name), message
    assert "Hint: " in message


# ------------------------------------------------------------------------ messages


def test_a_tuple_result_says_which_gradient_is_wrong():
    message = message_of(
        checks.check_dense_backward, with_part(1, lambda dout, x, w: 2 * x.T @ dout)
    )
    assert (
        "dweight (the 2nd value dense_backward returned) has the right shape but wrong values"
        in (message)
    )
    assert "Clue: every value of dweight is 2 times the expected one" in message


def test_a_tuple_of_the_wrong_length_is_a_plain_sentence():
    message = message_of(checks.check_conv2d_backward, lambda *args, **kwargs: (1, 2))
    assert (
        "conv2d_backward should return 3 arrays (dx, dweight, dbias), but it returned 2 items."
        in (message)
    )


def test_a_wrong_part_shape_is_named_with_its_layout():
    message = message_of(checks.check_conv2d_backward, conv_bug("keep padding"))
    assert "dx (the 1st value conv2d_backward returned) has shape (2, 3, 7, 6), but it should " in (
        message
    )
    assert "have shape (2, 3, 5, 4) (N, C, H, W)." in message


def test_ties_are_explained():
    """A mask-based answer is right on random data; only the tie case fails, and says why."""
    message = message_of(checks.check_max_pool2d_backward, pool_bug("all tied"))
    assert message.startswith("max_pool2d_backward: 6/7 checks passed. Check 7 failed.")
    assert "only the first one (row by row" in message


def test_conv2d_backward_may_use_conv2d_but_not_itself(capsys):
    checks.check_conv2d_backward(conv2d_backward_via_conv2d, thorough=True)
    assert "(thorough)" in capsys.readouterr().out
    message = message_of(
        checks.check_conv2d_backward,
        lambda dout, x, w, stride=1, padding=0: cnnlab.conv2d_backward(dout, x, w, stride, padding),
        thorough=True,
    )
    assert "uses cnnlab's own cnnlab.conv2d_backward" in message
    assert "You may use numpy, and cnnlab.conv2d" in message
