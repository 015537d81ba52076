"""The checks of lesson 10: shifted images and confident mistakes.

:func:`check_shift` and :func:`check_confident_mistakes` are ordinary function
checks, run by :func:`cnnlab.checks._core.run`, against
:func:`cnnlab.perturb.shift` and :func:`cnnlab.perturb.confident_mistakes`.
"""

from __future__ import annotations

import numpy as np

from cnnlab.checks import _reference
from cnnlab.checks._core import Case, Check, Mistake, extra_rng, normal, run

__all__ = ["check_confident_mistakes", "check_shift"]

F32, F64 = np.float32, np.float64

#: The references, as imported: rebinding cnnlab.perturb.shift changes nothing here.
SHIFT = _reference.REF.shift
CONFIDENT_MISTAKES = _reference.REF.confident_mistakes


# ========================================================= lesson 10: shifted images

_GRID = np.arange(1.0, 13.0).reshape(1, 1, 3, 4)


def _shift_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(1010)

    def case(title, images, dy, dx):
        return Case(title, {"images": images, "dy": dy, "dx": dx})

    cases = [
        case("a 3 x 4 image moved 1 pixel down and 2 right", _GRID, 1, 2),
        case(
            "moved 1 pixel left only, float32 (dy = 0: careful, a[:-0] is empty)",
            _GRID.astype(F32),
            0,
            -1,
        ),
        case("moved up 2 and left 1 (negative dy and dx)", _GRID + 0.5, -2, -1),
        case("dy = dx = 0: nothing moves", normal(rng, (1, 1, 3, 4)), 0, 0),
        case(
            "a batch of 2 images with 3 channels, float32, down 1 and left 2",
            normal(rng, (2, 3, 5, 6), F32),
            1,
            -2,
        ),
        case(
            "moved 3 rows down: the whole image leaves the frame", normal(rng, (1, 2, 3, 5)), 3, 1
        ),
        case(
            "moved further than the image is wide: nothing is left",
            normal(rng, (2, 1, 4, 3)),
            -1,
            -7,
        ),
        case("8 x 8 digits, up 2 and right 1", rng.random((3, 1, 8, 8)), -2, 1),
        case(
            "moved 5 rows down and 6 columns right, more than the image has",
            normal(rng, (1, 1, 3, 4)),
            5,
            6,
        ),
        case("moved 4 rows up, more than the image has", normal(rng, (2, 2, 3, 3), F32), -4, 0),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(10):
            n, c, h, w = (int(v) for v in rng.integers(1, 9, 4))
            dtype = F32 if rng.random() < 0.5 else F64
            dy, dx = int(rng.integers(-h - 1, h + 2)), int(rng.integers(-w - 1, w + 2))
            title = f"random {n} x {c} x {h} x {w}, {np.dtype(dtype)}, dy = {dy}, dx = {dx}"
            cases.append(case(title, normal(rng, (n, c, h, w), dtype), dy, dx))
    return cases


def _edge_filled(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    height, width = x.shape[-2:]
    rows = np.clip(np.arange(height) - dy, 0, height - 1)
    cols = np.clip(np.arange(width) - dx, 0, width - 1)
    return x[..., rows[:, None], cols[None, :]]


def _cropped_shape(x: np.ndarray, dy: int, dx: int) -> tuple:
    height, width = x.shape[-2:]
    return (*x.shape[:-2], max(0, height - abs(dy)), max(0, width - abs(dx)))


def _shift_mistakes(case: Case):
    x, dy, dx = case.args["images"], case.args["dy"], case.args["dx"]
    yield Mistake(
        "the images returned without moving",
        "move the content by dy rows and dx columns, into a new array of zeros.",
        lambda: x,
    )
    yield Mistake(
        "only zeros returned: nothing of the image was copied",
        "images are (N, C, H, W), so the rows are axis 2 and the columns axis 3: slices "
        "written first in the brackets land on the batch and channel axes, unless ... (or "
        ":, :) comes before them.",
        lambda: np.zeros_like(x),
    )
    yield Mistake(
        "wrap-around (np.roll) instead of zero fill",
        "pixels pushed past one edge must disappear, not come back in at the other edge; "
        "the uncovered border is 0.",
        lambda: np.roll(x, (dy, dx), axis=(-2, -1)),
    )
    if dy and dx:
        yield Mistake(
            "moved the wrong way",
            "a positive dy moves the content down (to larger row indices), a positive dx "
            "right: out[..., i, j] = images[..., i - dy, j - dx].",
            lambda: SHIFT(x, -dy, -dx),
        )
    yield Mistake(
        "dy and dx swapped",
        "dy counts rows (axis 2, the height), dx counts columns (axis 3, the width).",
        lambda: SHIFT(x, dx, dy),
    )
    if dy:
        yield Mistake(
            "the vertical direction reversed",
            "a positive dy moves the content down, to larger row indices; a negative dy up.",
            lambda: SHIFT(x, -dy, dx),
        )
    if dx:
        yield Mistake(
            "the horizontal direction reversed",
            "a positive dx moves the content right, to larger column indices; a negative dx left.",
            lambda: SHIFT(x, dy, -dx),
        )
    yield Mistake(
        "dy ignored: only moved sideways",
        "move the rows by dy as well as the columns by dx.",
        lambda: SHIFT(x, 0, dx),
    )
    yield Mistake(
        "dx ignored: only moved up or down",
        "move the columns by dx as well as the rows by dy.",
        lambda: SHIFT(x, dy, 0),
    )
    yield Mistake(
        "edge pixels repeated instead of zero fill",
        "the uncovered border is 0 (black), not a copy of the nearest pixels.",
        lambda: _edge_filled(x, dy, dx),
    )
    yield Mistake(
        "the image cropped instead of filled with zeros",
        "the result has the shape of images: put the part that stays in the frame into an "
        "array of zeros of the full size.",
        lambda: _cropped_shape(x, dy, dx),
        shape_only=True,
    )


def check_shift(fn, *, thorough=False) -> None:
    """Check ``shift(images, dy, dx)``: move (N, C, H, W) images, filling with zeros.

    Names: images returned without moving, only zeros (nothing copied, e.g.
    the batch axes sliced instead of the rows and columns), wrap-around
    (np.roll) instead of zero fill, moved the wrong way, dy and dx swapped,
    the vertical or horizontal direction reversed, dy or dx ignored, edge
    pixels repeated, the image cropped, input modified in place. Thorough
    mode forbids cnnlab's ``shift``.
    """
    run(
        Check(
            "shift",
            SHIFT,
            _shift_cases(thorough),
            _shift_mistakes,
            layout="(N, C, H, W), the shape of images",
            uses=(),
        ),
        fn,
        thorough,
    )


# ================================================ lesson 10: confident mistakes


def _softmax_rows(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _confident_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(1011)

    def case(title, probabilities, labels, **kwargs):
        return Case(
            title,
            {"probabilities": probabilities, "labels": np.asarray(labels, dtype=np.int64)},
            kwargs,
        )

    four = np.array(
        [
            [0.80, 0.10, 0.10],  # right, sure
            [0.10, 0.85, 0.05],  # wrong, sure
            [0.50, 0.30, 0.20],  # wrong, unsure
            [0.75, 0.25, 0.00],  # wrong, exactly at 0.75
        ]
    )
    ten = _softmax_rows(3 * normal(rng, (20, 10))).astype(F32)
    ten_labels = ten.argmax(axis=1)
    ten_labels[::3] = (ten_labels[::3] + 1 + rng.integers(0, 9, 7)) % 10  # 7 made wrong
    sure = np.array([[0.05, 0.95, 0.0], [0.01, 0.0, 0.99], [0.92, 0.03, 0.05], [0.2, 0.7, 0.1]])
    cases = [
        case("4 examples, 3 classes, threshold 0.75", four, [0, 2, 1, 1], threshold=0.75),
        case("the same, default threshold 0.9", four, [0, 2, 1, 1]),
        case(
            "a probability exactly at the default threshold 0.9",
            np.array([[0.9, 0.1], [0.1, 0.9], [0.89, 0.11], [0.3, 0.7], [0.95, 0.05]]),
            [1, 1, 1, 0, 0],
        ),
        case(
            "three confident mistakes, not in order of confidence",
            sure,
            [0, 1, 1, 1],
        ),
        case("no mistakes at all: an empty result", four[:1].astype(F32), [0]),
        case("20 digits, 10 classes, float32, threshold 0.6", ten, ten_labels, threshold=0.6),
        case("every example wrong, threshold 0.5", sure[:3], [2, 0, 1], threshold=0.5),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            n, k = int(rng.integers(1, 40)), int(rng.integers(2, 12))
            dtype = F32 if rng.random() < 0.5 else F64
            probabilities = _softmax_rows(float(rng.choice([1, 3, 6])) * normal(rng, (n, k)))
            labels = rng.integers(0, k, n)
            threshold = float(rng.choice([0.0, 0.3, 0.5, 0.75, 0.9, 0.99, 1.0]))
            title = f"random {n} x {k}, {np.dtype(dtype)}, threshold {threshold:g}"
            cases.append(case(title, probabilities.astype(dtype), labels, threshold=threshold))
    return cases


def _confident_mistakes_mistakes(case: Case):
    p, labels = case.args["probabilities"], case.args["labels"]
    threshold = case.kwargs.get("threshold", 0.9)
    predicted, confidence = p.argmax(axis=1), p.max(axis=1)
    wrong = predicted != labels
    expected = case.expected

    def indices(mask):
        return np.flatnonzero(mask).astype(np.int64)

    yield Mistake(
        "correct predictions included",
        "keep only the examples whose predicted class (the argmax) differs from the label.",
        lambda: indices(confidence >= threshold),
    )
    yield Mistake(
        "threshold ignored",
        "a confident mistake is wrong *and* has a largest probability of at least threshold.",
        lambda: indices(wrong),
    )
    yield Mistake(
        "> instead of >=",
        "a probability equal to the threshold counts as confident: use >=.",
        lambda: indices(wrong & (confidence > threshold)),
    )
    yield Mistake(
        "the unsure mistakes returned instead of the sure ones",
        "keep the wrong examples whose largest probability is at least the threshold.",
        lambda: indices(wrong & (confidence < threshold)),
    )
    yield Mistake(
        "a boolean mask returned instead of indices",
        "the mask says True or False for every example; the result lists only the positions "
        "n where it is True, as ints (the lesson's hint names a numpy function for that).",
        lambda: wrong & (confidence >= threshold),
    )
    yield Mistake(
        "np.nonzero's tuple returned instead of its array",
        "np.nonzero gives one array of positions per axis of the mask, in a tuple; a 1-D "
        "mask has one axis, so the result is the tuple's only item.",
        lambda: (expected,),
    )
    yield Mistake(
        "np.argwhere's column of shape (M, 1) returned instead of a flat array",
        "np.argwhere gives one row per True value, holding its position on each axis; the "
        "result is a flat array of shape (M,).",
        lambda: expected[:, None],
    )
    yield Mistake(
        "the predicted classes returned instead of the example indices",
        "return n, the position of each example in the batch, not the class it was given.",
        lambda: predicted[expected],
    )
    yield Mistake(
        "sorted by confidence instead of by index",
        "return the indices in increasing order, not in order of confidence.",
        lambda: expected[np.argsort(-confidence[expected], kind="stable")],
    )


def _as_indices(got):
    """An integer (or empty) 1-D result as int64: any integer dtype is a fine array of
    indices, and an empty result built from an empty list is float64 through no fault
    of the learner's."""
    if isinstance(got, np.ndarray) and got.ndim == 1 and (got.dtype.kind in "iu" or not got.size):
        return got.astype(np.int64)
    return got


def check_confident_mistakes(fn, *, thorough=False) -> None:
    """Check ``confident_mistakes(probabilities, labels, threshold=0.9) -> indices``.

    The indices, in increasing order, of the examples predicted wrongly with a
    largest probability of at least ``threshold``. Any integer dtype is
    accepted for the indices. Names: correct predictions included, threshold
    ignored, > instead of >=, the unsure mistakes returned, a boolean mask,
    np.nonzero's tuple or np.argwhere's column returned, the predicted classes
    returned, sorted by confidence, input modified in place, cnnlab's own
    ``confident_mistakes`` used.
    """
    run(
        Check(
            "confident_mistakes",
            CONFIDENT_MISTAKES,
            _confident_cases(thorough),
            _confident_mistakes_mistakes,
            layout="(M,), the indices of the confident mistakes",
            tidy=_as_indices,
        ),
        fn,
        thorough,
    )
