"""Checks of lessons 9 and 10: a trained digit classifier, shifted images, confident mistakes.

:func:`check_digits_model` grades a whole network: it evaluates the learner's
trained model on the held-out test digits of :func:`cnnlab.data.load_digits`
(or first trains it, given the learner's training function) and passes from
97 % accuracy. :func:`check_shift` and :func:`check_confident_mistakes` are
ordinary function checks, run by :func:`cnnlab.checks._core.run`, against
:func:`cnnlab.perturb.shift` and :func:`cnnlab.perturb.confident_mistakes`.
"""

from __future__ import annotations

import functools
import inspect
import types

import numpy as np

from cnnlab import nn, perturb
from cnnlab.checks import _reference
from cnnlab.checks._compare import what
from cnnlab.checks._core import Case, Check, Mistake, _error_text, _where, normal, run
from cnnlab.data import load_digits

__all__ = [
    "PASS_MARK",
    "VALIDATION_SIZE",
    "check_confident_mistakes",
    "check_digits_model",
    "check_shift",
    "digits_split",
]

F32, F64 = np.float32, np.float64


#: The references, as imported: rebinding cnnlab.perturb.shift changes nothing here.
SHIFT = _reference.REF.shift
CONFIDENT_MISTAKES = _reference.REF.confident_mistakes


# ============================================================== lesson 9: the digits


#: The last this many images of load_digits()'s training split are the validation set.
VALIDATION_SIZE = 300
#: The test accuracy a digits model must reach.
PASS_MARK = 0.97
#: Thorough mode: accuracy on the training split that shows the model learned something,
#: and accuracy on test digits with invisible noise that a lookup table would not keep.
_TRAINED_MARK = 0.90
_NOISE_STD, _NOISE_MARK = 0.01, 0.90


def digits_split():
    """The split of lesson 9: training, validation and test digits.

    ``load_digits()`` gives 1347 training and 450 test images; the last
    :data:`VALIDATION_SIZE` (300) training images are set aside for
    validation, leaving 1047 to train on.

    Returns
    -------
    x_train : ndarray of shape (1047, 1, 8, 8), float32
    y_train : ndarray of shape (1047,), int64
    x_val : ndarray of shape (300, 1, 8, 8), float32
    y_val : ndarray of shape (300,), int64
    x_test : ndarray of shape (450, 1, 8, 8), float32
    y_test : ndarray of shape (450,), int64
    """
    x_train, y_train, x_test, y_test = load_digits()
    cut = len(x_train) - VALIDATION_SIZE
    return x_train[:cut], y_train[:cut], x_train[cut:], y_train[cut:], x_test, y_test


def _is_model(value) -> bool:
    return isinstance(value, nn.Layer) or (
        callable(getattr(value, "forward", None)) and not inspect.isroutine(value)
    )


def _layers(model):
    yield model
    for layer in getattr(model, "layers", None) or ():
        yield from _layers(layer)


def _scores(model, x) -> np.ndarray:
    with np.errstate(all="ignore"):
        return model.forward(x)


def _percent(fraction: float) -> str:
    return f"{fraction:.1%}"


class _Failed(Exception):
    """One check of check_digits_model failed; args: (check number, message lines)."""


def _train(fn, name: str, total: int, data) -> object:
    """Call the learner's training function on the training and validation digits."""
    x_train, y_train, x_val, y_val = (a.copy() for a in data[:4])
    try:
        with np.errstate(all="ignore"):
            model = fn(x_train, y_train, x_val, y_val)
    except NotImplementedError:
        raise AssertionError(
            f"digits_model: 0/{total} checks passed. {name} raised NotImplementedError: "
            "replace the stub with your code."
        ) from None
    except Exception as error:  # the learner's code failed: that is feedback
        lines = [f"digits_model: 0/{total} checks passed. {_error_text(name, error)}"]
        where = _where(error, fn)
        if where:
            lines.append(where)
        if isinstance(error, TypeError) and "argument" in str(error):
            lines.append(
                f"Hint: keep the parameters of the stub: {name}(x_train, y_train, x_val, y_val)."
            )
        else:
            lines.append(
                f"It was called as {name}(x_train, y_train, x_val, y_val), with the 1047 "
                "training and 300 validation digits of the lesson."
            )
        raise AssertionError("\n".join(lines)) from None
    if _is_model(model):
        return model
    if model is None:
        problem = (
            f"{name} returned None; it should return the trained model. "
            "Did you forget `return model`?"
        )
    elif isinstance(model, tuple | list) and any(_is_model(m) for m in model):
        problem = (
            f"{name} returned {what(model)}; return only the trained model "
            "(the history that nn.fit returns is for plotting)."
        )
    else:
        problem = (
            f"{name} returned {what(model)}; it should return the trained model, a cnnlab.nn "
            "network such as nn.Sequential(...)."
        )
    raise AssertionError(f"digits_model: 0/{total} checks passed. {problem}") from None


def _check_outputs(model, x_test) -> np.ndarray:
    """Check 1: the model turns every test digit into 10 finite scores."""
    n = len(x_test)
    need = f"shape ({n}, 10): one score per digit class"
    try:
        scores = _scores(model, x_test)
    except Exception as error:
        raise _Failed(
            1,
            [
                f"Running your model on the {n} test digits (shape {x_test.shape}): "
                + _error_text("it", error),
                "Hint: model.summary((1, 8, 8)) prints the shape after every layer; each "
                "layer must accept what the one before it gives.",
            ],
        ) from None
    if not isinstance(scores, np.ndarray):
        raise _Failed(
            1, [f"Your model should give an array of {need}, but it gave {what(scores)}."]
        )
    if scores.shape != (n, 10):
        hint = "End the network with nn.Flatten() and nn.Dense(..., 10)."
        if scores.ndim == 2 and scores.shape[0] == n:
            hint = f"its last layer has {scores.shape[1]} outputs; the last nn.Dense needs 10."
        raise _Failed(
            1,
            [
                f"Your model turns the {n} test digits (shape {x_test.shape}) into an array "
                f"of shape {scores.shape}; it should give {need}.",
                f"Hint: {hint}",
            ],
        )
    bad = ~np.all(np.isfinite(scores), axis=1)
    if bad.any():
        raise _Failed(
            1,
            [
                f"Your model's scores are NaN or infinite for {int(bad.sum())} of the {n} test "
                "digits: its weights blew up during training.",
                "Hint: train with a smaller learning rate (10 times smaller is a good first try).",
            ],
        )
    return scores


def _accuracy(model, x, y) -> float:
    return float(np.mean(_scores(model, x).argmax(axis=1) == y))


def _accuracy_hints(model, predictions, y_test, train_accuracy) -> list[str]:
    has_conv = any(isinstance(layer, nn.Conv2d) for layer in _layers(model))
    hints = []
    counts = np.bincount(predictions, minlength=10)
    favourite = int(counts.argmax())
    if train_accuracy < 0.2:
        hints.append(
            f"Hint: on the digits it was trained on it does no better ({_percent(train_accuracy)}"
            "): it has not learned. Did you call nn.fit on it, and return the model you "
            "trained rather than a new one? Are the labels the ones that go with the images "
            "(y_train with x_train)?"
        )
        if counts[favourite] > 0.5 * len(y_test):
            hints.append(
                f"It answers {favourite} for {counts[favourite]} of the {len(y_test)} test "
                "digits: a learning rate far too large can do that (try 10 times smaller); one "
                "far too small leaves the weights where they started."
            )
    elif train_accuracy < 0.9:
        hints.append(
            f"Hint: it is still learning: on its own training digits it reaches only "
            f"{_percent(train_accuracy)}. Train for more epochs, or add momentum "
            "(nn.SGD(..., momentum=0.9)); if the loss hardly moves, try a larger learning rate."
        )
    else:
        if train_accuracy < 0.99:
            hints.append(
                f"Hint: it does not know its own training digits perfectly yet "
                f"({_percent(train_accuracy)}): a few more epochs may help."
            )
        hints.append(
            ("Hint: " if train_accuracy >= 0.99 else "")
            + "If the validation accuracy jumps up and down from epoch to epoch, the steps are "
            "too large to settle: finish with a few epochs at a 10 times smaller learning rate "
            "(a second nn.fit with a new optimiser continues from the current weights). More "
            "filters per convolution often help too."
        )
    if not has_conv:
        hints.append(
            "Your model has no convolution layer: start it with nn.Conv2d blocks, as in the "
            "network of section 3."
        )
    return hints


def _names_in(fn) -> set:
    code = getattr(inspect.unwrap(fn), "__code__", None)
    names, stack = set(), [code] if code is not None else []
    while stack:
        code = stack.pop()
        names.update(code.co_names, code.co_freevars)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


def check_digits_model(fn, *, thorough=False) -> None:
    """Check a digit classifier: at least 97 % accuracy on the held-out test digits.

    Parameters
    ----------
    fn : callable or model
        Either the learner's training function,
        ``train_digits_model(x_train, y_train, x_val, y_val) -> model``, which
        the check calls with the 1047 training and 300 validation digits of
        :func:`digits_split` (so the test digits stay unseen), or a model
        that is already trained: a :class:`cnnlab.nn.Sequential`, or any
        object whose ``forward(x)`` maps ``(N, 1, 8, 8)`` images to ``(N, 10)``
        scores.
    thorough : bool, default False
        Also require that the model is a CNN (it contains a
        :class:`cnnlab.nn.Conv2d`), that it learned from its training data
        (at least 90 % on the training split), that it is not a lookup table
        of stored images (at least 90 % on the test digits with invisible
        noise, std 0.01, added), and that a training function does not use
        the test set (the names ``x_test`` or ``y_test``).

    Names: stub not replaced, the training function crashing or returning
    None, a tuple or a non-model, a model that crashes on the test digits, the
    wrong number of outputs, NaN scores, and for an accuracy below 97 %: an
    untrained model, labels that do not go with the images, one digit always
    predicted, training not finished, not settled, no convolution layer.

    Raises
    ------
    AssertionError
        With the accuracy reached and what to try next.
    TypeError
        If ``fn`` is neither a function nor a model (e.g. ``None``).
    """
    if not (callable(fn) or _is_model(fn)):
        raise TypeError(
            "check_digits_model needs your training function, e.g. "
            f"check_digits_model(train_digits_model), or a trained model; got {what(fn)}. "
            "Did the cell that defines it run?"
        )
    is_function = not _is_model(fn)
    name = getattr(fn, "__name__", "your function")
    total = 2 + (3 + is_function if thorough else 0)
    data = digits_split()
    x_test, y_test = data[4], data[5]
    model = _train(fn, name, total, data) if is_function else fn
    passed = 0
    try:
        scores = _check_outputs(model, x_test)
        passed += 1

        predictions = scores.argmax(axis=1)
        test_accuracy = float(np.mean(predictions == y_test))
        right = int(np.sum(predictions == y_test))
        result = f"{_percent(test_accuracy)} of the test digits right ({right} of {len(y_test)})"
        x_seen = np.concatenate([data[0], data[2]])
        y_seen = np.concatenate([data[1], data[3]])
        if test_accuracy < PASS_MARK:
            train_accuracy = _accuracy(model, x_seen, y_seen)
            raise _Failed(
                2,
                [
                    f"Your model gets {result}; it needs {PASS_MARK:.0%}.",
                    *_accuracy_hints(model, predictions, y_test, train_accuracy),
                ],
            )
        passed += 1

        if thorough:
            if not any(isinstance(layer, nn.Conv2d) for layer in _layers(model)):
                raise _Failed(
                    3,
                    [
                        f"Your model gets {result}, but it has no convolution layer "
                        "(nn.Conv2d). This is a course about convolutional networks: build it "
                        "from conv -> ReLU -> pool blocks, as in section 3."
                    ],
                )
            passed += 1
            train_accuracy = _accuracy(model, x_seen, y_seen)
            if train_accuracy < _TRAINED_MARK:
                raise _Failed(
                    4,
                    [
                        f"Your model gets {result}, but only {_percent(train_accuracy)} of "
                        f"the {len(y_seen)} training digits: a trained network knows the "
                        "digits it learned from at least as well as new ones. Train it on "
                        "x_train and y_train."
                    ],
                )
            passed += 1
            noisy = perturb.add_noise(x_test, _NOISE_STD, seed=9)
            noisy_accuracy = _accuracy(model, noisy, y_test)
            if noisy_accuracy < _NOISE_MARK:
                raise _Failed(
                    5,
                    [
                        f"Your model gets {result}, but only {_percent(noisy_accuracy)} "
                        f"when the same digits get invisible noise (std {_NOISE_STD}, a 100th "
                        "of the pixel range). A network that learned the shapes of digits "
                        "hardly notices; a lookup table of stored images does. Train a "
                        "network instead of memorising the answers."
                    ],
                )
            passed += 1
            if is_function and (used := sorted(_names_in(fn) & {"x_test", "y_test"})):
                raise _Failed(
                    6,
                    [
                        f"{name} uses {' and '.join(used)}: the test digits must stay unseen "
                        "until this final check, or its accuracy no longer tells how the "
                        "network does on new digits. Train on x_train and y_train, and watch "
                        "x_val and y_val to tune it."
                    ],
                )
            passed += 1
    except _Failed as failure:
        number, lines = failure.args
        head = f"digits_model: {passed}/{total} checks passed. Check {number} failed."
        raise AssertionError("\n".join([head, *lines])) from None
    suffix = " (thorough)" if thorough else ""
    print(f"digits_model: {result}, {total}/{total} checks passed{suffix}")


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
    ]
    if thorough:
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
            forbidden=(SHIFT,),
            allowed="You may use numpy: np.zeros_like and slicing are all it takes.",
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


def _as_indices(fn):
    """The learner's function, with an integer (or empty) result turned into int64.

    Any integer dtype is a fine array of indices, and an empty result built from
    an empty list is float64 through no fault of the learner's.
    """

    @functools.wraps(fn)
    def indices(*args, **kwargs):
        got = fn(*args, **kwargs)
        if (
            isinstance(got, np.ndarray)
            and got.ndim == 1
            and (got.dtype.kind in "iu" or not got.size)
        ):
            return got.astype(np.int64)
        return got

    return indices


def check_confident_mistakes(fn, *, thorough=False) -> None:
    """Check ``confident_mistakes(probabilities, labels, threshold=0.9) -> indices``.

    The indices, in increasing order, of the examples predicted wrongly with a
    largest probability of at least ``threshold``. Any integer dtype is
    accepted for the indices. Names: correct predictions included, threshold
    ignored, > instead of >=, the unsure mistakes returned, a boolean mask,
    np.nonzero's tuple or np.argwhere's column returned, the predicted classes returned, sorted by
    confidence, input modified in place. Thorough mode forbids cnnlab's
    ``confident_mistakes``.
    """
    alias = _reference.Tripwire((CONFIDENT_MISTAKES,)).aliases(fn) if callable(fn) else None
    checked = _as_indices(fn) if callable(fn) and not alias else fn
    run(
        Check(
            "confident_mistakes",
            CONFIDENT_MISTAKES,
            _confident_cases(thorough),
            _confident_mistakes_mistakes,
            layout="(M,), the indices of the confident mistakes",
            forbidden=(CONFIDENT_MISTAKES,),
        ),
        checked,
        thorough,
    )
