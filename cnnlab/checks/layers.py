"""Checks of the layers between convolutions and the classifier: ReLU, pooling, flatten, dense.

Pooling cases include windows that overlap, sizes that leave a row or column
out, windows that are not square, and maps whose values are all negative (a
maximum that starts at 0 gets those wrong).
"""

from __future__ import annotations

import numpy as np

from cnnlab.checks._core import (
    REF,
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
)

__all__ = [
    "check_avg_pool2d",
    "check_dense",
    "check_flatten",
    "check_max_pool2d",
    "check_relu",
]

F32, F64 = np.float32, np.float64


# ------------------------------------------------------------------------------ relu


def _relu_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(404)
    cases = [
        Case("five numbers", {"x": np.array([-2.0, -0.5, 0.0, 0.5, 3.0])}),
        Case(
            "a 3 x 4 activation map",
            {"x": np.array([[-1.0, 2, -3, 4], [5, -6, 7, -8], [0, 0.5, -0.5, 1]])},
        ),
        Case("a batch of maps, float32", {"x": normal(rng, (2, 3, 4, 5), F32)}),
        Case("only negative values", {"x": -np.abs(normal(rng, (2, 3))) - 0.1}),
        Case("three 4 x 5 maps", {"x": normal(rng, (3, 4, 5))}),
        Case("a batch of maps, float64", {"x": normal(rng, (2, 2, 5, 3))}),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            shape = tuple(int(v) for v in rng.integers(1, 7, int(rng.integers(1, 5))))
            dtype = F32 if rng.random() < 0.5 else F64
            cases.append(Case(f"random, {np.dtype(dtype)}", {"x": normal(rng, shape, dtype) * 3}))
    return cases


def _relu_mistakes(case: Case):
    x = case.args["x"]
    variants = [
        (
            "absolute value instead of clamping",
            "negative values become 0, they do not turn positive.",
            lambda: np.abs(x),
        ),
        (
            "the negative values kept instead of the positive ones",
            "ReLU keeps what is above 0 and replaces what is below by 0.",
            lambda: np.minimum(x, 0),
        ),
        (
            "the mask x > 0 returned instead of the values",
            "positive values pass through unchanged; only negative ones become 0.",
            lambda: (x > 0).astype(x.dtype),
        ),
        (
            "x returned unchanged",
            "replace every negative value by 0, and keep the others.",
            lambda: x,
        ),
        ("sign flipped", "ReLU keeps the positive values as they are.", lambda: np.maximum(-x, 0)),
        *(
            (
                "negative values scaled down instead of set to 0 (a leaky ReLU)",
                "ReLU sets every negative value to exactly 0.",
                lambda slope=slope: np.where(x > 0, x, slope * x),
            )
            for slope in (0.01, 0.1, 0.2, 0.05)
        ),
        (
            "values also capped at 1",
            "ReLU has no upper limit: positive values pass through unchanged.",
            lambda: np.clip(x, 0, 1),
        ),
    ]
    for name, hint, make in variants:
        yield Mistake(name, hint, make)


def check_relu(fn, *, thorough=False) -> None:
    """Check ``relu(x)``: any shape, same shape out, a new array.

    Names: absolute value, negative part kept, mask returned, x unchanged,
    sign flipped, leaky, capped at 1, input modified in place. Refuses cnnlab's
    own ``relu``.
    """
    run(
        Check(
            "relu",
            REF.relu,
            _relu_cases(thorough),
            _relu_mistakes,
            layout="(the shape of x)",
            uses=(),
        ),
        fn,
        thorough,
    )


# --------------------------------------------------------------------------- pooling


def _pool_cases(thorough: bool, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    grid, odd = pooling_maps()
    cases = [
        Case("a 4 x 4 map, 2 x 2 windows (the defaults)", {"x": grid}),
        Case("a 5 x 5 map: the last row and column fit no window", {"x": odd}),
        Case("only negative values", {"x": -1.0 - grid[:, :, ::-1]}),
        Case(
            "3 x 3 windows, stride defaulting to 3",
            {"x": distinct(rng, (2, 3, 6, 7))},
            {"kernel_size": 3},
        ),
        Case(
            "3 x 3 windows with stride 2: the windows overlap",
            {"x": distinct(rng, (1, 2, 7, 7))},
            {"kernel_size": 3, "stride": 2},
        ),
        Case(
            "2 x 3 windows, stride (1, 2), float32",
            {"x": distinct(rng, (2, 2, 6, 8), F32)},
            {"kernel_size": (2, 3), "stride": (1, 2)},
        ),
        Case(
            "2 x 2 windows with stride 1",
            {"x": distinct(rng, (3, 2, 5, 6))},
            {"kernel_size": 2, "stride": 1},
        ),
        Case(
            "uint8 pixels, 0 to 255: computed in float64",
            {"x": (grid * 30).astype(np.uint8)},
        ),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for title, x, kwargs in random_pooling(rng):
            cases.append(Case(title, {"x": x}, kwargs))
    return cases


def _ceil_pool(pool, x: np.ndarray, kernel, stride, fill) -> np.ndarray:
    """Pooling that keeps the windows hanging over the edge (filled with ``fill``)."""
    (kh, kw), (sh, sw) = pair(kernel), pair(stride)
    height, width = x.shape[2:]
    ho, wo = -(-(height - kh) // sh) + 1, -(-(width - kw) // sw) + 1
    padded = np.pad(
        x,
        [(0, 0), (0, 0), (0, (ho - 1) * sh + kh - height), (0, (wo - 1) * sw + kw - width)],
        constant_values=fill,
    )
    return pool(padded, kernel, stride)


def _pool_mistakes(case: Case, pool, other, other_name):
    x = case.args["x"]
    x = x if x.dtype.kind == "f" else x.astype(F64)  # as the contract computes integers
    kernel = case.kwargs.get("kernel_size", 2)
    given = case.kwargs.get("stride")
    stride = kernel if given is None else given
    (kh, kw), (sh, sw) = pair(kernel), pair(stride)
    expected = case.expected
    yield Mistake(
        f"{other_name} instead of {'max' if pool is REF.max_pool2d else 'average'}",
        "max pooling keeps the largest value of each window; average pooling its mean.",
        lambda: other(x, kernel, stride),
    )
    if given is None and (sh, sw) != (1, 1):
        yield Mistake(
            "stride defaults to 1 instead of kernel_size",
            "when stride is None the windows do not overlap: the stride is kernel_size.",
            lambda: pool(x, kernel, 1),
        )
    if given is not None and pair(given) != (kh, kw):
        yield Mistake(
            "stride ignored (the windows stepped by kernel_size)",
            "use the stride that is passed; it defaults to kernel_size only when it is None.",
            lambda: pool(x, kernel, kernel),
        )
    if given is not None and (sh, sw) != (1, 1):
        yield Mistake(
            "stride ignored (the windows moved one pixel at a time)",
            "with stride s, output position i starts at pixel i * s.",
            lambda: pool(x, kernel, 1),
        )
    if kh != kw:
        yield Mistake(
            "window height and width swapped",
            "kernel_size=(kh, kw) is (height, width): kh rows, kw columns.",
            lambda: pool(x, (kw, kh), stride if given is not None else (kw, kh)),
        )
    if kh != kw:
        for side in (kh, kw):
            for step in (stride, side):
                yield Mistake(
                    "one side of the window used for both",
                    "kernel_size=(kh, kw) is a window of kh rows and kw columns; it need not "
                    "be square.",
                    lambda side=side, step=step: pool(x, side, step),
                )
    if sh != sw and given is not None:
        yield Mistake(
            "vertical and horizontal stride swapped",
            "stride=(sh, sw) is (vertical, horizontal).",
            lambda: pool(x, kernel, (sw, sh)),
        )
        for one in (sh, sw):
            yield Mistake(
                "one stride used for both axes",
                "stride=(sh, sw) gives each axis its own step: sh rows down, sw columns across.",
                lambda one=one: pool(x, kernel, one),
            )
    is_max = pool is REF.max_pool2d
    ceil = _ceil_pool(pool, x, kernel, stride, -np.inf)
    yield Mistake(
        "windows hanging over the edge were kept (output size rounded up)",
        "rows and columns that do not fill a whole window are dropped: sizes round down.",
        # max pooling over a partial window is easy to compute, so match the values;
        # for average pooling, match the shape only
        lambda: ceil if is_max else ceil.shape,
        shape_only=not is_max,
    )
    lead, (ho, wo) = expected.shape[:2], expected.shape[2:]
    for dh, dw in [(1, 1), (1, 0), (0, 1), (-1, -1), (-1, 0), (0, -1)]:
        yield Mistake(
            "output size off by one",
            "count the window positions: the last window must fit entirely inside the map.",
            lambda dh=dh, dw=dw: (*lead, ho + dh, wo + dw),
            shape_only=True,
        )
    yield Mistake(
        "pooled the whole map at once",
        "each window of kernel_size gives one output value; the map shrinks, it does not vanish.",
        lambda: x.max(axis=(2, 3)) if pool is REF.max_pool2d else x.mean(axis=(2, 3)),
    )


def _max_pool_mistakes(case: Case):
    x = case.args["x"]
    kernel = case.kwargs.get("kernel_size", 2)
    stride = case.kwargs.get("stride")
    stride = kernel if stride is None else stride
    yield from _pool_mistakes(case, REF.max_pool2d, REF.avg_pool2d, "average")
    yield Mistake(
        "the maximum starts at 0, so negative windows give 0",
        "start from the window's first value (or -infinity), not from 0.",
        lambda: np.maximum(case.expected, 0),
    )
    yield Mistake(
        "minimum instead of maximum",
        "max pooling keeps the largest value of each window.",
        lambda: -REF.max_pool2d(-x, kernel, stride),
    )
    yield Mistake(
        "sum instead of maximum",
        "max pooling keeps the largest value of each window.",
        lambda: REF.avg_pool2d(x, kernel, stride) * np.prod(pair(kernel)),
    )


def _avg_pool_mistakes(case: Case):
    kh, kw = pair(case.kwargs.get("kernel_size", 2))
    yield from _pool_mistakes(case, REF.avg_pool2d, REF.max_pool2d, "maximum")
    yield Mistake(
        "sum instead of average",
        "divide each window's sum by the number of values in it, kh * kw.",
        lambda: case.expected * (kh * kw),
    )
    if kh * kw != kh:
        yield Mistake(
            "divided by kernel height (or width) only",
            "a window holds kh * kw values: divide by all of them.",
            lambda: case.expected * kw,
        )


def check_max_pool2d(fn, *, thorough=False) -> None:
    """Check ``max_pool2d(x, kernel_size=2, stride=None) -> (N, C, Ho, Wo)``.

    Names: average, minimum or sum instead of maximum, maximum started at 0,
    stride defaulting to 1, stride ignored, swapped or one stride for both
    axes, window height and width swapped or one side for both, partial
    windows kept (rounded up), output size off by one, the whole map pooled.
    Refuses cnnlab's own ``max_pool2d``.
    """
    run(
        Check(
            "max_pool2d",
            REF.max_pool2d,
            _pool_cases(thorough, 505),
            _max_pool_mistakes,
            layout="(N, C, Ho, Wo)",
            uses=("output_size",),
        ),
        fn,
        thorough,
    )


def check_avg_pool2d(fn, *, thorough=False) -> None:
    """Check ``avg_pool2d(x, kernel_size=2, stride=None) -> (N, C, Ho, Wo)``.

    Names: maximum instead of average, sum instead of average, divided by one
    side of the window only, stride defaulting to 1, stride ignored, swapped
    or one stride for both axes, window height and width swapped or one side
    for both, partial windows kept, output size off by one, the whole map
    pooled. Refuses cnnlab's own ``avg_pool2d``.
    """
    run(
        Check(
            "avg_pool2d",
            REF.avg_pool2d,
            _pool_cases(thorough, 606),
            _avg_pool_mistakes,
            layout="(N, C, Ho, Wo)",
            uses=("output_size",),
        ),
        fn,
        thorough,
    )


# --------------------------------------------------------------------------- flatten


def _flatten_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(707)
    cases = [
        Case("two 2-channel 2 x 2 maps", {"x": np.arange(16.0).reshape(2, 2, 2, 2)}),
        Case("one example with 3 channels", {"x": np.arange(12.0).reshape(1, 3, 2, 2)}),
        Case("a batch of 3 x 5 maps without channels", {"x": np.arange(30.0).reshape(2, 3, 5)}),
        Case("already flat: (N, features) stays as it is", {"x": np.arange(12.0).reshape(3, 4)}),
        Case("a float32 batch", {"x": normal(rng, (4, 2, 3, 3), F32)}),
        Case("a float64 batch", {"x": normal(rng, (2, 3, 4, 5))}),
        Case("integers: computed in float64", {"x": np.arange(8).reshape(2, 1, 2, 2)}),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            shape = tuple(int(v) for v in rng.integers(1, 6, int(rng.integers(2, 6))))
            dtype = F32 if rng.random() < 0.5 else F64
            cases.append(Case(f"random, {np.dtype(dtype)}", {"x": normal(rng, shape, dtype)}))
    return cases


def _columns_first(x: np.ndarray) -> np.ndarray:
    """Each (H, W) map read column by column; a batch of vectors has no maps to read so."""
    if x.ndim < 3:
        raise ValueError("no maps")
    return np.swapaxes(x, -1, -2).reshape(len(x), -1)


def _flatten_mistakes(case: Case):
    x = case.args["x"]
    n = x.shape[0]
    variants = [
        (
            "each example read column by column (Fortran order)",
            "read each example in row-major (C) order: channel by channel, row by row, as numpy's "
            "reshape does by default.",
            lambda: np.stack([e.ravel(order="F") for e in x]),
        ),
        (
            "each map read column by column (its rows and columns swapped)",
            "read each map row by row: all of row 0, then row 1, ..., as numpy's reshape "
            "does by default.",
            lambda: _columns_first(x),
        ),
        (
            "channels-last order (channel values interleaved)",
            "keep the layout (C, H, W): all of channel 0 first, then channel 1, ...",
            lambda: x.transpose(0, 2, 3, 1).reshape(n, -1),
        ),
        (
            "the batch axis was flattened too",
            "keep the first axis: the result has one row per example, shape (N, C*H*W).",
            lambda: x.reshape(-1),
        ),
        (
            "the batch axis was flattened too",
            "keep the first axis: the result has one row per example, shape (N, C*H*W).",
            lambda: x.reshape(1, -1),
        ),
        (
            "the batch axis ended up last",
            "the result has shape (N, C*H*W): one row per example.",
            lambda: x.reshape(-1, n),
        ),
        (
            "result transposed: one column per example",
            "the result has shape (N, C*H*W): one row per example.",
            lambda: x.reshape(n, -1).T,
        ),
        (
            "only the first example flattened",
            "flatten every example of the batch.",
            lambda: x[0].reshape(-1),
        ),
    ]
    for name, hint, make in variants:
        yield Mistake(name, hint, make)


def check_flatten(fn, *, thorough=False) -> None:
    """Check ``flatten(x) -> (N, C*H*W)`` (any number of axes after the batch axis).

    Names: Fortran order per example or over the whole batch, each map read
    column by column, channels-last order, batch axis flattened too or moved
    last, result transposed, only the first example. Refuses cnnlab's own ``flatten``.
    """
    run(
        Check(
            "flatten",
            REF.flatten,
            _flatten_cases(thorough),
            _flatten_mistakes,
            layout="(N, C*H*W)",
            uses=(),
        ),
        fn,
        thorough,
    )


# ----------------------------------------------------------------------------- dense


def _dense_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(808)

    def case(title, n, i, o, bias=True, dtype=F64):
        args = {"x": normal(rng, (n, i), dtype), "weight": normal(rng, (i, o), dtype)}
        if bias:
            args["bias"] = normal(rng, (o,), dtype)
        return Case(title, args)

    cases = [
        Case(
            "one example, 3 features in, 3 out, with a bias",
            {
                "x": np.array([[1.0, 2.0, 3.0]]),
                "weight": np.array([[1.0, 2, 0], [0, 1, -1], [2, 0, 1]]),
                "bias": np.array([0.5, -1.0, 2.0]),
            },
        ),
        Case(
            "two examples, 3 features in, 2 out, no bias",
            {
                "x": np.array([[1.0, 0, 2], [-1, 3, 1]]),
                "weight": np.array([[1.0, 2], [0, -1], [3, 1]]),
            },
        ),
        case("a float32 batch of 4", 4, 5, 3, dtype=F32),
        case("a batch of 7, 10 features in, 4 out", 7, 10, 4),
        case("a square weight, no bias", 5, 6, 6, bias=False),
        Case(
            "integer features and weights: computed in float64",
            {"x": np.array([[1, 2], [3, 4]]), "weight": np.array([[1, 0, 2], [0, 1, -1]])},
        ),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            n, i, o = (int(v) for v in rng.integers(1, 12, 3))
            dtype = F32 if rng.random() < 0.5 else F64
            cases.append(case(f"random, {np.dtype(dtype)}", n, i, o, rng.random() < 0.7, dtype))
    return cases


def _dense_mistakes(case: Case):
    x, weight, bias = case.args["x"], case.args["weight"], case.args.get("bias")
    expected = case.expected
    if bias is not None:
        yield Mistake("bias forgotten", "add bias to every row of x @ weight.", lambda: x @ weight)
        yield Mistake("bias subtracted", "the bias is added.", lambda: x @ weight - bias)
    yield Mistake(
        "weight transposed",
        "weight has shape (in_features, out_features), so x @ weight already lines up.",
        lambda: REF.dense(x, weight.T, bias),
    )
    yield Mistake(
        "result transposed: one column per example",
        "the result has shape (N, out_features): one row per example.",
        lambda: expected.T,
    )
    yield Mistake(
        "element-wise product instead of a matrix product",
        "every output is a weighted sum of all the inputs: a matrix product.",
        lambda: x * weight + (0 if bias is None else bias),
    )


def check_dense(fn, *, thorough=False) -> None:
    """Check ``dense(x, weight, bias=None) -> (N, out_features)``.

    Names: bias forgotten or subtracted, weight transposed, result transposed,
    element-wise product. Refuses cnnlab's own ``dense``.
    """
    run(
        Check(
            "dense",
            REF.dense,
            _dense_cases(thorough),
            _dense_mistakes,
            layout="(N, out_features)",
            uses=(),
        ),
        fn,
        thorough,
    )
