"""Check of conv2d_backward, the gradients of a convolution with respect to x, weight and bias.

The mistakes named are those of the biggest backward pass of the course:
dweight or dbias taken from one example, averaged, or not summed over the
batch or the positions; the kernel flipped the wrong way for dx; dx that
keeps the padding or forgets a filter; the upstream gradient ignored.
"""

from __future__ import annotations

import numpy as np

from cnnlab.checks._core import (
    REF,
    SIGN,
    Case,
    Check,
    Mistake,
    extra_rng,
    normal,
    pair,
    random_pair,
    run,
    wrong_order,
)

__all__ = [
    "check_conv2d_backward",
]

F32, F64 = np.float32, np.float64

_CONV_PARTS = ("dx", "dweight", "dbias")


def _conv_backward_case(title, rng, n, c, f, size, kernel, dtype=F64, **kwargs) -> Case:
    x = normal(rng, (n, c, *size), dtype)
    weight = normal(rng, (f, c, *kernel), dtype)
    out = REF.conv2d(x, weight, **kwargs)
    dout = normal(rng, out.shape, dtype)
    return Case(title, {"dout": dout, "x": x, "weight": weight}, kwargs)


def _conv2d_backward_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(1717)
    cases = [
        Case(
            "one 3 x 3 image, one 2 x 2 filter",
            {
                "dout": np.array([[[[1.0, 2.0], [-1.0, 3.0]]]]),
                "x": np.arange(9.0).reshape(1, 1, 3, 3),
                "weight": np.array([[[[1.0, -1.0], [2.0, 0.5]]]]),
            },
        ),
        _conv_backward_case("two channels and two filters", rng, 1, 2, 2, (4, 4), (3, 3)),
        _conv_backward_case("a batch of 3, overlapping windows", rng, 3, 2, 2, (5, 5), (2, 2)),
        _conv_backward_case("stride 2", rng, 2, 2, 3, (7, 6), (3, 3), stride=2),
        _conv_backward_case("padding 1, float32", rng, 2, 3, 2, (5, 4), (3, 3), F32, padding=1),
        _conv_backward_case(
            "different vertical and horizontal stride and padding",
            rng,
            2,
            2,
            3,
            (8, 7),
            (3, 2),
            stride=(2, 1),
            padding=(1, 2),
        ),
        _conv_backward_case(
            "stride 3, padding 2", rng, 3, 1, 2, (9, 10), (4, 3), stride=3, padding=2
        ),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            n, c, f, kh, kw = (int(v) for v in rng.integers(1, [4, 4, 4, 4, 4]))
            stride, padding = random_pair(rng, 1, 4), random_pair(rng, 0, 3)
            ph, pw = pair(padding)
            size = (
                int(rng.integers(max(1, kh - 2 * ph), 10)),
                int(rng.integers(max(1, kw - 2 * pw), 10)),
            )
            dtype = F32 if rng.random() < 0.5 else F64
            title = f"random shapes, stride {stride}, padding {padding}, {np.dtype(dtype)}"
            kwargs = {"stride": stride, "padding": padding}
            cases.append(_conv_backward_case(title, rng, n, c, f, size, (kh, kw), dtype, **kwargs))
    return cases


def _conv2d_backward_mistakes(case: Case):
    dout, x, weight = case.args["dout"], case.args["x"], case.args["weight"]
    stride, padding = case.kwargs.get("stride", 1), case.kwargs.get("padding", 0)
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, f = x.shape[0], weight.shape[0]
    _, dweight, dbias = case.expected

    def back(dout=dout, x=x, weight=weight, padding=padding):
        return REF.conv2d_backward(dout, x, weight, stride, padding)

    yield Mistake(
        "upstream gradient ignored",
        "every gradient is built from dout, the gradient coming from the layer above.",
        lambda: back(dout=np.ones_like(dout)),
    )
    if n > 1:
        for name, hint, make in [
            (
                "dweight from the first example only (not summed over the batch)",
                "every example of the batch contributes to dweight: add them all up.",
                lambda: (None, back(dout[:1], x[:1])[1], None),
            ),
            (
                "dweight from the last example only (not summed over the batch)",
                "every example of the batch contributes to dweight: add them all up.",
                lambda: (None, back(dout[-1:], x[-1:])[1], None),
            ),
            (
                "dweight averaged over the batch instead of summed",
                "each example adds its own contribution to dweight: sum, do not average.",
                lambda: (None, dweight / n, None),
            ),
            (
                "dbias from the first example only (not summed over the batch)",
                "the bias is added to every output value of every example: sum dout over the "
                "batch and all positions.",
                lambda: (None, None, dout[0].sum(axis=(1, 2))),
            ),
            (
                "dbias averaged over the batch instead of summed",
                "sum dout over the batch and all positions; do not average.",
                lambda: (None, None, dbias / n),
            ),
            (
                "dbias not summed over the batch: one row per example",
                "dbias has shape (F,): sum dout over the batch and all positions.",
                lambda: (None, None, dout.sum(axis=(2, 3))),
            ),
        ]:
            yield Mistake(name, hint, make)
    yield Mistake(
        "dbias not summed over the positions",
        "dbias has shape (F,): sum dout over the batch and over every output position.",
        lambda: (None, None, dout.sum(axis=0)),
    )
    yield Mistake(
        "dbias averaged over the positions instead of summed",
        "the bias is added to every output value, so each one passes back its whole dout.",
        lambda: (None, None, dout.mean(axis=(2, 3)).sum(axis=0)),
    )
    yield Mistake(
        "dx computed with the kernel flipped",
        "each output value passes dout * weight[f, c, i, j] back to the pixel that "
        "weight[f, c, i, j] multiplied in the forward pass.",
        lambda: (back(weight=weight[..., ::-1, ::-1])[0], None, None),
    )
    yield Mistake(
        "dweight flipped",
        "dweight[f, c, i, j] collects dout times the pixel that weight[f, c, i, j] "
        "multiplied in the forward pass.",
        lambda: (None, dweight[..., ::-1, ::-1], None),
    )
    if f > 1:
        yield Mistake(
            "dx from the first filter only (not summed over the filters)",
            "every filter looked at x, so dx adds up what each filter sends back.",
            lambda: (back(dout[:, :1], weight=weight[:1])[0], None, None),
        )
    if (ph, pw) != (0, 0):
        padded = np.pad(x, [(0, 0), (0, 0), (ph, ph), (pw, pw)])
        yield Mistake(
            "padding not cut off dx",
            "dx is the gradient with respect to x itself, so it has the shape of x: "
            "drop the rows and columns that belong to the padding.",
            lambda: (back(x=padded, padding=0)[0], None, None),
        )
    kh, kw = weight.shape[2:]
    if sh < kh or sw < kw:  # windows overlap
        for order in ("nfij", "nijf"):
            yield Mistake(
                "overlapping windows overwrite each other in dx (= instead of +=)",
                "where windows overlap, a pixel receives a gradient from each of them: "
                "add it to dx with +=, do not assign it.",
                lambda order=order: (
                    _overwritten_dx(dout, x, weight, stride, padding, order),
                    None,
                    None,
                ),
            )
    if (sh, sw) != (1, 1):
        yield Mistake(
            "stride forgotten in dx (window (i, j) placed at row i, column j)",
            "output position (i, j) came from the window at row i * stride and column "
            "j * stride of the padded x: send its gradient back there.",
            lambda: (_looped(dout, x, weight, stride, padding, dx_step=False)[0], None, None),
        )
        yield Mistake(
            "stride forgotten in dweight (window (i, j) read at row i, column j)",
            "output position (i, j) came from the window at row i * stride and column "
            "j * stride of the padded x: dweight collects dout times that window.",
            lambda: (None, _looped(dout, x, weight, stride, padding, dw_step=False)[1], None),
        )
    if (ph, pw) != (0, 0):
        for start in ((0, 0), (2 * ph, 2 * pw)):
            yield Mistake(
                "padding cut off dx on one side only",
                "x sits in the middle of the padded array: drop ph rows at the top and at "
                "the bottom, pw columns at the left and at the right.",
                lambda start=start: (
                    _looped(dout, x, weight, stride, padding, dx_start=start)[0],
                    None,
                    None,
                ),
            )
    if n > 1:
        yield Mistake(
            "every gradient divided by the batch size",
            "dout already holds the 1/N of the mean loss: sum over the batch here, and divide "
            "nothing again.",
            lambda: tuple(g / n for g in case.expected),
        )
    yield Mistake(*SIGN, lambda: tuple(-g for g in case.expected))
    yield from wrong_order(case.expected, _CONV_PARTS)


def _looped(dout, x, weight, stride, padding, *, dx_step=True, dw_step=True, dx_start=None):
    """dx and dweight of a learner's loop over the output positions, with its slips.

    ``dx_step`` / ``dw_step``: whether window (i, j) is at (i * sh, j * sw), or at
    (i, j); ``dx_start``: where dx is cut out of the padded gradient, if not at
    (ph, pw).
    """
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    h, w = x.shape[2:]
    kh, kw = weight.shape[2:]
    dtype = np.result_type(dout, x, weight)
    x_padded = np.pad(x, [(0, 0), (0, 0), (ph, ph), (pw, pw)])
    dx = np.zeros(x_padded.shape, dtype=dtype)
    dweight = np.zeros(weight.shape, dtype=dtype)
    for b, f, i, j in np.ndindex(dout.shape):
        top, left = (i * sh, j * sw) if dx_step else (i, j)
        dx[b, :, top : top + kh, left : left + kw] += dout[b, f, i, j] * weight[f]
        top, left = (i * sh, j * sw) if dw_step else (i, j)
        dweight[f] += dout[b, f, i, j] * x_padded[b, :, top : top + kh, left : left + kw]
    top, left = (ph, pw) if dx_start is None else dx_start
    return dx[:, :, top : top + h, left : left + w], dweight


def _overwritten_dx(dout, x, weight, stride, padding, order):
    """dx of a learner's loop that assigns each window's gradient instead of adding it."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, _, h, w = x.shape
    kh, kw = weight.shape[2:]
    dx = np.zeros((n, x.shape[1], h + 2 * ph, w + 2 * pw), dtype=np.result_type(dout, weight))
    positions = (
        np.ndindex(dout.shape)
        if order == "nfij"
        else ((b, f, i, j) for b, i, j, f in np.ndindex(n, *dout.shape[2:], dout.shape[1]))
    )
    for b, f, i, j in positions:
        dx[b, :, i * sh : i * sh + kh, j * sw : j * sw + kw] = dout[b, f, i, j] * weight[f]
    return dx[:, :, ph : ph + h, pw : pw + w]


def check_conv2d_backward(fn, *, thorough=False) -> None:
    """Check ``conv2d_backward(dout, x, weight, stride=1, padding=0) -> (dx, dweight, dbias)``.

    Names: upstream gradient ignored; dweight or dbias from one example,
    averaged, or not summed over the batch; dbias not summed or averaged over
    the positions; dx with the kernel flipped; dweight flipped; dx from the
    first filter only; padding not cut off dx, or cut on one side only;
    stride forgotten in dx or in dweight; overlapping windows overwrite each
    other in dx; every gradient divided by N; wrong sign; gradients in the
    wrong order. Thorough
    mode forbids cnnlab's ``conv2d_backward``; ``conv2d``, ``correlate2d``
    and ``output_size`` may be used (a full convolution of dout with the
    flipped kernel is one way to get dx).
    """
    run(
        Check(
            "conv2d_backward",
            REF.conv2d_backward,
            _conv2d_backward_cases(thorough),
            _conv2d_backward_mistakes,
            returns="tuple",
            parts=_CONV_PARTS,
            layout=("(N, C, H, W)", "(F, C, KH, KW)", "(F,)"),
            uses=("conv2d", "correlate2d", "output_size"),
        ),
        fn,
        thorough,
    )
