"""Checks of the backward ops: the gradients that backpropagation chains together.

The mistakes named here are the classic ones of a first backward pass: the
upstream gradient ignored, a gradient that is not summed over the batch (or
averaged instead), a sign flipped, a transpose missing, the max-pooling
gradient spread over the whole window, overlapping windows overwriting each
other instead of adding up.
"""

from __future__ import annotations

import numpy as np

from cnnlab.checks._core import (
    REF,
    SIGN,
    Case,
    Check,
    Mistake,
    distinct,
    extra_rng,
    normal,
    pair,
    pooling_maps,
    random_pooling,
    run,
    wrong_order,
)
from cnnlab.checks.probabilities import _OVERFLOW_HINT, _labelled_cases

__all__ = [
    "check_avg_pool2d_backward",
    "check_cross_entropy_backward",
    "check_dense_backward",
    "check_max_pool2d_backward",
    "check_relu_backward",
]

F32, F64 = np.float32, np.float64


# ----------------------------------------------------------------------- relu_backward


def _relu_backward_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(1212)

    def case(title, shape, dtype=F64):
        return Case(title, {"dout": normal(rng, shape, dtype), "x": normal(rng, shape, dtype)})

    cases = [
        Case(
            "five values, one of them exactly 0",
            {"dout": np.array([1.0, -2, 3, 4, -5]), "x": np.array([-2.0, -1, 0, 1, 2])},
        ),
        Case(
            "a 3 x 4 map, with negative upstream gradients",
            {
                "dout": np.array([[1.0, -2, 3, -4], [-1, 2, -3, 4], [0.5, 0.5, -0.5, -0.5]]),
                "x": np.array([[2.0, 1, -1, -2], [-3, 0.5, 4, -0.5], [1, -1, 1, -1]]),
            },
        ),
        case("a batch of maps, float32", (2, 3, 4, 5), F32),
        case("a batch of maps, float64", (2, 2, 5, 3)),
        case("three 4 x 5 maps", (3, 4, 5)),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            shape = tuple(int(v) for v in rng.integers(1, 7, int(rng.integers(1, 5))))
            dtype = F32 if rng.random() < 0.5 else F64
            cases.append(case(f"random, {np.dtype(dtype)}", shape, dtype))
    return cases


def _relu_backward_mistakes(case: Case):
    dout, x = case.args["dout"], case.args["x"]
    variants = [
        (
            "upstream gradient ignored: only the mask x > 0 returned",
            "the mask only says where the gradient may pass; what passes there is the gradient "
            "that arrives from above, dout, not 1.",
            lambda: (x > 0).astype(x.dtype),
        ),
        (
            "the gradient passes at x == 0 too (>= instead of >)",
            "at exactly 0 the gradient is taken as 0, as in PyTorch: pass dout only where x > 0.",
            lambda: dout * (x >= 0),
        ),
        (
            "the mask built from dout instead of x",
            "whether the gradient passes depends on the forward input x: where x > 0.",
            lambda: dout * (dout > 0),
        ),
        (
            "dout and x swapped",
            "relu_backward(dout, x): the first argument is the upstream gradient, the second the "
            "forward input.",
            lambda: x * (dout > 0),
        ),
        (
            "relu(x) returned: the forward pass, not the gradient",
            "return the gradient with respect to x: dout where x > 0, else 0.",
            lambda: np.maximum(x, 0),
        ),
        (
            "multiplied by x instead of by a 0/1 mask",
            "the derivative of relu is 1 where x > 0 and 0 elsewhere, not x.",
            lambda: dout * x * (x > 0),
        ),
        (
            "mask inverted: the gradient passes where x < 0",
            "the gradient flows back where the forward pass let x through: where x > 0.",
            lambda: dout * (x < 0),
        ),
        ("dout returned unchanged", "block the gradient where x <= 0.", lambda: dout),
        *(
            (
                "the gradient leaks through where x < 0 (a leaky ReLU's derivative)",
                "where relu set x to 0, a small change of x changes nothing: the gradient "
                "there is exactly 0.",
                lambda slope=slope: np.where(x > 0, dout, slope * dout),
            )
            for slope in (0.01, 0.1, 0.2, 0.05)
        ),
        (
            "multiplied by the sign of x: flipped where x < 0 instead of blocked",
            "the slope of relu is 1 where x > 0 and 0 where x < 0; it is never -1.",
            lambda: dout * np.sign(x),
        ),
        (*SIGN, lambda: -case.expected),
    ]
    for name, hint, make in variants:
        yield Mistake(name, hint, make)


def check_relu_backward(fn, *, thorough=False) -> None:
    """Check ``relu_backward(dout, x) -> dx``, same shape as ``x``.

    Names: upstream gradient ignored (mask only), ``>=`` instead of ``>``, mask
    from dout, arguments swapped, forward returned, multiplied by x, mask
    inverted, dout unchanged, leaky, multiplied by the sign of x, wrong sign.
    Refuses cnnlab's own ``relu_backward``.
    """
    run(
        Check(
            "relu_backward",
            REF.relu_backward,
            _relu_backward_cases(thorough),
            _relu_backward_mistakes,
            layout="(the shape of x)",
            uses=(),
        ),
        fn,
        thorough,
    )


# ------------------------------------------------------------------ pooling backward


def _pool_backward_cases(thorough: bool, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    grid, odd = pooling_maps()
    peak = np.arange(25.0).reshape(5, 5) % 7
    peak[2, 2] = 9.0  # the largest value, inside all four overlapping windows

    def case(title, x, kwargs=None, dout=None):
        kwargs = kwargs or {}
        kernel = kwargs.get("kernel_size", 2)
        stride = kwargs.get("stride") or kernel
        (kh, kw), (sh, sw) = pair(kernel), pair(stride)
        shape = (*x.shape[:2], (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1)
        if dout is None:
            dout = normal(rng, shape, x.dtype)
        return Case(title, {"dout": np.asarray(dout, x.dtype).reshape(shape), "x": x}, kwargs)

    cases = [
        case("a 4 x 4 map, 2 x 2 windows", grid, dout=[[2.0, -1], [3, 5]]),
        case("a 5 x 5 map: the last row and column are in no window", odd),
        case(
            "3 x 3 windows with stride 2: the peak in the middle is in all four windows",
            peak.reshape(1, 1, 5, 5),
            {"kernel_size": 3, "stride": 2},
            dout=[[1.0, 2], [3, 5]],
        ),
        case(
            "2 x 3 windows with the default stride, float32",
            distinct(rng, (2, 3, 6, 8), F32),
            {"kernel_size": (2, 3)},
        ),
        case(
            "2 x 2 windows, stride 1", distinct(rng, (2, 2, 7, 6)), {"kernel_size": 2, "stride": 1}
        ),
        case(
            "3 x 3 windows, stride (2, 1)",
            distinct(rng, (3, 2, 9, 7)),
            {"kernel_size": 3, "stride": (2, 1)},
        ),
        case(
            "ties, as after a ReLU: several values share a window's maximum",
            np.array([[[[1.0, 1, 0, 2], [0, 1, 2, 2]]]]),
            dout=[[3.0, 5]],
        ),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for title, x, kwargs in random_pooling(rng):
            cases.append(case(title, x, kwargs))
    return cases


def _route(
    dout, x, kernel, stride, *, pick="first", offset=True, place=(True, True), add=True, cut=False
) -> np.ndarray:
    """A loop version of the pooling gradients, with the knobs learners get wrong.

    ``offset=False`` reads every window at the top-left corner; ``place`` says
    whether the window's row and column offsets are added where the gradient
    is written (the window itself is read at the right place); ``cut`` lets a
    window that runs over the edge be cut short, as slicing does (``"flat"``:
    and find the maximum's row and column as ``divmod(argmax, kw)``).
    """
    (kh, kw), (sh, sw) = pair(kernel), pair(stride)
    dx = np.zeros(x.shape)
    for n, c, i, j in np.ndindex(dout.shape):
        top, left = (i * sh, j * sw) if offset else (0, 0)
        window = x[n, c, top : top + kh, left : left + kw]
        if window.shape != (kh, kw) and not (cut and window.size):
            raise ValueError("the window does not fit")
        top, left = (top if place[0] else 0), (left if place[1] else 0)
        mask = np.zeros(window.shape, dtype=bool)
        if pick == "first" and cut == "flat":  # divmod(argmax, kw), even in a short window
            r, s = divmod(int(np.argmax(window)), kw)
            mask = np.zeros((max(r + 1, window.shape[0]), max(s + 1, window.shape[1])), bool)
            mask[r, s] = True
            mask = mask[: window.shape[0], : window.shape[1]]
            if not mask.any():
                raise ValueError("the gradient falls outside x")
        elif pick == "first":
            mask[np.unravel_index(np.argmax(window), window.shape)] = True
        elif pick == "last":
            last = window.size - 1 - np.argmax(window.ravel()[::-1])
            mask[np.unravel_index(last, window.shape)] = True
        elif pick == "ties":
            mask = window == window.max()
        else:  # "all" or "mean"
            mask[:] = True
        share = dout[n, c, i, j] / (kh * kw if pick == "mean" else 1)
        region = dx[n, c, top : top + window.shape[0], left : left + window.shape[1]]
        if add:
            region[mask] += share
        else:
            region[mask] = share
    return dx


def _pool_backward_mistakes(case: Case, backward, mean: bool):
    dout, x = case.args["dout"], case.args["x"]
    kernel = case.kwargs.get("kernel_size", 2)
    given = case.kwargs.get("stride")
    stride = kernel if given is None else given
    sh, sw = pair(stride)
    pick = "mean" if mean else "first"
    yield Mistake(
        "upstream gradient ignored",
        "each window passes back its own upstream gradient dout[n, c, i, j], not 1.",
        lambda: backward(np.ones_like(dout), x, kernel, stride),
    )
    yield Mistake(
        "overlapping windows overwrite each other (= instead of +=)",
        "where windows overlap, an input collects the gradient of every window it "
        "belongs to: add to dx, do not assign.",
        lambda: _route(dout, x, kernel, stride, pick=pick, add=False),
    )
    position = "the window's position not added to the position inside the window"
    position_hint = "window (i, j) starts at row i * stride and column j * stride of x."
    yield Mistake(
        position, position_hint, lambda: _route(dout, x, kernel, stride, pick=pick, offset=False)
    )
    yield Mistake(
        position,
        position_hint,
        lambda: _route(dout, x, kernel, stride, pick=pick, place=(False, False)),
    )
    for place in ((True, False), (False, True)):
        yield Mistake(
            "the window's position added along one axis only",
            "window (i, j) starts at row i * stride and column j * stride of x: the gradient "
            "goes to the row offset plus the row inside the window, and likewise for the "
            "column.",
            lambda place=place: _route(dout, x, kernel, stride, pick=pick, place=place),
        )
    if (sh, sw) != (1, 1):
        yield Mistake(
            "stride defaults to 1 instead of kernel_size"
            if given is None
            else "stride ignored (windows one pixel apart)",
            "window (i, j) starts at row i * stride and column j * stride; when stride "
            "is None, it equals kernel_size.",
            lambda: _route(dout, x, kernel, 1, pick=pick),
        )
    if given is not None and pair(given) != pair(kernel):
        yield Mistake(
            "stride ignored (the windows stepped by kernel_size)",
            "use the stride that is passed; it defaults to kernel_size only when it is None.",
            lambda: _route(dout, x, kernel, kernel, pick=pick, cut=True),
        )
        if not mean:
            yield Mistake(
                "stride ignored (the windows stepped by kernel_size)",
                "use the stride that is passed; it defaults to kernel_size only when it is None.",
                lambda: _route(dout, x, kernel, kernel, pick=pick, cut="flat"),
            )
    yield Mistake(*SIGN, lambda: -case.expected)
    yield Mistake(
        "dx has the shape of dout",
        "dx is the gradient with respect to x, so it has the shape of x.",
        lambda: dout.shape,
        shape_only=True,
    )


def _max_pool_backward_mistakes(case: Case):
    dout, x = case.args["dout"], case.args["x"]
    kernel = case.kwargs.get("kernel_size", 2)
    stride = case.kwargs.get("stride") or kernel
    yield Mistake(
        "gradient given to every tied maximum",
        "when several values tie for a window's maximum, only the first one (row by "
        "row, as argmax finds it) gets the gradient, as in PyTorch.",
        lambda: _route(dout, x, kernel, stride, pick="ties"),
    )
    yield Mistake(
        "gradient given to the last of the tied maxima",
        "when several values tie, the first one (row by row) gets the gradient, as in PyTorch.",
        lambda: _route(dout, x, kernel, stride, pick="last"),
    )
    yield from _pool_backward_mistakes(case, REF.max_pool2d_backward, mean=False)
    yield Mistake(
        "gradient sent to every element of the window, not just the maximum",
        "only the largest value of a window reached the output, so only it gets the gradient.",
        lambda: _route(dout, x, kernel, stride, pick="all"),
    )
    yield Mistake(
        "average pooling's gradient: shared equally by the window",
        "only the largest value of a window reached the output, so only it gets the gradient.",
        lambda: REF.avg_pool2d_backward(dout, x, kernel, stride),
    )
    yield Mistake(
        "gradient sent to the minimum",
        "the value that max pooling passed on is the window's largest.",
        lambda: REF.max_pool2d_backward(dout, -x, kernel, stride),
    )


def _avg_pool_backward_mistakes(case: Case):
    dout, x = case.args["dout"], case.args["x"]
    kernel = case.kwargs.get("kernel_size", 2)
    stride = case.kwargs.get("stride") or kernel
    kw = pair(kernel)[1]
    yield from _pool_backward_mistakes(case, REF.avg_pool2d_backward, mean=True)
    yield Mistake(
        "not divided by the window size",
        "each of the kh * kw inputs of a window contributed 1 / (kh * kw) of its mean.",
        lambda: _route(dout, x, kernel, stride, pick="all"),
    )
    if kw > 1:
        yield Mistake(
            "divided by kernel height (or width) only",
            "a window holds kh * kw values: divide by all of them.",
            lambda: case.expected * kw,
        )
    yield Mistake(
        "max pooling's gradient",
        "average pooling shares each window's gradient equally among its inputs.",
        lambda: REF.max_pool2d_backward(dout, x, kernel, stride),
    )


def check_max_pool2d_backward(fn, *, thorough=False) -> None:
    """Check ``max_pool2d_backward(dout, x, kernel_size=2, stride=None) -> dx``.

    Names: every tied maximum or the last one rewarded, upstream gradient
    ignored, overlapping windows overwriting, window position not added or
    added along one axis only, stride defaulting to 1, ignored or replaced
    by kernel_size, wrong sign, dx shaped like dout,
    gradient to every element of the window, average pooling's gradient,
    gradient to the minimum. Refuses cnnlab's own
    ``max_pool2d_backward``; ``max_pool2d`` and ``output_size`` may be used.
    """
    run(
        Check(
            "max_pool2d_backward",
            REF.max_pool2d_backward,
            _pool_backward_cases(thorough, 1313),
            _max_pool_backward_mistakes,
            layout="(N, C, H, W), the shape of x",
            uses=("max_pool2d", "output_size"),
        ),
        fn,
        thorough,
    )


def check_avg_pool2d_backward(fn, *, thorough=False) -> None:
    """Check ``avg_pool2d_backward(dout, x, kernel_size=2, stride=None) -> dx``.

    Names: upstream gradient ignored, overlapping windows overwriting, window
    position not added or added along one axis only, stride defaulting to 1,
    ignored or replaced by kernel_size, wrong sign, dx
    shaped like dout, not divided by the window size or by one side only, max
    pooling's gradient. Refuses cnnlab's own ``avg_pool2d_backward``.
    """
    run(
        Check(
            "avg_pool2d_backward",
            REF.avg_pool2d_backward,
            _pool_backward_cases(thorough, 1414),
            _avg_pool_backward_mistakes,
            layout="(N, C, H, W), the shape of x",
            uses=("output_size",),
        ),
        fn,
        thorough,
    )


# ----------------------------------------------------------------------- dense_backward

_DENSE_PARTS = ("dx", "dweight", "dbias")


def _dense_backward_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(1515)

    def case(title, n, i, o, dtype=F64):
        return Case(
            title,
            {
                "dout": normal(rng, (n, o), dtype),
                "x": normal(rng, (n, i), dtype),
                "weight": normal(rng, (i, o), dtype),
            },
        )

    cases = [
        Case(
            "one example, a square 3 x 3 weight",
            {
                "dout": np.array([[1.0, -1.0, 2.0]]),
                "x": np.array([[1.0, 2.0, 3.0]]),
                "weight": np.array([[1.0, 2, 0], [0, 1, -1], [2, 0, 1]]),
            },
        ),
        Case(
            "a batch of two, 3 features in, 2 out",
            {
                "dout": np.array([[1.0, 2.0], [-1.0, 0.5]]),
                "x": np.array([[1.0, 0, 2], [-1, 3, 1]]),
                "weight": np.array([[1.0, 2], [0, -1], [3, 1]]),
            },
        ),
        case("a float32 batch of 4", 4, 5, 3, F32),
        case("a batch of 6, 7 features in, 4 out", 6, 7, 4),
        case("a batch of 5, square weight", 5, 4, 4),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            n, i, o = (int(v) for v in rng.integers(1, 12, 3))
            dtype = F32 if rng.random() < 0.5 else F64
            cases.append(case(f"random, {np.dtype(dtype)}", n, i, o, dtype))
    return cases


def _dense_backward_mistakes(case: Case):
    dout, x, weight = case.args["dout"], case.args["x"], case.args["weight"]
    n = x.shape[0]
    _, dweight, dbias = case.expected
    yield Mistake(
        "dx: weight not transposed",
        "out = x @ weight takes in_features to out_features; dx goes back the other way, "
        "from (N, out_features) to (N, in_features): let the shapes guide the product.",
        lambda: (dout @ weight, None, None),
    )
    yield Mistake(
        "dweight transposed",
        "dweight has the shape of weight, (in_features, out_features).",
        lambda: (None, dweight.T, None),
    )
    if n > 1:
        yield Mistake(
            "every gradient divided by the batch size",
            "dout already holds the 1/N of the mean loss (cross_entropy_backward divides "
            "by N): sum over the batch here, and divide nothing again.",
            lambda: tuple(g / n for g in case.expected),
        )
    yield Mistake(
        "dbias kept as a row of shape (1, out_features) (keepdims=True)",
        "dbias has the shape of the bias, (out_features,): sum over the batch axis without "
        "keeping it.",
        lambda: (None, None, dbias[None]),
    )
    if n > 1:
        for name, hint, make in [
            (
                "dweight averaged over the batch instead of summed",
                "each example adds its own contribution to dweight: sum over the batch, do not "
                "average.",
                lambda: (None, dweight / n, None),
            ),
            (
                "dweight from the first example only (not summed over the batch)",
                "every example of the batch contributes to dweight: add them all up.",
                lambda: (None, x[:1].T @ dout[:1], None),
            ),
            (
                "dweight from the last example only (not summed over the batch)",
                "every example of the batch contributes to dweight: add them all up.",
                lambda: (None, x[-1:].T @ dout[-1:], None),
            ),
            (
                "dbias averaged over the batch instead of summed",
                "the bias is added to every example, so its gradient is dout summed over the "
                "batch.",
                lambda: (None, None, dbias / n),
            ),
            (
                "dbias from the first example only (not summed over the batch)",
                "the bias is added to every example: sum dout over the batch axis.",
                lambda: (None, None, dout[0]),
            ),
        ]:
            yield Mistake(name, hint, make)
    yield Mistake(
        "dbias summed over the wrong axis",
        "dbias has one value per output feature: sum dout over the batch axis (axis 0).",
        lambda: (None, None, dout.sum(axis=1)),
    )
    yield Mistake(
        "dbias not summed: one row per example",
        "dbias has shape (out_features,): sum dout over the batch axis.",
        lambda: (None, None, dout),
    )
    yield Mistake(
        "upstream gradient ignored",
        "every gradient is built from dout, the gradient coming from the layer above.",
        lambda: REF.dense_backward(np.ones_like(dout), x, weight),
    )
    yield Mistake(*SIGN, lambda: tuple(-g for g in case.expected))
    yield from wrong_order(case.expected, _DENSE_PARTS)


def check_dense_backward(fn, *, thorough=False) -> None:
    """Check ``dense_backward(dout, x, weight) -> (dx, dweight, dbias)``.

    Names: weight not transposed in dx, dweight transposed, every gradient
    divided by N, dbias kept as a (1, out) row, dweight or dbias averaged or
    taken from one example (not summed over the batch), dbias summed over
    the wrong axis or not at all, upstream gradient ignored, wrong
    sign, gradients in the wrong order. Refuses cnnlab's own
    ``dense_backward``; ``dense`` may be used.
    """
    run(
        Check(
            "dense_backward",
            REF.dense_backward,
            _dense_backward_cases(thorough),
            _dense_backward_mistakes,
            returns="tuple",
            parts=_DENSE_PARTS,
            layout=("(N, in_features)", "(in_features, out_features)", "(out_features,)"),
            uses=("dense",),
        ),
        fn,
        thorough,
    )


# ---------------------------------------------------------------- cross_entropy_backward


def _cross_entropy_backward_mistakes(case: Case):
    z, labels = case.args["logits"], case.args["labels"]
    n, k = z.shape
    rows = np.arange(n)
    z64 = z.astype(F64)
    p = REF.softmax(z64, axis=1)
    one_hot = np.zeros((n, k))
    one_hot[rows, labels] = 1
    grad = case.expected
    if n > 1:
        yield Mistake(
            "not divided by the batch size: the gradient of the summed loss",
            "cross_entropy is the mean over the batch, so each row's gradient is divided by N.",
            lambda: grad * n,
        )
    yield Mistake(*SIGN, lambda: -grad)
    yield Mistake(
        "labels ignored: the one-hot of the true class not subtracted",
        "the gradient is (probabilities - one_hot(labels)) / N: subtract 1 at each row's label.",
        lambda: p / n,
    )
    yield Mistake(
        "1 subtracted everywhere, not just at the true class",
        "subtract 1 only at each row's own label.",
        lambda: (p - 1) / n,
    )
    if n > 1:

        def columns():
            wrong = p.copy()
            wrong[:, labels] -= 1
            return wrong / n

        yield Mistake(
            "one-hot subtracted with [:, labels], which hits every row at every label",
            "pick one entry per row: the row index and that row's label go together.",
            columns,
        )
    yield Mistake(
        "overflow on large logits: exp gives inf, and the gradient NaN",
        _OVERFLOW_HINT,
        lambda: (np.exp(z64) / np.exp(z64).sum(1, keepdims=True) - one_hot) / n,
    )
    yield Mistake(
        "logits used instead of probabilities",
        "turn the logits into probabilities with softmax first.",
        lambda: (z64 - one_hot) / n,
    )
    if n > 1:
        yield Mistake(
            "softmax over the wrong axis (over the examples)",
            "the classes lie along axis 1: each row is one example's scores.",
            lambda: (REF.softmax(z64, axis=0) - one_hot) / n,
        )
    if n > 1:
        for make in (lambda: p / n - one_hot, lambda: p - one_hot / n):
            yield Mistake(
                "only part of the gradient divided by N",
                "the whole difference, probabilities minus the one-hot labels, is divided by N.",
                make,
            )
    yield Mistake(
        "divided by the number of classes instead of the batch size",
        "the loss is the mean over the N examples: divide by N.",
        lambda: (p - one_hot) / k,
    )


def check_cross_entropy_backward(fn, *, thorough=False) -> None:
    """Check ``cross_entropy_backward(logits, labels) -> dlogits`` (of the mean loss).

    Names: not divided by N (sum instead of mean), wrong sign, labels ignored,
    1 subtracted everywhere, ``[:, labels]`` indexing, overflow on large
    logits, logits used instead of probabilities, softmax over the wrong axis,
    only part of the gradient divided by N, divided by the number of classes.
    Refuses cnnlab's own ``cross_entropy_backward``; ``softmax``
    and ``log_softmax`` may be used.
    """
    run(
        Check(
            "cross_entropy_backward",
            REF.cross_entropy_backward,
            _labelled_cases(thorough, 1616),
            _cross_entropy_backward_mistakes,
            layout="(N, K), the shape of logits",
            uses=("softmax", "log_softmax"),
        ),
        fn,
        thorough,
    )
