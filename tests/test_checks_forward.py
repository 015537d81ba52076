"""Checks of the forward ops: right answers pass, known mistakes are named.

Each "learner" below is an honest implementation written the way a learner
might (loops, einsum, another formula), not the reference; a ``bug`` argument
switches on one classic mistake at a time. Every mistake a check claims to
know must be rejected with its name in the message.
"""

import functools
import math

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


def assert_passes(check, fn, capsys):
    """Passes the visible and the thorough check, printing one line for each."""
    check(fn)
    check(fn, thorough=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith("checks passed") and lines[1].endswith("checks passed (thorough)")
    done, total = lines[0].split(": ")[1].split()[0].split("/")
    assert done == total


# ----------------------------------------------------------------------- learners


def counting_output_size(size, kernel_size, stride=1, padding=0):
    """Counts the start positions instead of using the formula."""
    return len(range(0, size + 2 * padding - kernel_size + 1, stride))


def loop_correlate2d(image, kernel, stride=1, padding=0, bug=None):
    dtype = np.result_type(image, kernel)
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    if bug == "stride":
        sh = sw = 1
    if bug == "stride swapped":
        sh, sw = sw, sh
    if bug == "padding":
        ph = pw = 0
    if bug == "padding swapped":
        ph, pw = pw, ph
    if bug == "one stride":
        sw = sh
    if bug == "rows stride":
        sw = 1 if sh != 1 else sw
    if bug == "one padding":
        pw = ph
    height, width = image.shape
    kh, kw = kernel.shape
    padded = np.zeros((height + 2 * ph, width + 2 * pw), dtype=dtype)
    if bug == "one-sided":
        padded[:height, :width] = image  # all the zeros end up below and to the right
    elif bug == "edge":
        padded = np.pad(image, ((ph, ph), (pw, pw)), mode="edge").astype(dtype)
    else:
        padded[ph : ph + height, pw : pw + width] = image
    if bug == "flip":
        kernel = kernel[::-1, ::-1]
    if bug == "flip lr":
        kernel = kernel[:, ::-1]
    if bug == "kernel transposed":
        kernel = kernel.T
    ho = (height + 2 * ph - kh) // sh + 1
    wo = (width + 2 * pw - kw) // sw + 1
    if bug == "size":
        ho, wo = ho - 1, wo - 1
    out = np.zeros((ho, wo), dtype=dtype)
    for i in range(ho):
        for j in range(wo):
            window = padded[i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[i, j] = np.mean(window * kernel) if bug == "mean" else np.sum(window * kernel)
    return out.T if bug == "transposed" else out


def einsum_conv2d(x, weight, bias=None, stride=1, padding=0):
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(padded, weight.shape[2:], axis=(2, 3))[:, :, ::sh, ::sw]
    out = np.einsum("nchwij,fcij->nfhw", windows, weight)
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out.astype(np.result_type(x, weight), copy=False)


def conv2d_from_correlate2d(x, weight, bias=None, stride=1, padding=0):
    """Built on cnnlab.correlate2d, which thorough mode allows."""
    n, f = x.shape[0], weight.shape[0]
    maps = [
        [
            sum(
                cnnlab.correlate2d(x[i, c], weight[k, c], stride, padding)
                for c in range(x.shape[1])
            )
            + (0 if bias is None else bias[k])
            for k in range(f)
        ]
        for i in range(n)
    ]
    return np.array(maps, dtype=np.result_type(x, weight))


def loop_conv2d(x, weight, bias=None, stride=1, padding=0, bug=None):
    """A learner's loop over images, filters and channels, with one optional bug."""
    dtype = np.result_type(x, weight)
    n, c, _, _ = x.shape
    f = weight.shape[0]
    maps = []
    for i in range(n):
        source = x[0] if bug == "first image" else x[i]
        for k in range(f):
            total = None
            channels = [0] if bug == "first channel" else range(c)
            for ch in channels:
                kernel = weight[ch, k] if bug == "F and C swapped" else weight[k, ch]
                if bug == "channel 0 kernel":
                    kernel = weight[k, 0]
                plane = loop_correlate2d(source[ch], kernel, stride, padding, bug)
                if bug == "channels overwrite":
                    total = plane
                else:
                    total = plane if total is None else total + plane
                if bias is not None and bug == "bias per channel":
                    total = total + bias[k]
            if bug == "channels mean":
                total = total / c
            if bias is not None and bug not in ("bias", "bias per channel"):
                total = total + bias[k]
            maps.append(total)
    ho, wo = maps[0].shape
    return np.array(maps, dtype=dtype).reshape(n, f, ho, wo)


def as_float(x):
    """Integer input is computed in float64, as the lessons say; float keeps its dtype."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def window_pool(x, kernel_size=2, stride=None, reduce=np.max, bug=None):
    x = as_float(x)
    kh, kw = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
    if (bug == "stride 1" and stride is not None) or (bug == "default stride 1" and stride is None):
        sh = sw = 1
    if bug == "stride ignored" and stride is not None:
        sh, sw = kh, kw
    if bug == "stride swapped" and stride is not None:
        sh, sw = sw, sh
    if bug == "kernel swapped":
        kh, kw = kw, kh
        if stride is None:
            sh, sw = kh, kw
    if bug == "square window":
        kw = kh
        if stride is None:
            sh, sw = kh, kh
    if bug == "one stride" and stride is not None:
        sw = sh
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    if bug == "zero start":
        return np.maximum(windows.max(axis=(4, 5)), 0)
    return reduce(windows, axis=(4, 5)).astype(x.dtype)


def sliced_pool(x, kernel_size=2, stride=None, reduce=np.max, size=None):
    """Loops over the output positions; slices near the edge may come out short."""
    kh, kw = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
    height, width = x.shape[2:]
    if size == "ceil":
        ho, wo = math.ceil((height - kh) / sh) + 1, math.ceil((width - kw) / sw) + 1
    else:
        ho, wo = (height - kh) // sh, (width - kw) // sw  # the + 1 forgotten
    out = np.zeros((*x.shape[:2], ho, wo), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            window = x[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[:, :, i, j] = reduce(window, axis=(2, 3))
    return out


def ceil_conv2d(x, weight, bias=None, stride=1, padding=0):
    """Keeps the windows that hang over the far edge, by padding that side a little more."""
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    extra = np.pad(x, ((0, 0), (0, 0), (ph, ph + sh), (pw, pw + sw)))
    full = oracle.conv2d(extra, weight, bias, (sh, sw))
    ho = -(-(x.shape[2] + 2 * ph - weight.shape[2]) // sh) + 1
    wo = -(-(x.shape[3] + 2 * pw - weight.shape[3]) // sw) + 1
    return full[:, :, :ho, :wo]


def loop_max_pool2d(x, kernel_size=2, stride=None):
    x = as_float(x)
    kh, kw = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
    n, c, h, w = x.shape
    out = np.empty((n, c, (h - kh) // sh + 1, (w - kw) // sw + 1), dtype=x.dtype)
    for index in np.ndindex(out.shape):
        i, j = index[2] * sh, index[3] * sw
        out[index] = x[index[0], index[1], i : i + kh, j : j + kw].max()
    return out


# ---------------------------------------------------------------- right answers pass

RIGHT_ANSWERS = [
    (checks.check_output_size, counting_output_size),
    (checks.check_output_size, oracle.output_size),
    (checks.check_correlate2d, loop_correlate2d),
    (checks.check_correlate2d, oracle.correlate2d),
    (checks.check_conv2d, einsum_conv2d),
    (checks.check_conv2d, loop_conv2d),
    (checks.check_conv2d, conv2d_from_correlate2d),
    (checks.check_relu, lambda x: x * (x > 0)),
    (checks.check_relu, lambda x: (x + np.abs(x)) / 2),
    (checks.check_relu, oracle.relu),
    (checks.check_max_pool2d, window_pool),
    (checks.check_max_pool2d, loop_max_pool2d),
    (checks.check_avg_pool2d, functools.partial(window_pool, reduce=np.mean)),
    (checks.check_avg_pool2d, oracle.avg_pool2d),
    (checks.check_flatten, lambda x: np.stack([as_float(example).ravel() for example in x])),
    (checks.check_flatten, oracle.flatten),
    (
        checks.check_dense,
        lambda x, w, b=None: np.einsum("ni,io->no", as_float(x), w) + (0 if b is None else b),
    ),
    (checks.check_dense, oracle.dense),
]


@pytest.mark.parametrize(("check", "fn"), RIGHT_ANSWERS)
def test_a_right_answer_written_differently_passes(check, fn, capsys):
    """Loops, einsum or another formula: any correct answer passes, visible and thorough."""
    assert_passes(check, fn, capsys)


# ------------------------------------------------------------- known mistakes named


def size_formula(formula):
    return lambda size, kernel_size, stride=1, padding=0: formula(
        size, kernel_size, stride, padding
    )


def ceil_correlate2d(image, kernel, stride=1, padding=0):
    """Keeps the windows that hang over the edge, by padding the far side a little more."""
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    image = np.pad(image, ((ph, ph + sh), (pw, pw + sw)))
    full = oracle.correlate2d(image, kernel, (sh, sw))
    height, width = image.shape[0] - sh, image.shape[1] - sw
    ho = -(-(height - kernel.shape[0]) // sh) + 1
    wo = -(-(width - kernel.shape[1]) // sw) + 1
    return full[:ho, :wo]


MISTAKES = [
    (
        checks.check_output_size,
        size_formula(lambda n, k, s, p: (n + 2 * p - k) // s),
        "the + 1 is missing",
    ),
    (
        checks.check_output_size,
        size_formula(lambda n, k, s, p: (n + 2 * p - k + 1) // s),
        "1 added before dividing",
    ),
    (
        checks.check_output_size,
        size_formula(lambda n, k, s, p: n + 2 * p - k + 1),
        "stride ignored",
    ),
    (
        checks.check_output_size,
        size_formula(lambda n, k, s, p: (n - k) // s + 1),
        "padding ignored",
    ),
    (
        checks.check_output_size,
        size_formula(lambda n, k, s, p: (n + p - k) // s + 1),
        "padding counted on one side only",
    ),
    (
        checks.check_output_size,
        size_formula(lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1),
        "rounded up instead of down",
    ),
    (
        checks.check_output_size,
        size_formula(lambda n, k, s, p: (n + 2 * p) // s + 1),
        "the kernel size is not subtracted",
    ),
    (
        checks.check_output_size,
        size_formula(lambda n, k, s, p: (n + 2 * p - k) / s + 1),
        "division with / gives a float",
    ),
    (
        checks.check_correlate2d,
        functools.partial(loop_correlate2d, bug="flip"),
        "kernel flipped: this is a true convolution",
    ),
    (
        checks.check_correlate2d,
        functools.partial(loop_correlate2d, bug="kernel transposed"),
        "kernel transposed",
    ),
    (checks.check_correlate2d, functools.partial(loop_correlate2d, bug="stride"), "stride ignored"),
    (
        checks.check_correlate2d,
        functools.partial(loop_correlate2d, bug="stride swapped"),
        "vertical and horizontal stride swapped",
    ),
    (
        checks.check_correlate2d,
        functools.partial(loop_correlate2d, bug="padding"),
        "padding ignored",
    ),
    (
        checks.check_correlate2d,
        functools.partial(loop_correlate2d, bug="padding swapped"),
        "vertical and horizontal padding swapped",
    ),
    (
        checks.check_correlate2d,
        functools.partial(loop_correlate2d, bug="one-sided"),
        "padding on one side only",
    ),
    (
        checks.check_correlate2d,
        functools.partial(loop_correlate2d, bug="mean"),
        "windows averaged instead of summed",
    ),
    (
        checks.check_correlate2d,
        functools.partial(loop_correlate2d, bug="size"),
        "output size off by one",
    ),
    (
        checks.check_correlate2d,
        functools.partial(loop_correlate2d, bug="transposed"),
        "output transposed",
    ),
    (checks.check_correlate2d, ceil_correlate2d, "output size rounded up"),
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="flip"),
        "kernel flipped: this is a true convolution",
    ),
    (checks.check_conv2d, functools.partial(loop_conv2d, bug="stride"), "stride ignored"),
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="stride swapped"),
        "vertical and horizontal stride swapped",
    ),
    (checks.check_conv2d, functools.partial(loop_conv2d, bug="padding"), "padding ignored"),
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="padding swapped"),
        "vertical and horizontal padding swapped",
    ),
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="one-sided"),
        "padding on one side only",
    ),
    (checks.check_conv2d, functools.partial(loop_conv2d, bug="size"), "output size off by one"),
    (checks.check_conv2d, functools.partial(loop_conv2d, bug="bias"), "bias forgotten"),
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="bias per channel"),
        "bias added once per channel",
    ),
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="first channel"),
        "only the first channel used",
    ),
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="channels overwrite"),
        "channels not summed",
    ),
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="channels mean"),
        "channels averaged instead of summed",
    ),
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="first image"),
        "every image gets the first image's result",
    ),
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="F and C swapped"),
        "filter and channel axes of weight swapped",
    ),
    (checks.check_relu, np.abs, "absolute value instead of clamping"),
    (checks.check_relu, lambda x: np.minimum(x, 0), "the negative values kept"),
    (checks.check_relu, lambda x: (x > 0).astype(x.dtype), "the mask x > 0 returned"),
    (checks.check_relu, lambda x: x.copy(), "x returned unchanged"),
    (checks.check_relu, lambda x: np.maximum(-x, 0), "sign flipped"),
    (checks.check_relu, lambda x: np.clip(x, 0, 1), "values also capped at 1"),
    (
        checks.check_max_pool2d,
        functools.partial(window_pool, reduce=np.mean),
        "average instead of max",
    ),
    (
        checks.check_max_pool2d,
        functools.partial(window_pool, reduce=np.min),
        "minimum instead of maximum",
    ),
    (
        checks.check_max_pool2d,
        functools.partial(window_pool, reduce=np.sum),
        "sum instead of maximum",
    ),
    (
        checks.check_max_pool2d,
        functools.partial(window_pool, bug="zero start"),
        "the maximum starts at 0",
    ),
    (
        checks.check_max_pool2d,
        functools.partial(window_pool, bug="default stride 1"),
        "stride defaults to 1 instead of kernel_size",
    ),
    (
        checks.check_max_pool2d,
        functools.partial(window_pool, bug="stride ignored"),
        "stride ignored (the windows stepped by kernel_size)",
    ),
    (
        checks.check_max_pool2d,
        functools.partial(window_pool, bug="kernel swapped"),
        "window height and width swapped",
    ),
    (
        checks.check_max_pool2d,
        lambda x, kernel_size=2, stride=None: x.max(axis=(2, 3)),
        "pooled the whole map at once",
    ),
    (checks.check_avg_pool2d, window_pool, "maximum instead of average"),
    (
        checks.check_avg_pool2d,
        functools.partial(window_pool, reduce=np.sum),
        "sum instead of average",
    ),
    (
        checks.check_avg_pool2d,
        functools.partial(window_pool, reduce=np.mean, bug="default stride 1"),
        "stride defaults to 1 instead of kernel_size",
    ),
    (
        checks.check_avg_pool2d,
        functools.partial(window_pool, reduce=np.mean, bug="stride 1"),
        "stride ignored (the windows moved one pixel at a time)",
    ),
    (
        checks.check_flatten,
        lambda x: np.stack([e.ravel(order="F") for e in x]),
        "each example read column by column (Fortran order)",
    ),
    (
        checks.check_flatten,
        lambda x: x.reshape(len(x), -1, order="F"),
        "each example read column by column (Fortran order)",
    ),
    (
        checks.check_flatten,
        lambda x: np.moveaxis(x, 1, -1).reshape(len(x), -1),
        "channels-last order",
    ),
    (checks.check_flatten, lambda x: x.ravel(), "the batch axis was flattened too"),
    (checks.check_flatten, lambda x: x.reshape(-1, len(x)), "the batch axis ended up last"),
    (checks.check_flatten, lambda x: x[0].ravel(), "only the first example flattened"),
    (checks.check_dense, lambda x, w, b=None: x @ w, "bias forgotten"),
    (checks.check_dense, lambda x, w, b=None: x @ w - (0 if b is None else b), "bias subtracted"),
    (
        checks.check_dense,
        lambda x, w, b=None: x @ w.T + (0 if b is None else b),
        "weight transposed",
    ),
    (
        checks.check_dense,
        lambda x, w, b=None: (x @ w + (0 if b is None else b)).T,
        "result transposed",
    ),
]


def bias_on_rows(x, weight, bias=None, stride=1, padding=0):
    """bias[:, None]: lines up with the rows of each map, and only works when Ho == F."""
    out = einsum_conv2d(x, weight, None, stride, padding)
    return out if bias is None else out + bias[:, None]


def leaky_relu(x):
    return np.where(x > 0, x, x.dtype.type(0.01) * x)


def columns_first_flatten(x):
    return np.swapaxes(x, -1, -2).reshape(len(x), -1) if x.ndim > 2 else x.copy()


def pool_with(**kwargs):
    return functools.partial(window_pool, **kwargs)


def height_only_mean(windows, axis):
    return windows.sum(axis=axis) / windows.shape[-2]


MISTAKES += [
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="kernel transposed"),
        "kernel transposed",
    ),
    (checks.check_conv2d, ceil_conv2d, "output size rounded up"),
    (
        checks.check_max_pool2d,
        functools.partial(sliced_pool, size="ceil"),
        "windows hanging over the edge were kept",
    ),
    (checks.check_max_pool2d, sliced_pool, "output size off by one"),
    (
        checks.check_max_pool2d,
        pool_with(bug="stride 1"),
        "stride ignored (the windows moved one pixel at a time)",
    ),
    (
        checks.check_max_pool2d,
        pool_with(bug="stride swapped"),
        "vertical and horizontal stride swapped",
    ),
    (
        checks.check_avg_pool2d,
        functools.partial(sliced_pool, reduce=np.mean, size="ceil"),
        "windows hanging over the edge were kept",
    ),
    (
        checks.check_avg_pool2d,
        functools.partial(sliced_pool, reduce=np.mean),
        "output size off by one",
    ),
    (
        checks.check_avg_pool2d,
        lambda x, kernel_size=2, stride=None: x.mean(axis=(2, 3)),
        "pooled the whole map at once",
    ),
    (
        checks.check_avg_pool2d,
        pool_with(reduce=height_only_mean),
        "divided by kernel height (or width) only",
    ),
    (
        checks.check_avg_pool2d,
        pool_with(reduce=np.mean, bug="stride ignored"),
        "stride ignored (the windows stepped by kernel_size)",
    ),
    (
        checks.check_avg_pool2d,
        pool_with(reduce=np.mean, bug="kernel swapped"),
        "window height and width swapped",
    ),
    (
        checks.check_avg_pool2d,
        pool_with(reduce=np.mean, bug="stride swapped"),
        "vertical and horizontal stride swapped",
    ),
    (checks.check_flatten, lambda x: x.reshape(len(x), -1).T, "result transposed"),
    (checks.check_flatten, columns_first_flatten, "each map read column by column"),
    (checks.check_relu, leaky_relu, "negative values scaled down instead of set to 0"),
    *[
        (check, functools.partial(learner, bug=bug), phrase)
        for check, learner in [
            (checks.check_correlate2d, loop_correlate2d),
            (checks.check_conv2d, loop_conv2d),
        ]
        for bug, phrase in [
            ("flip lr", "kernel flipped along one axis only"),
            ("one stride", "one stride used for both axes"),
            ("rows stride", "stride applied along one axis only"),
            ("one padding", "one padding used for both axes"),
            ("edge", "padded with copies of the border pixels instead of zeros"),
        ]
    ],
    (
        checks.check_conv2d,
        functools.partial(loop_conv2d, bug="channel 0 kernel"),
        "one channel's kernel used for every channel",
    ),
    (checks.check_conv2d, bias_on_rows, "bias added along the wrong axis"),
    *[
        (check, pool_with(reduce=reduce, bug=bug), phrase)
        for check, reduce in [(checks.check_max_pool2d, np.max), (checks.check_avg_pool2d, np.mean)]
        for bug, phrase in [
            ("square window", "one side of the window used for both"),
            ("one stride", "one stride used for both axes"),
        ]
    ],
    (
        checks.check_dense,
        lambda x, w, b=None: x * w + (0 if b is None else b),
        "element-wise product",
    ),
]


@pytest.mark.parametrize(
    ("check", "fn", "name"), MISTAKES, ids=[f"{c.__name__}-{n}" for c, _, n in MISTAKES]
)
def test_a_known_mistake_is_rejected_and_named(check, fn, name):
    message = message_of(check, fn)
    assert names_mistake(message, name), message
    assert "checks passed. Check " in message.splitlines()[0]
    assert "Hint: " in message


# ----------------------------------------------------------- messages worth reading


def test_the_worked_example_is_shown_in_full():
    """A small case shows its inputs, the expected and the returned array in full."""
    message = message_of(checks.check_correlate2d, functools.partial(loop_correlate2d, bug="flip"))
    assert message.startswith("correlate2d: 0/7 checks passed. Check 1 failed")
    assert "correlate2d(image, kernel)" in message
    assert "[[19., 25.]," in message and "[37., 43.]]" in message  # expected
    assert "[[ 5., 11.]," in message  # got: the flipped kernel
    assert "first difference at index [0, 0]: expected 19, got 5" in message


def test_a_large_case_is_summarised_not_printed():
    def wrong_when_large(x, weight, bias=None, stride=1, padding=0):
        out = einsum_conv2d(x, weight, bias, stride, padding)
        return out + 1 if out.size > 500 else out

    message = message_of(checks.check_conv2d, wrong_when_large)
    assert "8/9 checks passed. Check 9 failed" in message
    assert "array of shape (2, 5, 12, 11), float32, values from" in message
    assert "first difference at index [0, 0, 0, 0]" in message
    assert "1320 of 1320 values differ" in message
    assert len(message) < 2000
    assert "every value is off by the same amount, 1" in message  # a clue, not a known mistake


def test_a_wrong_shape_is_a_plain_sentence():
    message = message_of(checks.check_conv2d, lambda x, weight, bias=None, stride=1, padding=0: x)
    assert "The result of conv2d has shape (1, 1, 3, 3), but it should have shape " in message
    assert "(1, 1, 2, 2) (N, F, Ho, Wo)." in message


def test_an_int_check_says_a_float_is_not_an_int():
    message = message_of(checks.check_output_size, lambda *args, **kwargs: 3.0)
    assert (
        "output_size should return a whole number (an int), but it returned the float 3" in message
    )


def test_allowed_helpers_are_named_when_delegation_is_refused():
    message = message_of(
        checks.check_correlate2d,
        lambda image, kernel, stride=1, padding=0: cnnlab.conv2d(
            image[None, None], kernel[None, None], stride=stride, padding=padding
        )[0, 0],
    )
    assert "uses cnnlab's own cnnlab.conv2d" in message
    assert "You may use numpy, and cnnlab.output_size." in message
