"""Checks of convolution: the output size, one 2-D cross-correlation, and conv2d.

Hand-checkable cases come first (the 3 x 3 image and 2 x 2 kernel giving 19,
25, 37, 43), then seeded random ones: non-square images and kernels, sizes
that the stride does not divide evenly, strides and paddings given as one int
or as a (vertical, horizontal) pair, float32 and float64. The mistakes named
are those of a first sliding window: the kernel flipped, the stride or the
padding ignored, swapped or one-sided, the output size off by one, and for
conv2d the bias and the channels.
"""

from __future__ import annotations

import numpy as np

from cnnlab.checks._core import REF, Case, Check, Mistake, extra_rng, normal, pair, random_pair, run

__all__ = [
    "check_conv2d",
    "check_correlate2d",
    "check_output_size",
]

F32, F64 = np.float32, np.float64


def _settings(stride, padding) -> str:
    return f"stride {stride}, padding {padding}"


# ---------------------------------------------------------------------- output_size


def _output_size_cases(thorough: bool) -> list[Case]:
    def case(title, size, kernel, **kwargs):
        return Case(title, {"size": size, "kernel_size": kernel}, kwargs)

    cases = [
        case("a row of 5 pixels and a kernel of 3", 5, 3),
        case("stride 2", 7, 3, stride=2),
        case("stride 2, and the window does not reach the last pixel", 8, 3, stride=2),
        case("padding 2 on each side", 6, 3, padding=2),
        case("stride 2 and padding 1", 7, 3, stride=2, padding=1),
        case("a 28-pixel image, kernel 5, padding 2: the size is kept", 28, 5, padding=2),
        case("stride 3 and padding 1, not dividing evenly", 10, 4, stride=3, padding=1),
        case("a kernel as large as the input", 4, 4),
    ]
    if thorough:
        rng = extra_rng(np.random.default_rng(101))
        for _ in range(12):
            kernel, stride, padding = (int(v) for v in rng.integers([1, 1, 0], [8, 5, 4]))
            size = int(rng.integers(max(1, kernel - 2 * padding), 40))
            cases.append(case("random sizes", size, kernel, stride=stride, padding=padding))
    return cases


def _output_size_mistakes(case: Case):
    n, k = case.args["size"], case.args["kernel_size"]
    s, p = case.kwargs.get("stride", 1), case.kwargs.get("padding", 0)
    room = n + 2 * p - k  # how far the window can travel
    mistakes = [
        (
            "1 added before dividing by the stride",
            "the + 1 counts the first window position: add it after dividing.",
            (room + 1) // s,
        ),
        (
            "the + 1 is missing",
            "count the first window position too: a kernel as long as the input fits exactly once.",
            room // s,
        ),
        (
            "stride ignored",
            "with stride s the window jumps s pixels at a time, so divide the distance it can "
            "travel by s.",
            room + 1,
        ),
        (
            "padding ignored",
            "padding adds zeros at both ends, which makes the input longer.",
            (n - k) // s + 1,
        ),
        (
            "padding counted on one side only",
            "padding p adds p zeros at *each* end of the axis: 2 * p in all.",
            (n + p - k) // s + 1,
        ),
        (
            "rounded up instead of down",
            "a window that would hang over the end is not used, so the division rounds down (//).",
            -(-room // s) + 1,
        ),
        (
            "the kernel size is not subtracted",
            "the window needs kernel_size pixels of room: only the rest of the axis is free to "
            "travel.",
            (n + 2 * p) // s + 1,
        ),
        (
            "division with / gives a float",
            "use integer division //, which rounds down and gives an int.",
            room / s + 1,
        ),
    ]
    for name, hint, value in mistakes:
        yield Mistake(name, hint, lambda value=value: value)


def check_output_size(fn, *, thorough=False) -> None:
    """Check ``output_size(size, kernel_size, stride=1, padding=0) -> int``.

    Names: + 1 missing or added before dividing, stride ignored, padding ignored
    or counted on one side, rounded up, kernel size not subtracted, float
    result from ``/``. Refuses cnnlab's own ``output_size``.
    """
    run(
        Check(
            "output_size",
            REF.output_size,
            _output_size_cases(thorough),
            _output_size_mistakes,
            returns="int",
            uses=(),
        ),
        fn,
        thorough,
    )


# ---------------------------------------------------------------- sliding a kernel


def _pad_sides(
    x: np.ndarray, top: int, bottom: int, left: int, right: int, mode: str = "constant"
) -> np.ndarray:
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)], mode=mode)


def _sliding_mistakes(slide, x, w, stride, padding, out_shape, averaged=None):
    """Mistakes of any op that slides a kernel; ``slide(x, w, stride, padding)`` is correct."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    yield Mistake(
        "kernel flipped: this is a true convolution, not the cross-correlation CNNs use",
        "lay the kernel over each window as it is, its [0, 0] on the window's top-left "
        "pixel; do not reverse its rows or columns.",
        lambda: slide(x, w[..., ::-1, ::-1], stride, padding),
    )
    yield Mistake(
        "kernel transposed (its rows and columns swapped)",
        "kernel[i, j] multiplies the pixel i rows below and j columns right of the "
        "window's top-left corner.",
        lambda: slide(x, np.swapaxes(w, -1, -2), stride, padding),
    )
    for axis in (-1, -2):
        yield Mistake(
            "kernel flipped along one axis only (left to right, or upside down)",
            "lay the kernel over each window as it is: kernel[i, j] multiplies the pixel i "
            "rows below and j columns right of the window's top-left corner.",
            lambda axis=axis: slide(x, np.flip(w, axis), stride, padding),
        )
    if sh != sw:
        for one in (sh, sw):
            yield Mistake(
                "one stride used for both axes",
                "a pair (sh, sw) gives each axis its own step: sh rows down, sw columns across.",
                lambda one=one: slide(x, w, one, padding),
            )
    for steps in ((sh, 1), (1, sw)):
        if steps != (1, 1) and steps != (sh, sw):
            yield Mistake(
                "stride applied along one axis only",
                "the window steps sh rows down between rows of the output and sw columns "
                "across between its columns: apply the stride to both axes.",
                lambda steps=steps: slide(x, w, steps, padding),
            )
    if (sh, sw) != (1, 1):
        yield Mistake(
            "stride ignored (the window moved one pixel at a time)",
            "with stride s the window jumps s pixels between positions: output position "
            "i starts at pixel i * s of the (padded) input.",
            lambda: slide(x, w, 1, padding),
        )
    if sh != sw:
        yield Mistake(
            "vertical and horizontal stride swapped",
            "a pair (sh, sw) is (vertical, horizontal): sh is the step down the rows "
            "(height), sw the step along the columns (width).",
            lambda: slide(x, w, (sw, sh), padding),
        )
    if (ph, pw) != (0, 0):
        yield Mistake(
            "padding ignored",
            "surround the input with `padding` rows and columns of zeros before "
            "sliding the window.",
            lambda: slide(x, w, stride, 0),
        )
        for mode in ("edge", "reflect", "symmetric"):
            yield Mistake(
                "padded with copies of the border pixels instead of zeros",
                "padding surrounds the input with rows and columns of zeros; copying its "
                "edge pixels outwards is another kind of padding.",
                lambda mode=mode: slide(_pad_sides(x, ph, ph, pw, pw, mode), w, stride, 0),
            )
        if ph != pw:
            for one in (ph, pw):
                yield Mistake(
                    "one padding used for both axes",
                    "a pair (ph, pw) gives each axis its own padding: ph rows above and "
                    "below, pw columns left and right.",
                    lambda one=one: slide(x, w, stride, one),
                )
            yield Mistake(
                "vertical and horizontal padding swapped",
                "a pair (ph, pw) is (vertical, horizontal): ph rows of zeros above and "
                "below, pw columns left and right.",
                lambda: slide(x, w, stride, (pw, ph)),
            )
        for sides in [(2, 0), (0, 2), (1, 0), (0, 1)]:
            a, b = sides
            yield Mistake(
                "padding on one side only",
                "padding p puts p rows of zeros above AND below the input, p columns "
                "left AND right, so the input sits in the middle of the padded array.",
                lambda a=a, b=b: slide(_pad_sides(x, a * ph, b * ph, a * pw, b * pw), w, stride, 0),
            )
    if averaged is not None:
        yield Mistake(
            "windows averaged instead of summed",
            "each output value is the sum of the window times the kernel, not its mean.",
            averaged,
        )
    kh, kw = w.shape[-2:]
    height, width = x.shape[-2:]
    ceil = (
        -(-(height + 2 * ph - kh) // sh) + 1,
        -(-(width + 2 * pw - kw) // sw) + 1,
    )
    lead, (ho, wo) = tuple(out_shape[:-2]), out_shape[-2:]
    if ceil != (ho, wo):
        yield Mistake(
            "output size rounded up: a window hanging over the edge was kept",
            "only windows that fit entirely inside the (padded) input count, so the "
            "output size rounds down.",
            lambda: (*lead, *ceil),
            shape_only=True,
        )
    for dh, dw in [(1, 1), (1, 0), (0, 1), (-1, -1), (-1, 0), (0, -1)]:
        yield Mistake(
            "output size off by one",
            "count the window positions along each axis: the first one is at 0 and the "
            "last must fit entirely inside the (padded) input.",
            lambda dh=dh, dw=dw: (*lead, ho + dh, wo + dw),
            shape_only=True,
        )


def _correlate2d_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(202)
    image = np.array(
        [[1, 0, 2, 1, 0], [0, 3, 1, 0, 2], [2, 1, 0, 1, 1], [1, 0, 1, 2, 0]], dtype=F64
    )
    cases = [
        Case(
            "a 3 x 3 image and a 2 x 2 kernel",
            {"image": np.arange(9.0).reshape(3, 3), "kernel": np.arange(4.0).reshape(2, 2)},
        ),
        Case(
            "a 4 x 5 image and a 2 x 3 kernel (not square)",
            {"image": image, "kernel": np.array([[1.0, 0.0, -1.0], [2.0, 0.5, -2.0]])},
        ),
        Case(
            "stride 2 on a 5 x 7 image: the last column is not reached",
            {
                "image": (np.arange(35.0).reshape(5, 7) % 6),
                "kernel": np.array([[1.0, 2, 0], [0, 1, -1], [3, 0, 1]]),
            },
            {"stride": 2},
        ),
        Case(
            "padding 1 around a 4 x 4 image",
            {
                "image": np.arange(16.0).reshape(4, 4),
                "kernel": np.array([[0.0, 1, 2], [1, -1, 0], [2, 0, 1]]),
            },
            {"padding": 1},
        ),
        Case(
            "stride 2 and padding 1, float32",
            {"image": normal(rng, (6, 7), F32), "kernel": normal(rng, (3, 3), F32)},
            {"stride": 2, "padding": 1},
        ),
        Case(
            "different vertical and horizontal stride and padding",
            {"image": normal(rng, (7, 6)), "kernel": normal(rng, (3, 2))},
            {"stride": (2, 1), "padding": (1, 0)},
        ),
        Case(
            "stride 3 and padding 2, float32",
            {"image": normal(rng, (9, 11), F32), "kernel": normal(rng, (4, 3), F32)},
            {"stride": 3, "padding": 2},
        ),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(10):
            kh, kw = (int(v) for v in rng.integers(1, 6, 2))
            stride, padding = random_pair(rng, 1, 4), random_pair(rng, 0, 3)
            ph, pw = pair(padding)
            height = int(rng.integers(max(1, kh - 2 * ph), 13))
            width = int(rng.integers(max(1, kw - 2 * pw), 13))
            dtype = F32 if rng.random() < 0.5 else F64
            cases.append(
                Case(
                    f"random shapes, {_settings(stride, padding)}, {np.dtype(dtype)}",
                    {
                        "image": normal(rng, (height, width), dtype),
                        "kernel": normal(rng, (kh, kw), dtype),
                    },
                    {"stride": stride, "padding": padding},
                )
            )
    return cases


def _correlate2d_mistakes(case: Case):
    image, kernel = case.args["image"], case.args["kernel"]
    stride, padding = case.kwargs.get("stride", 1), case.kwargs.get("padding", 0)
    expected = case.expected
    yield from _sliding_mistakes(
        REF.correlate2d,
        image,
        kernel,
        stride,
        padding,
        expected.shape,
        averaged=lambda: expected / kernel.size,
    )
    yield Mistake(
        "output transposed (rows and columns swapped)",
        "out[i, j] belongs to the window i steps down and j steps right.",
        lambda: expected.T,
    )


def check_correlate2d(fn, *, thorough=False) -> None:
    """Check ``correlate2d(image, kernel, stride=1, padding=0) -> (Ho, Wo)``.

    Names: kernel flipped, flipped along one axis or transposed, stride
    ignored, swapped, applied along one axis or one stride for both axes,
    padding ignored, swapped, on one side only, one padding for both axes or
    copies of the border instead of zeros, windows averaged, output size
    rounded up or off by one, output transposed. Refuses cnnlab's own
    ``correlate2d`` and ``conv2d``; ``output_size`` may be used.
    """
    run(
        Check(
            "correlate2d",
            REF.correlate2d,
            _correlate2d_cases(thorough),
            _correlate2d_mistakes,
            layout="(Ho, Wo)",
            uses=("output_size",),
        ),
        fn,
        thorough,
    )


# ---------------------------------------------------------------------------- conv2d


def _conv_case(title, rng, n, c, f, size, kernel, bias=True, dtype=F64, **kwargs) -> Case:
    args = {"x": normal(rng, (n, c, *size), dtype), "weight": normal(rng, (f, c, *kernel), dtype)}
    if bias:
        args["bias"] = normal(rng, (f,), dtype)
    return Case(title, args, kwargs)


def _conv2d_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(303)
    small = np.array([[[[1, 0, 2], [3, 1, 0], [0, 2, 1]], [[2, 1, 0], [0, 1, 3], [1, 0, 1]]]], F64)
    cases = [
        Case(
            "one 3 x 3 image, one channel, one 2 x 2 filter",
            {"x": np.arange(9.0).reshape(1, 1, 3, 3), "weight": np.arange(4.0).reshape(1, 1, 2, 2)},
        ),
        Case(
            "two input channels, whose results are added up",
            {"x": small, "weight": np.array([[[[1.0, -1], [0, 2]], [[0.5, 0], [1, 1]]]])},
        ),
        Case(
            "three filters, each with its bias",
            {
                "x": np.arange(20.0).reshape(1, 1, 4, 5) % 7,
                "weight": np.array(
                    [
                        [[[1.0, 0, -1], [0, 1, 0]]],
                        [[[2.0, 1, 0], [0, 0, 1]]],
                        [[[0.0, 0, 1], [1, 0, 0]]],
                    ]
                ),
                "bias": np.array([1.0, -2.0, 0.5]),
            },
        ),
        _conv_case("a batch of 2 images, 2 channels, 3 filters", rng, 2, 2, 3, (5, 4), (2, 2)),
        _conv_case(
            "stride 2: the sizes do not divide evenly", rng, 2, 3, 3, (7, 6), (3, 3), stride=2
        ),
        _conv_case("padding 1, float32", rng, 2, 2, 3, (5, 4), (3, 3), dtype=F32, padding=1),
        _conv_case(
            "different vertical and horizontal stride and padding, no bias",
            rng,
            1,
            3,
            2,
            (8, 7),
            (3, 2),
            bias=False,
            stride=(2, 1),
            padding=(1, 2),
        ),
        _conv_case("stride 3 and padding 2", rng, 3, 2, 4, (9, 10), (4, 3), stride=3, padding=2),
        _conv_case("a bigger float32 batch", rng, 2, 4, 5, (12, 11), (3, 3), dtype=F32, padding=1),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(10):
            n, c, f, kh, kw = (int(v) for v in rng.integers(1, [4, 4, 5, 5, 5]))
            stride, padding = random_pair(rng, 1, 4), random_pair(rng, 0, 3)
            ph, pw = pair(padding)
            size = (
                int(rng.integers(max(1, kh - 2 * ph), 12)),
                int(rng.integers(max(1, kw - 2 * pw), 12)),
            )
            dtype = F32 if rng.random() < 0.5 else F64
            title = f"random shapes, {_settings(stride, padding)}, {np.dtype(dtype)}"
            bias = bool(rng.random() < 0.7)
            kw_args = {"stride": stride, "padding": padding}
            cases.append(_conv_case(title, rng, n, c, f, size, (kh, kw), bias, dtype, **kw_args))
    return cases


def _conv2d_mistakes(case: Case):
    x, weight = case.args["x"], case.args["weight"]
    bias = case.args.get("bias")
    stride, padding = case.kwargs.get("stride", 1), case.kwargs.get("padding", 0)
    n, c = x.shape[:2]

    def conv(x, w, s, p, b=bias):
        return REF.conv2d(x, w, b, stride=s, padding=p)

    bare = conv(x, weight, stride, padding, None)  # without the bias
    per_filter = 0 if bias is None else bias[:, None, None]
    if bias is not None:
        yield Mistake(
            "bias forgotten",
            "add bias[f] to every value of the map of filter f.",
            lambda: bare,
        )
    yield from _sliding_mistakes(conv, x, weight, stride, padding, case.expected.shape)
    if c > 1:
        yield Mistake(
            "only the first channel used",
            "a filter looks at all C input channels at once: add up what every channel gives.",
            lambda: conv(x[:, :1], weight[:, :1], stride, padding),
        )
        yield Mistake(
            "channels not summed (only the last channel counts)",
            "each channel's result must be added to the map, not replace what the "
            "channels before it gave.",
            lambda: conv(x[:, -1:], weight[:, -1:], stride, padding),
        )
        yield Mistake(
            "channels averaged instead of summed",
            "the results of the channels are added up, not averaged.",
            lambda: bare / c + per_filter,
        )
        if bias is not None:
            yield Mistake(
                "bias added once per channel",
                "bias[f] is added once to each output value, not once for every input channel.",
                lambda: bare + c * per_filter,
            )
    if c > 1:
        for channel in (0, c - 1):
            yield Mistake(
                "one channel's kernel used for every channel",
                "each input channel has its own kernel: weight[f, c] is laid over channel c.",
                lambda channel=channel: conv(
                    x, np.repeat(weight[:, channel : channel + 1], c, axis=1), stride, padding
                ),
            )
    if bias is not None:
        for wrong_axis in (bias[:, None], bias, bias[:, None, None, None]):
            yield Mistake(
                "bias added along the wrong axis",
                "bias has one value per filter: bias[f] goes to every value of the map of "
                "filter f, so it must line up with the F axis of (N, F, Ho, Wo).",
                lambda wrong_axis=wrong_axis: bare + wrong_axis,
            )
    if n > 1:
        yield Mistake(
            "every image gets the first image's result",
            "out[n] is computed from x[n]: loop over (or vectorise across) the whole batch.",
            lambda: np.broadcast_to(case.expected[:1], case.expected.shape),
        )
    if weight.shape[0] == c:
        yield Mistake(
            "filter and channel axes of weight swapped",
            "weight has shape (F, C, KH, KW): weight[f, c] is the kernel filter f lays "
            "over input channel c.",
            lambda: conv(x, weight.transpose(1, 0, 2, 3), stride, padding),
        )


def check_conv2d(fn, *, thorough=False) -> None:
    """Check ``conv2d(x, weight, bias=None, stride=1, padding=0) -> (N, F, Ho, Wo)``.

    Names: bias forgotten, added once per channel or along the wrong axis,
    the sliding mistakes of ``check_correlate2d`` (kernel flipped or
    transposed, stride and padding ignored, swapped, one-sided, one for both
    axes, border copies, output size rounded up or off by one), only the
    first channel used, one channel's kernel for every channel, channels not
    summed or averaged, every image given the first image's result, weight
    axes F and C swapped. Refuses cnnlab's own
    ``conv2d``; ``correlate2d`` and ``output_size`` may be used.
    """
    run(
        Check(
            "conv2d",
            REF.conv2d,
            _conv2d_cases(thorough),
            _conv2d_mistakes,
            layout="(N, F, Ho, Wo)",
            uses=("correlate2d", "output_size"),
        ),
        fn,
        thorough,
    )
