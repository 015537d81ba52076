"""Checks of softmax, log-softmax and the cross-entropy loss.

Besides the usual cases, each check feeds logits of about ±1000: a softmax
that forgets to subtract the largest logit overflows there, and the message
says so.
"""

from __future__ import annotations

import numpy as np

from cnnlab.checks._core import REF, Case, Check, Mistake, extra_rng, normal, run

__all__ = ["check_cross_entropy", "check_log_softmax", "check_softmax"]

F32, F64 = np.float32, np.float64

_OVERFLOW_HINT = (
    "exp(1000) is too large for a float. Subtracting the same number from every "
    "logit of a row does not change the softmax: subtract the row's largest logit "
    "before taking exp."
)


#: How learners keep a probability away from 0 before taking its log: + eps, or a clip.
_EPSILONS = (1e-7, 1e-8, 1e-9, 1e-10, 1e-12, 1e-15, 1e-16, float(np.finfo(np.float64).eps))
_KEPT_AWAY_FROM_ZERO = tuple(
    keep
    for eps in _EPSILONS
    for keep in (lambda p, eps=eps: p + eps, lambda p, eps=eps: np.clip(p, eps, None))
)


def _axis_cases(thorough: bool, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = [
        Case("three scores", {"logits": np.array([1.0, 2.0, 3.0])}),
        Case("two rows of scores", {"logits": np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])}),
        Case("a square 3 x 3 array", {"logits": np.array([[1.0, 2, 0], [0, 1, 3], [2, 0, 1]])}),
        Case(
            "large logits, about ±1000",
            {"logits": np.array([[1000.0, 1001, 1002], [-1000, -999, -998]])},
        ),
        Case(
            "logits spread far apart in one row",
            {"logits": np.array([[0.0, -1000, 5], [2, 1, 0]])},
        ),
        Case("classes along axis 0", {"logits": normal(rng, (4, 3))}, {"axis": 0}),
        Case("a float32 batch of 5 rows of 10 classes", {"logits": normal(rng, (5, 10), F32) * 3}),
        Case("a 3-D array, classes along axis 1", {"logits": normal(rng, (2, 3, 4))}, {"axis": 1}),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            ndim = int(rng.integers(1, 4))
            shape = tuple(int(v) for v in rng.integers(1, 7, ndim))
            axis = int(rng.integers(-ndim, ndim))
            dtype = F32 if rng.random() < 0.5 else F64
            scale = float(rng.choice([1.0, 10.0, 500.0]))
            logits = normal(rng, shape, dtype) * dtype(scale)
            title = f"random, axis {axis}, logits up to about {scale:g}, {np.dtype(dtype)}"
            cases.append(Case(title, {"logits": logits}, {"axis": axis}))
    return cases


def _axis_mistakes(case: Case, log: bool):
    """Mistakes of softmax (``log=False``) and log_softmax (``log=True``)."""
    z = case.args["logits"]
    axis = case.kwargs.get("axis", -1) % z.ndim
    what = "log_softmax" if log else "softmax"
    top = z.max(axis=axis, keepdims=True)

    def finish(shifted, over=axis, keepdims=True):
        """softmax, or log_softmax the way a learner writes it, of already-shifted logits."""
        e = np.exp(shifted)
        total = e.sum() if over is None else e.sum(axis=over, keepdims=keepdims)
        return shifted - np.log(total) if log else e / total

    def logged(p):  # log_softmax as the log of a softmax
        return np.log(p) if log else p

    if log:  # first: where nothing overflows, naive and stable softmax underflow alike
        yield Mistake(
            "log taken of a softmax that underflowed to 0, giving -inf",
            "compute log_softmax directly: (z - max) - log(sum(exp(z - max))), never log(0).",
            lambda: np.log(REF.softmax(z, axis)),
        )
    overflow = "overflow on large logits: exp gives inf, and the result NaN or inf"
    yield Mistake(overflow, _OVERFLOW_HINT, lambda: finish(z))
    once = "the maximum subtracted in one place only (in exp or in the sum, not both)"
    once_hint = (
        "subtract each row's largest logit once, before anything else, and use the shifted "
        "logits everywhere: in exp and in the sum."
    )
    for top_in_exp, top_in_sum in ((top, 0), (0, top)):
        if log:
            yield Mistake(
                once,
                once_hint,
                lambda a=top_in_exp, b=top_in_sum: (
                    (z - a) - np.log(np.exp(z - b).sum(axis, keepdims=True))
                ),
            )
        else:
            yield Mistake(
                once,
                once_hint,
                lambda a=top_in_exp, b=top_in_sum: (
                    np.exp(z - a) / np.exp(z - b).sum(axis, keepdims=True)
                ),
            )
    yield Mistake(
        overflow, _OVERFLOW_HINT, lambda: logged(np.exp(z) / np.exp(z).sum(axis, keepdims=True))
    )
    for make in (lambda: finish(z - z.max()), lambda: logged(REF.softmax(z - z.max(), axis))):
        yield Mistake(
            "the largest logit of the whole array subtracted, not each row's own",
            "subtract each row's own maximum (along the axis), so that no row underflows to 0/0.",
            make,
        )
    if log:
        for kept in _KEPT_AWAY_FROM_ZERO:
            yield Mistake(
                "log of a probability kept away from 0 (log(p + eps) or a clip)",
                "a probability too small for a float is not 0 in log space: compute "
                "log_softmax from the shifted logits themselves, with no softmax and no eps.",
                lambda kept=kept: np.log(kept(REF.softmax(z, axis))),
            )
        yield Mistake(
            "probabilities returned, not their logarithm",
            "log_softmax returns log(softmax(z)): values that are 0 or below.",
            lambda: REF.softmax(z, axis),
        )
        yield Mistake(
            "log of the sum missing: the result is not normalised",
            "after subtracting the maximum, also subtract log(sum(exp(...))) along the axis.",
            lambda: z - top,
        )
    else:
        for make in (lambda: np.exp(z - top), lambda: np.exp(z)):
            yield Mistake(
                "not normalised: exp without dividing by the sum",
                "divide by the sum along the axis, so that every row adds up to 1.",
                make,
            )
    if "axis" in case.kwargs and axis != z.ndim - 1:
        yield Mistake(
            "the axis argument ignored: normalised along the last axis",
            "use the axis that is passed; only by default is it the last one.",
            lambda: REF.log_softmax(z, -1) if log else REF.softmax(z, -1),
        )
    for other in range(z.ndim):
        if other != axis:
            yield Mistake(
                f"{what} over the wrong axis (axis {other} instead of {axis})",
                "the classes lie along `axis`: take the max and the sum along it only.",
                lambda other=other: REF.log_softmax(z, other) if log else REF.softmax(z, other),
            )
    if z.ndim > 1:
        yield Mistake(
            "normalised over the whole array instead of along the axis",
            "each row (along the axis) must add up to 1 on its own: sum along the axis only.",
            lambda: finish(z - z.max(), over=None),
        )
        yield Mistake(
            "sum taken without keepdims=True, so it broadcast along the wrong axis",
            "keep the reduced axis (keepdims=True), so that each row is divided by its own sum.",
            lambda: finish(z - top, keepdims=False),
        )
        yield Mistake(
            "max taken without keepdims=True, so it was subtracted along the wrong axis",
            "keep the reduced axis (keepdims=True), so that each row loses its own maximum.",
            lambda: finish(z - z.max(axis=axis)),
        )
    if not log:
        yield Mistake(
            "sigmoid of each value on its own",
            "softmax compares the scores of a row: exp of each, divided by their sum.",
            lambda: 1 / (1 + np.exp(-z)),
        )


def check_softmax(fn, *, thorough=False) -> None:
    """Check ``softmax(logits, axis=-1)``: same shape, positive, sums to 1 along ``axis``.

    Names: overflow on large logits (NaN/inf), the maximum subtracted in one
    place only, global instead of per-row maximum, not normalised, the axis
    argument ignored, wrong axis, normalised over the whole array, sum or max
    without keepdims, sigmoid. Refuses cnnlab's own ``softmax`` and
    ``log_softmax``.
    """
    run(
        Check(
            "softmax",
            REF.softmax,
            _axis_cases(thorough, 909),
            lambda case: _axis_mistakes(case, log=False),
            layout="(the shape of logits)",
            uses=(),
        ),
        fn,
        thorough,
    )


def check_log_softmax(fn, *, thorough=False) -> None:
    """Check ``log_softmax(logits, axis=-1)``: the log of softmax, finite for ±1000 logits.

    Names: log of an underflowed softmax (-inf), overflow, the maximum
    subtracted in one place only, global maximum, log of a probability kept
    away from 0 (eps or clip), probabilities instead of logs, log-sum
    missing, the axis argument ignored, wrong axis, whole array, sum or max
    without keepdims. Refuses cnnlab's own ``log_softmax`` and
    ``softmax``.
    """
    run(
        Check(
            "log_softmax",
            REF.log_softmax,
            _axis_cases(thorough, 1010),
            lambda case: _axis_mistakes(case, log=True),
            layout="(the shape of logits)",
            uses=(),
        ),
        fn,
        thorough,
    )


# --------------------------------------------------------------------- cross_entropy


def _labelled_cases(thorough: bool, seed: int) -> list[Case]:
    """Cases of (logits, labels), shared by cross_entropy and its gradient."""
    rng = np.random.default_rng(seed)

    def case(title, logits, labels):
        return Case(title, {"logits": logits, "labels": np.asarray(labels, dtype=np.int64)})

    def rand(title, n, k, dtype=F64, scale=2.0):
        return case(title, normal(rng, (n, k), dtype) * dtype(scale), rng.integers(0, k, n))

    cases = [
        case("one example, 3 classes", np.array([[2.0, 1.0, 0.1]]), [0]),
        case(
            "three examples, 4 classes",
            np.array([[1.0, 2, 0, -1], [3, 1, 0.5, 0], [0, -2, 1, 2]]),
            [3, 0, 1],
        ),
        case(
            "large logits, about ±1000",
            np.array([[1000.0, 2000, -500, 0], [-1000, 0, 1000, 500], [0, 0, 0, 1000]]),
            [1, 2, 0],
        ),
        rand("a float32 batch of 8, 10 classes", 8, 10, F32),
        rand("a batch of 16, 3 classes", 16, 3),
        case("equal scores: every class equally likely", np.zeros((4, 5)), [0, 1, 2, 4]),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            n, k = int(rng.integers(1, 20)), int(rng.integers(2, 12))
            dtype = F32 if rng.random() < 0.5 else F64
            scale = float(rng.choice([1.0, 10.0, 1000.0]))
            cases.append(
                rand(f"random, logits up to about {scale:g}, {np.dtype(dtype)}", n, k, dtype, scale)
            )
    return cases


def _cross_entropy_mistakes(case: Case):
    z, labels = case.args["logits"], case.args["labels"]
    n, k = z.shape
    rows = np.arange(n)
    log_p = REF.log_softmax(z.astype(F64), axis=1)
    loss = case.expected

    if n > 1:
        yield Mistake(
            "sum instead of mean over the batch",
            "the loss is the mean over the examples: divide the total by N.",
            lambda: loss * n,
        )
    yield Mistake(
        "one loss per example returned, not their mean",
        "cross_entropy returns one number: the mean over the batch.",
        lambda: -log_p[rows, labels],
    )
    yield Mistake(
        "wrong sign: the loss came out negative",
        "log-probabilities are <= 0, and the loss is their negated mean: it is >= 0.",
        lambda: -loss,
    )
    yield Mistake(
        "overflow on large logits: exp gives inf, and the loss NaN or inf",
        _OVERFLOW_HINT,
        lambda: float(
            -np.mean(np.log((np.exp(z) / np.exp(z).sum(1, keepdims=True))[rows, labels]))
        ),
    )
    p = REF.softmax(z.astype(F64), axis=1)
    for kept in _KEPT_AWAY_FROM_ZERO:
        yield Mistake(
            "log of a probability kept away from 0 (log(p + eps) or a clip): the loss is capped",
            "a probability too small for a float is not 0 in log space: take the "
            "log-probabilities from log_softmax of the logits, not the log of a softmax.",
            lambda kept=kept: float(-np.mean(np.log(kept(p[rows, labels])))),
        )
    yield Mistake(
        "indexed with [labels], which picks whole rows, not one entry per row",
        "each example contributes one number: the row index and that row's label go together.",
        lambda: float(-np.mean(np.log(p[labels]))),
    )
    if n > 1:
        yield Mistake(
            "indexed with [:, labels], which pairs every row with every label",
            "pick one value per row: the row index and that row's label go together.",
            lambda: float(-log_p[:, labels].mean()),
        )
    yield Mistake(
        "divided by the number of classes too",
        "only the true class of each example counts: average over the N examples, not N * K.",
        lambda: loss / k,
    )
    yield Mistake(
        "labels ignored: averaged over every class",
        "take, for each example, the log-probability of its true class only.",
        lambda: float(-log_p.mean()),
    )
    yield Mistake(
        "labels ignored: class 0 used for every example",
        "take, for each example, the log-probability of its own label.",
        lambda: float(-log_p[:, 0].mean()),
    )
    yield Mistake(
        "the log is missing: probabilities averaged instead of log-probabilities",
        "the loss of one example is -log(probability of its true class).",
        lambda: float(-np.exp(log_p[rows, labels]).mean()),
    )
    for base, name in [(np.log(2), "log2"), (np.log(10), "log10")]:
        yield Mistake(
            f"{name} instead of the natural logarithm",
            "cross-entropy uses the natural logarithm, np.log.",
            lambda base=base: loss / base,
        )
    if n > 1:
        yield Mistake(
            "softmax over the wrong axis (over the examples)",
            "the classes lie along axis 1: each row is one example's scores.",
            lambda: float(-REF.log_softmax(z.astype(F64), axis=0)[rows, labels].mean()),
        )
    yield Mistake(
        "softmax skipped: the raw logits used as log-probabilities",
        "turn the logits into log-probabilities first (log_softmax).",
        lambda: float(-z[rows, labels].mean()),
    )


def check_cross_entropy(fn, *, thorough=False) -> None:
    """Check ``cross_entropy(logits, labels) -> float`` (mean over the batch).

    Names: sum instead of mean, one loss per example, wrong sign, overflow on
    large logits, log of a probability kept away from 0 (eps or clip),
    ``[labels]`` or ``[:, labels]`` indexing, divided by the number of classes,
    labels ignored (all classes or class 0), log missing, log2/log10, softmax
    over the wrong axis, softmax skipped. Refuses cnnlab's own
    ``cross_entropy``; ``softmax`` and ``log_softmax`` may be used.
    """
    run(
        Check(
            "cross_entropy",
            REF.cross_entropy,
            _labelled_cases(thorough, 1111),
            _cross_entropy_mistakes,
            returns="number",
            uses=("softmax", "log_softmax"),
        ),
        fn,
        thorough,
    )
