"""The check of lesson 9: a trained digit classifier.

:func:`check_digits_model` grades a whole network: it evaluates the learner's
trained model on the held-out test digits of :func:`cnnlab.data.digits_split`
(or first trains it, given the learner's training function, on that split's
training and validation digits, relabelled) and passes from 97 % accuracy.
Unlike the function checks it does not go through
:func:`cnnlab.checks._core.run`: the learner's side is a training session
(:class:`LocalDigits` here, or the grader's remote kernel), asked to train and
to score, whose answers come back as plain facts (:class:`Trained`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from cnnlab import nn, perturb
from cnnlab.checks._compare import what
from cnnlab.checks._core import (
    CheckFailure,
    Outcome,
    Remote,
    _error_text,
    _where,
    extra_rng,
)
from cnnlab.checks._source import Rules, function_findings, history_findings
from cnnlab.data import digits_split

__all__ = [
    "PASS_MARK",
    "LocalDigits",
    "Trained",
    "check_digits_model",
    "model_scores",
    "train_and_describe",
]


#: The test accuracy a digits model must reach.
PASS_MARK = 0.97
#: Thorough mode: accuracy on the training split that shows the model learned something,
#: and accuracy on test digits with invisible noise that a lookup table would not keep.
_TRAINED_MARK = 0.90
_NOISE_STD, _NOISE_MARK = 0.01, 0.90


def _is_model(value) -> bool:
    return isinstance(value, nn.Layer) or (
        callable(getattr(value, "forward", None)) and not inspect.isroutine(value)
    )


def _layers(model):
    yield model
    for layer in getattr(model, "layers", None) or ():
        yield from _layers(layer)


def _percent(fraction: float) -> str:
    return f"{fraction:.1%}"


class _Failed(Exception):
    """One check of check_digits_model failed; args: (check number, message lines)."""


# ------------------------------------------------- the learner's side, as plain facts


@dataclass
class Trained:
    """What the learner's training function gave back, as facts.

    ``kind``: "model", "none", "history" (a tuple or list holding the model),
    "other" or "error"; ``layers``: the class names of the model and its
    layers (whether ``Conv2d`` is among them).
    """

    kind: str
    what: str = ""
    error: Exception | None = None
    where: str = ""
    layers: tuple = ()


def train_and_describe(fn, arrays) -> tuple[Trained, object]:
    """Call ``fn(x_train, y_train, x_val, y_val)``: the facts, and the model (or None)."""
    try:
        with np.errstate(all="ignore"):
            model = fn(*(a.copy() for a in arrays))
    except Exception as error:  # the learner's code failed: that is feedback
        return Trained("error", error=error, where=_where(error, fn)), None
    if _is_model(model):
        names = tuple(type(layer).__name__ for layer in _layers(model))
        conv = any(isinstance(layer, nn.Conv2d) for layer in _layers(model))
        return Trained("model", layers=names + (("Conv2d",) if conv else ())), model
    if model is None:
        return Trained("none"), None
    if isinstance(model, tuple | list) and any(_is_model(m) for m in model):
        return Trained("history", what=what(model)), None
    return Trained("other", what=what(model)), None


def model_scores(model, x) -> Outcome:
    """The model's scores for images ``x`` (or the exception they raised)."""
    try:
        with np.errstate(all="ignore"):
            return Outcome(got=model.forward(x.copy()))
    except Exception as error:
        return Outcome(error=error)


class LocalDigits:
    """The learner's training function (or trained model), called in this process."""

    def __init__(self, fn):
        self.fn = fn
        self.models = {}

    def train(self, slot: int, arrays) -> Trained:
        facts, self.models[slot] = train_and_describe(self.fn, arrays)
        return facts

    def scores(self, slot: int, x) -> Outcome:
        return model_scores(self.models[slot], x)


class _GivenModel(LocalDigits):
    """A model that is already trained: nothing to train, only to run."""

    def train(self, slot: int, arrays) -> Trained:
        self.models[slot] = self.fn
        return Trained("model", layers=tuple(type(layer).__name__ for layer in _layers(self.fn)))


# ------------------------------------------------------------------------ the check

#: Validation digits the check labels wrongly on purpose: a network that trained on
#: the validation set learns those labels; one that only watched it does not.
_CANARIES = 20
#: The share of the canaries a network may answer as mislabelled before it counts as
#: having trained on them. Measured with the lesson's recipe over 12 relabellings: 0 %
#: (once 5 %) for a network that only watched them, 35 % for one trained on them.
_CANARY_MARK = 0.15


def _relabelled(data, rng):
    """The lesson's split with each digit class under another number, and canaries.

    Returns (arrays for the learner, test labels as relabelled, the canary indices
    and their wrong labels). A network can learn any numbering of the classes;
    one that learns from anything but the data it is given answers with the old.
    """
    x_train, y_train, x_val, y_val, _, y_test = data
    mapping = rng.permutation(10)
    while np.any(mapping == np.arange(10)):
        mapping = rng.permutation(10)
    val = mapping[y_val]
    canaries = rng.choice(len(val), _CANARIES, replace=False)
    wrong = (val[canaries] + rng.integers(1, 10, _CANARIES)) % 10
    shown = val.copy()
    shown[canaries] = wrong
    arrays = (x_train, mapping[y_train], x_val, shown)
    return arrays, mapping[y_test], mapping, canaries, wrong


def _training_failure(facts: Trained, name: str, total: int) -> str:
    head = f"digits_model: 0/{total} checks passed."
    if facts.kind == "error":
        error = facts.error
        if isinstance(error, NotImplementedError):
            return f"{head} {name} raised NotImplementedError: replace the stub with your code."
        lines = [f"{head} {_error_text(name, error)}"]
        if facts.where:
            lines.append(facts.where)
        if isinstance(error, TypeError) and "argument" in str(error):
            lines.append(
                f"Hint: keep the parameters of the stub: {name}(x_train, y_train, x_val, y_val)."
            )
        else:
            lines.append(
                f"It was called as {name}(x_train, y_train, x_val, y_val), with the 1047 "
                "training and 300 validation digits of the lesson."
            )
        return "\n".join(lines)
    if facts.kind == "none":
        return (
            f"{head} {name} returned None; it should return the trained model. "
            "Did you forget `return model`?"
        )
    if facts.kind == "history":
        return (
            f"{head} {name} returned {facts.what}; return only the trained model "
            "(the history that nn.fit returns is for plotting)."
        )
    return (
        f"{head} {name} returned {facts.what}; it should return the trained model, a cnnlab.nn "
        "network such as nn.Sequential(...)."
    )


def _test_scores(session, slot: int, x_test) -> np.ndarray:
    """Check 1: the model turns every test digit into 10 finite scores."""
    n = len(x_test)
    need = f"shape ({n}, 10): one score per digit class"
    outcome = session.scores(slot, x_test)
    scores = outcome.got
    if outcome.error is not None:
        raise _Failed(
            1,
            [
                f"Running your model on the {n} test digits (shape {x_test.shape}): "
                + _error_text("it", outcome.error),
                "Hint: model.summary((1, 8, 8)) prints the shape after every layer; each "
                "layer must accept what the one before it gives.",
            ],
        )
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


def _predictions(session, slot: int, x) -> np.ndarray:
    outcome = session.scores(slot, x)
    got = outcome.got
    if outcome.error is not None or not isinstance(got, np.ndarray) or got.shape != (len(x), 10):
        return np.full(len(x), -1)
    return got.argmax(axis=1)


def _accuracy_hints(predictions, expected, train_accuracy, has_conv) -> list[str]:
    hints = []
    counts = np.bincount(predictions[predictions >= 0], minlength=10)
    favourite = int(counts.argmax())
    if train_accuracy < 0.2:
        hints.append(
            f"Hint: on the digits it was trained on it does no better ({_percent(train_accuracy)}"
            "): it has not learned. Did you call nn.fit on it, and return the model you "
            "trained rather than a new one? Are the labels the ones that go with the images "
            "(y_train with x_train)?"
        )
        if counts[favourite] > 0.5 * len(expected):
            hints.append(
                f"It gives the same answer for {counts[favourite]} of the {len(expected)} "
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


def check_digits_model(fn, *, thorough=False) -> None:
    """Check a digit classifier: at least 97 % accuracy on the held-out test digits.

    Parameters
    ----------
    fn : callable or model
        The learner's training function,
        ``train_digits_model(x_train, y_train, x_val, y_val) -> model``. The
        check calls it with the 1047 training and 300 validation digits of
        :func:`cnnlab.data.digits_split` (so the test digits stay unseen), *relabelled*:
        each digit class under another number (a network learns any
        numbering), and 20 validation digits given a wrong label on purpose.
        A trained model (anything whose ``forward(x)`` maps ``(N, 1, 8, 8)``
        images to ``(N, 10)`` scores) is also accepted: then checks 4 and 5,
        which need training, are left out, and the labels are the true ones.
    thorough : bool, default False
        Also require at least 97 % of the 450 held-out test digits right, that
        the model learned from its training data (at least 90 % on the
        training split) and that it is not a lookup table of stored images (at
        least 90 % on the test digits with invisible noise, std 0.01, added);
        when grading, the relabelling and the mislabelled validation digits
        are drawn from a secret seed.

    The checks: (1) the model gives 10 finite scores per test digit; (2) at
    least 97 % of the validation digits right (the 280 labelled correctly),
    in the numbering it was given: a network that learned from anything else
    (the test digits, the digits loaded again) answers in the old numbering,
    and is told so; (3) it has a convolution layer (nn.Conv2d); (4) it did not
    train on the validation digits: it does not answer the mislabelled ones
    with their wrong labels; (5) it is reproducible: trained a second time,
    it gives the same answer for every test digit (seed every random
    generator). The visible check reports the validation accuracy, as the
    lesson teaches: the test digits stay unseen until grading.

    Names: stub not replaced, the training function crashing or returning
    None, a tuple or a non-model, a model that crashes on the test digits, the
    wrong number of outputs, NaN scores, and for an accuracy below 97 %: an
    untrained model, labels that do not go with the images, one digit always
    predicted, training not finished, not settled, no convolution layer.
    """
    if isinstance(fn, Remote):
        session, name, given = fn.digits(), fn.name, False
    elif _is_model(fn):
        session, name, given = _GivenModel(fn), "your model", True
    elif callable(fn):
        session, name, given = LocalDigits(fn), getattr(fn, "__name__", "your function"), False
    else:
        raise TypeError(
            "check_digits_model needs your training function, e.g. "
            f"check_digits_model(train_digits_model), or a trained model; got {what(fn)}. "
            "Did the cell that defines it run?"
        )
    if isinstance(fn, Remote):
        findings = fn.findings_for(None)
    elif given:
        findings = []
    else:
        findings = function_findings(fn, Rules(cnnlab=None)) + history_findings(Rules(cnnlab=None))
    total = (3 if given else 5) + (3 if thorough else 0)
    if findings:
        lines = [finding.sentence("digits_model") for finding in findings[:3]]
        raise CheckFailure(f"digits_model: 0/{total} checks passed. " + "\n".join(lines)) from None

    data = digits_split()
    x_test, y_test = data[4], data[5]
    if given:
        arrays, expected, relabel, canaries, wrong = data[:4], y_test, None, None, None
    else:
        rng = extra_rng(np.random.default_rng(909))  # secret when grading
        arrays, expected, relabel, canaries, wrong = _relabelled(data, rng)
    facts = session.train(0, arrays)
    if facts.kind != "model":
        raise CheckFailure(_training_failure(facts, name, total)) from None
    passed = 0
    try:
        scores = _test_scores(session, 0, x_test)
        passed += 1

        predictions = scores.argmax(axis=1)
        # Graded on the validation digits the check relabelled and the learner's code saw
        # only through its arguments (the mislabelled ones left out); the test digits
        # stay locked away until grading (thorough mode).
        keep = np.ones(len(arrays[2]), dtype=bool)
        if canaries is not None:
            keep[canaries] = False
        val_expected = (data[3] if given else relabel[data[3]])[keep]
        val_predictions = _predictions(session, 0, arrays[2])[keep]
        val_accuracy = float(np.mean(val_predictions == val_expected))
        right = int(np.sum(val_predictions == val_expected))
        result = (
            f"{_percent(val_accuracy)} of the validation digits right ({right} of "
            f"{len(val_expected)})"
        )
        has_conv = "Conv2d" in facts.layers
        if val_accuracy < PASS_MARK:
            true_accuracy = float(np.mean(val_predictions == data[3][keep]))
            if not given and true_accuracy >= 0.5:
                raise _Failed(
                    2,
                    [
                        f"Your model gets {result} in the numbering of the digits it was "
                        f"given, but {_percent(true_accuracy)} in the usual one.",
                        "The check trains your network on digits it relabels (each class "
                        "under another number) and a network learns whatever numbering it "
                        "is taught: yours learned the usual numbering from data it was not "
                        "given (the test digits, or the digits loaded again). Train only on "
                        "x_train and y_train, the arguments of your function.",
                    ],
                )
            train_predictions = _predictions(session, 0, arrays[0])
            train_accuracy = float(np.mean(train_predictions == arrays[1]))
            raise _Failed(
                2,
                [
                    f"Your model gets {result}; it needs {PASS_MARK:.0%}.",
                    *_accuracy_hints(val_predictions, val_expected, train_accuracy, has_conv),
                ],
            )
        passed += 1

        if not has_conv:
            raise _Failed(
                3,
                [
                    f"Your model gets {result}, but it has no convolution layer "
                    "(nn.Conv2d). This is a course about convolutional networks: build it "
                    "from conv -> ReLU -> pool blocks, as in section 3."
                ],
            )
        passed += 1

        if not given:
            val_predictions = _predictions(session, 0, arrays[2])
            taught = float(np.mean(val_predictions[canaries] == wrong))
            if taught >= _CANARY_MARK:
                raise _Failed(
                    passed + 1,
                    [
                        f"Your model gets {result}, but it answers {_percent(taught)} of "
                        f"{_CANARIES} validation digits with the wrong labels the check gave "
                        "them on purpose: it was trained on the validation digits. They are "
                        "there to watch training (nn.fit(..., validation=(x_val, y_val))), "
                        "never to learn from: then the validation accuracy tells how the "
                        "network does on digits it has not seen."
                    ],
                )
            passed += 1

            again = session.train(1, arrays)
            second = _predictions(session, 1, x_test) if again.kind == "model" else None
            if second is None or not np.array_equal(second, predictions):
                differ = len(x_test) if second is None else int(np.sum(second != predictions))
                raise _Failed(
                    passed + 1,
                    [
                        f"Your model gets {result}, but trained a second time on the same "
                        f"digits it answers {differ} of the {len(x_test)} test digits "
                        "differently: its training is not reproducible.",
                        "Hint: seed every random generator it uses: the initial weights "
                        "(nn.Conv2d(..., rng=...), a np.random.default_rng(seed) made inside "
                        "build_model) and the order of the mini-batches (nn.fit(..., rng=...)).",
                    ],
                )
            passed += 1

        if thorough:
            test_accuracy = float(np.mean(predictions == expected))
            test_right = int(np.sum(predictions == expected))
            tested = f"{_percent(test_accuracy)} of the test digits right ({test_right} of 450)"
            if test_accuracy < PASS_MARK:
                raise _Failed(
                    passed + 1,
                    [
                        f"Your model gets {result}, but {tested}; it needs {PASS_MARK:.0%} "
                        "on digits it has never seen either.",
                        "Hint: a network tuned until the validation digits come out right "
                        "can fit them by chance: train a little longer at a small learning "
                        "rate, or with more filters, and watch that the validation accuracy "
                        "stays up from epoch to epoch.",
                    ],
                )
            passed += 1
            result = tested
            train_accuracy = float(np.mean(_predictions(session, 0, arrays[0]) == arrays[1]))
            if train_accuracy < _TRAINED_MARK:
                raise _Failed(
                    passed + 1,
                    [
                        f"Your model gets {result}, but only {_percent(train_accuracy)} of "
                        f"the {len(arrays[0])} training digits: a trained network knows the "
                        "digits it learned from at least as well as new ones. Train it on "
                        "x_train and y_train."
                    ],
                )
            passed += 1
            noisy = perturb.add_noise(x_test, _NOISE_STD, rng=9)
            noisy_accuracy = float(np.mean(_predictions(session, 0, noisy) == expected))
            if noisy_accuracy < _NOISE_MARK:
                raise _Failed(
                    passed + 1,
                    [
                        f"Your model gets {result}, but only {_percent(noisy_accuracy)} "
                        f"when the same digits get invisible noise (std {_NOISE_STD}, a 100th "
                        "of the pixel range). A network that learned the shapes of digits "
                        "hardly notices; a lookup table of stored images does. Train a "
                        "network instead of memorising the answers."
                    ],
                )
            passed += 1
    except _Failed as failure:
        number, lines = failure.args
        head = f"digits_model: {passed}/{total} checks passed. Check {number} failed."
        raise CheckFailure("\n".join([head, *lines])) from None
    suffix = " (thorough)" if thorough else " (a trained model)" if given else ""
    print(f"digits_model: {result}, {total}/{total} checks passed{suffix}")
