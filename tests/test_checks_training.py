"""Checks of lessons 9 and 10: the digits model, shift and confident_mistakes.

For ``check_shift`` and ``check_confident_mistakes``, as for every function
check: right answers written differently pass, each known mistake is named,
the stub gets the stub message, thorough mode rejects cnnlab's own function.
For ``check_digits_model``: a trained network passes (given as a model or as
its training function), and everything that can go wrong on the way gets a
plain sentence with the accuracy and what to try. One network is trained once
for the whole module (a few seconds).
"""

import functools
import importlib
import sys

import numpy as np
import pytest
from check_messages import names_mistake

from cnnlab import nn, perturb
from cnnlab.checks import _reference
from cnnlab.checks.training import (
    PASS_MARK,
    VALIDATION_SIZE,
    check_confident_mistakes,
    check_digits_model,
    check_shift,
    digits_split,
)
from cnnlab.data import load_digits

CHECKS = {
    "shift": check_shift,
    "confident_mistakes": check_confident_mistakes,
}


def message_of(check, fn, thorough=False) -> str:
    with pytest.raises(AssertionError) as info:
        check(fn, thorough=thorough)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    return str(info.value)


@pytest.fixture(autouse=True)
def references_stay_intact():
    yield
    assert sys.getprofile() is None
    np.testing.assert_array_equal(perturb.shift(np.eye(2), 1, 0), [[0.0, 0.0], [1.0, 0.0]])


# ---------------------------------------------------------------- right answers


def loop_shift(images, dy, dx):
    out = np.zeros_like(images)
    height, width = images.shape[-2:]
    for i in range(height):
        for j in range(width):
            if 0 <= i - dy < height and 0 <= j - dx < width:
                out[..., i, j] = images[..., i - dy, j - dx]
    return out


def padded_shift(images, dy, dx):
    """Pad with zeros all round, then cut out the window that moved."""
    n, c, h, w = images.shape
    big = np.zeros((n, c, 3 * h, 3 * w), dtype=images.dtype)
    big[:, :, h : 2 * h, w : 2 * w] = images
    top, left = h - dy, w - dx
    if not (0 <= top <= 2 * h and 0 <= left <= 2 * w):
        return np.zeros_like(images)
    return big[:, :, top : top + h, left : left + w].copy()


def sliced_shift(images, dy, dx):
    """Slices with explicit ends, so that a shift of 0 keeps everything."""
    out = np.zeros_like(images)
    h, w = images.shape[2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_rows = slice(max(-dy, 0), h - max(dy, 0))
    src_cols = slice(max(-dx, 0), w - max(dx, 0))
    out[:, :, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        :, :, src_rows, src_cols
    ]
    return out


def loop_confident_mistakes(probabilities, labels, threshold=0.9):
    found = []
    for n, row in enumerate(probabilities):
        guess = int(np.argmax(row))
        if guess != labels[n] and row[guess] >= threshold:
            found.append(n)
    return np.array(found)  # float64 when empty: accepted


def where_confident_mistakes(probabilities, labels, threshold=0.9):
    mask = (probabilities.argmax(axis=1) != labels) & (probabilities.max(axis=1) >= threshold)
    return np.where(mask)[0].astype(np.int32)  # any integer dtype is fine


RIGHT_ANSWERS = [
    (check_shift, loop_shift),
    (check_shift, padded_shift),
    (check_shift, sliced_shift),
    (check_confident_mistakes, loop_confident_mistakes),
    (check_confident_mistakes, where_confident_mistakes),
]


@pytest.mark.parametrize(("check", "fn"), RIGHT_ANSWERS)
def test_a_right_answer_written_differently_passes(check, fn, capsys):
    check(fn)
    check(fn, thorough=True)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].endswith("checks passed") and out[1].endswith("checks passed (thorough)")


# --------------------------------------------------------------- known mistakes

REF_SHIFT = perturb.shift


def reversed_shift(images, dy, dx):
    return loop_shift(images, -dy, -dx)


def down_is_up(images, dy, dx):
    return loop_shift(images, -dy, dx)


def right_is_left(images, dy, dx):
    return loop_shift(images, dy, -dx)


def edge_shift(images, dy, dx):
    h, w = images.shape[2:]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return images[:, :, rows][:, :, :, cols]


def cropped_shift(images, dy, dx):
    h, w = images.shape[2:]
    return images[:, :, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]


def batch_axes_shift(images, dy, dx):
    out = np.zeros_like(images)
    out[dy:, dx:] = images[: images.shape[0] - dy, : images.shape[1] - dx]
    return out


def both_confident(probabilities, labels, threshold=0.9):
    return np.flatnonzero(probabilities.max(axis=1) >= threshold)


def every_wrong(probabilities, labels, threshold=0.9):
    return np.flatnonzero(probabilities.argmax(axis=1) != labels)


def strictly_above(probabilities, labels, threshold=0.9):
    wrong = probabilities.argmax(axis=1) != labels
    return np.flatnonzero(wrong & (probabilities.max(axis=1) > threshold))


def unsure_ones(probabilities, labels, threshold=0.9):
    wrong = probabilities.argmax(axis=1) != labels
    return np.flatnonzero(wrong & (probabilities.max(axis=1) < threshold))


def the_mask(probabilities, labels, threshold=0.9):
    wrong = probabilities.argmax(axis=1) != labels
    return wrong & (probabilities.max(axis=1) >= threshold)


def nonzero_tuple(probabilities, labels, threshold=0.9):
    return np.nonzero(the_mask(probabilities, labels, threshold))


def the_classes(probabilities, labels, threshold=0.9):
    predicted = probabilities.argmax(axis=1)
    return predicted[the_mask(probabilities, labels, threshold)]


def most_confident_first(probabilities, labels, threshold=0.9):
    found = np.flatnonzero(the_mask(probabilities, labels, threshold))
    return found[np.argsort(-probabilities.max(axis=1)[found], kind="stable")]


# (check, wrong answer, a phrase of the message that names its mistake)
MISTAKES = [
    (check_shift, lambda images, dy, dx: images.copy(), "the images returned without moving"),
    (check_shift, lambda images, dy, dx: np.zeros_like(images), "only zeros returned"),
    (check_shift, batch_axes_shift, "only zeros returned: nothing of the image was copied"),
    (
        check_shift,
        lambda images, dy, dx: np.roll(images, (dy, dx), axis=(2, 3)),
        "wrap-around (np.roll) instead of zero fill",
    ),
    (check_shift, reversed_shift, "moved the wrong way"),
    (check_shift, lambda images, dy, dx: loop_shift(images, dx, dy), "dy and dx swapped"),
    (check_shift, down_is_up, "the vertical direction reversed"),
    (check_shift, right_is_left, "the horizontal direction reversed"),
    (check_shift, lambda images, dy, dx: loop_shift(images, 0, dx), "dy ignored"),
    (check_shift, lambda images, dy, dx: loop_shift(images, dy, 0), "dx ignored"),
    (check_shift, edge_shift, "edge pixels repeated instead of zero fill"),
    (check_shift, cropped_shift, "the image cropped instead of filled with zeros"),
    (check_confident_mistakes, both_confident, "correct predictions included"),
    (check_confident_mistakes, every_wrong, "threshold ignored"),
    (check_confident_mistakes, strictly_above, "> instead of >="),
    (check_confident_mistakes, unsure_ones, "the unsure mistakes returned"),
    (check_confident_mistakes, the_mask, "a boolean mask returned instead of indices"),
    (check_confident_mistakes, nonzero_tuple, "np.nonzero's tuple returned"),
    (check_confident_mistakes, the_classes, "the predicted classes returned"),
    (check_confident_mistakes, most_confident_first, "sorted by confidence instead of by index"),
    (
        check_confident_mistakes,
        lambda p, labels, threshold=0.9: np.argwhere(the_mask(p, labels, threshold)),
        "np.argwhere's column of shape (M, 1)",
    ),
]


@pytest.mark.parametrize(("check", "fn", "phrase"), MISTAKES, ids=[m[2] for m in MISTAKES])
def test_a_known_mistake_is_named(check, fn, phrase):
    message = message_of(check, fn)
    assert names_mistake(message, phrase), message
    assert "Hint: " in message


def built_check(name, monkeypatch, thorough=False):
    """The Check object a check builds, caught on its way to the runner."""
    module = importlib.import_module("cnnlab.checks.training")
    built = []
    monkeypatch.setattr(module, "run", lambda spec, fn, thorough: built.append(spec))
    CHECKS[name](print, thorough=thorough)
    return built[0]


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_mistake_a_check_can_name_is_tested(name, monkeypatch):
    spec = built_check(name, monkeypatch, thorough=True)
    names = set()
    for case in spec.cases:
        case.expected = spec.reference(*case.args.values(), **case.kwargs)
        names.update(m.name for m in spec.mistakes(case))
    tested = set()
    for check, _, phrase in MISTAKES:
        if check is CHECKS[name]:
            hits = [known for known in names if phrase in known]
            assert len(hits) == 1, f"{phrase!r} should pick one of {sorted(names)}"
            tested.update(hits)
    assert names - tested == set()


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_cases_do_not_hide_bugs(name, monkeypatch):
    visible = built_check(name, monkeypatch).cases
    thorough = built_check(name, monkeypatch, thorough=True).cases
    assert len(thorough) >= len(visible) + 6
    assert [case.title for case in thorough[: len(visible)]] == [case.title for case in visible]
    first = [v for v in visible[0].inputs().values() if isinstance(v, np.ndarray)]
    assert sum(v.size for v in first) <= 40, (
        "the first case should be small enough to check by hand"
    )
    arrays = [v for case in visible for v in case.inputs().values() if isinstance(v, np.ndarray)]
    assert {np.dtype(np.float32), np.dtype(np.float64)} <= {v.dtype for v in arrays}
    assert any(v.ndim >= 2 and v.shape[-1] != v.shape[-2] for v in arrays), "all square"


def test_shift_cases_move_both_ways_by_zero_and_past_the_edge(monkeypatch):
    cases = built_check("shift", monkeypatch).cases
    moves = [(case.args["dy"], case.args["dx"]) for case in cases]
    assert (0, 0) in moves
    assert any(dy > 0 and dx > 0 for dy, dx in moves) and any(dy < 0 and dx < 0 for dy, dx in moves)
    assert any(dy == 0 and dx != 0 for dy, dx in moves)
    assert any(
        abs(dy) >= c.args["images"].shape[2] or abs(dx) >= c.args["images"].shape[3]
        for (dy, dx), c in zip(moves, cases, strict=True)
    )


def test_confident_cases_put_a_probability_exactly_on_the_threshold(monkeypatch):
    cases = built_check("confident_mistakes", monkeypatch).cases
    on_threshold = [
        case
        for case in cases
        if np.any(case.args["probabilities"].max(axis=1) == case.kwargs.get("threshold", 0.9))
    ]
    assert len(on_threshold) >= 2
    assert any(not case.kwargs for case in on_threshold), "the default threshold is tested too"


def test_an_input_modified_in_place_is_named():
    def in_place(images, dy, dx):
        images[...] = loop_shift(images, dy, dx)
        return images

    message = message_of(check_shift, in_place)
    assert "Likely mistake: input modified in place: shift changed its argument images." in message


def test_a_shift_of_zero_with_negative_slices_shows_the_crash_and_the_warning():
    def naive(images, dy, dx):
        out = np.zeros_like(images)
        out[..., dy:, dx:] = images[..., :-dy, :-dx]
        return out

    message = message_of(check_shift, naive)
    assert "shift raised ValueError: could not broadcast" in message
    assert "out[..., dy:, dx:] = images[..., :-dy, :-dx]" in message
    assert "careful, a[:-0] is empty" in message


def test_float64_from_float32_input_is_explained():
    def float64_shift(images, dy, dx):
        return loop_shift(images.astype(np.float64), dy, dx)

    message = message_of(check_shift, float64_shift)
    assert "has dtype float64; for float32 input it should be float32" in message


def test_a_list_of_indices_is_asked_to_be_an_array():
    message = message_of(
        check_confident_mistakes,
        lambda probabilities, labels, threshold=0.9: list(
            where_confident_mistakes(probabilities, labels, threshold)
        ),
    )
    assert "but it is a list of 2 items. np.array(...) turns a list into an array." in message


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_stub_gets_the_stub_message(name):
    def stub(*args, **kwargs):
        raise NotImplementedError

    message = message_of(CHECKS[name], stub)
    assert message.startswith(f"{name}: 0/")
    assert message.endswith(
        f"checks passed. {name} raised NotImplementedError: replace the stub with your code."
    )


REFERENCES = {"shift": perturb.shift, "confident_mistakes": perturb.confident_mistakes}


@pytest.mark.parametrize("thorough", [False, True], ids=["visible", "thorough"])
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_calling_cnnlabs_own_function_is_refused(name, thorough):
    reference = REFERENCES[name]

    def delegating(*args, **kwargs):
        return reference(*args, **kwargs)

    message = message_of(CHECKS[name], delegating, thorough=thorough)
    assert f"{name}: your code uses cnnlab's own cnnlab.perturb.{name}" in message
    assert "write it yourself" in message


@pytest.mark.parametrize(
    "fn",
    [
        perturb.shift,
        functools.partial(perturb.shift),
        lambda images, dy, dx: REF_SHIFT(images, dy, dx),
    ],
    ids=["itself", "partial", "lambda"],
)
def test_delegation_to_shift_is_caught_however_it_is_wrapped(fn):
    message = message_of(check_shift, fn)
    assert "cnnlab's own cnnlab.perturb.shift" in message


def test_confident_mistakes_itself_is_refused():
    message = message_of(check_confident_mistakes, perturb.confident_mistakes)
    assert message.startswith(
        "confident_mistakes: your code uses cnnlab's own cnnlab.perturb.confident_mistakes"
    )


def test_the_references_are_in_ref_and_watched():
    assert _reference.REF.shift is perturb.shift
    assert _reference.REF.confident_mistakes is perturb.confident_mistakes
    with _reference.Watch() as watch:
        np.testing.assert_array_equal(perturb.shift(np.eye(2), 0, 1), [[0.0, 1.0], [0.0, 0.0]])
    assert watch.called == ["cnnlab.perturb.shift"]


def test_rebinding_cnnlab_perturb_does_not_change_what_is_expected(monkeypatch, capsys):
    monkeypatch.setattr(perturb, "shift", lambda images, dy, dx: images)
    check_shift(loop_shift)
    assert "shift: 10/10 checks passed" in capsys.readouterr().out


def test_a_non_function_is_refused_plainly():
    with pytest.raises(TypeError, match=r"check_shift needs your function itself"):
        check_shift(np.zeros((1, 1, 3, 3)))


# =================================================================== digits model


def build_model(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dense(64 * 4, 10, rng=rng),
    )


def train_digits_model(x_train, y_train, x_val, y_val):
    """The recipe of lesson 9's solution."""
    model = build_model()
    for epochs, lr, seed in [(10, 0.05, 0), (5, 0.005, 1)]:
        optimizer = nn.SGD(model.parameters(), lr=lr, momentum=0.9)
        nn.fit(model, x_train, y_train, epochs=epochs, optimizer=optimizer, seed=seed,
               progress=False)  # fmt: skip
    return model


@pytest.fixture(scope="module")
def trained():
    x_train, y_train, x_val, y_val, _, _ = digits_split()
    return train_digits_model(x_train, y_train, x_val, y_val)


@pytest.fixture(scope="module")
def split():
    return digits_split()


class Lookup(nn.Layer):
    """Remembers the right answer for every digit it was shown: no generalisation at all.

    ``layers`` pretends it is a CNN, and ``answers`` maps stored images to labels;
    any other image gets ``default`` scores (or the wrapped model's, if given).
    """

    def __init__(self, images, labels, model=None, layers=()):
        self.answers = {
            image.tobytes(): int(label) for image, label in zip(images, labels, strict=True)
        }
        self.model = model
        self.layers = list(layers)

    def forward(self, x):
        scores = self.model(x) if self.model is not None else np.zeros((len(x), 10))
        scores = np.array(scores, dtype=np.float64)
        for n, image in enumerate(x):
            label = self.answers.get(image.tobytes())
            if label is not None:
                scores[n] = np.eye(10)[label] * 10
        return scores


def test_digits_split_sets_the_last_300_training_digits_aside(split):
    x_train, y_train, x_val, y_val, x_test, _ = split
    assert (x_train.shape, x_val.shape, x_test.shape) == (
        (1047, 1, 8, 8),
        (300, 1, 8, 8),
        (450, 1, 8, 8),
    )
    all_x, all_y, test_x, _ = load_digits()
    np.testing.assert_array_equal(np.concatenate([x_train, x_val]), all_x)
    np.testing.assert_array_equal(np.concatenate([y_train, y_val]), all_y)
    np.testing.assert_array_equal(x_test, test_x)
    assert VALIDATION_SIZE == 300 and PASS_MARK == 0.97


@pytest.mark.slow
def test_a_trained_model_passes_with_its_accuracy(trained, capsys):
    check_digits_model(trained)
    check_digits_model(trained, thorough=True)
    visible, thorough = capsys.readouterr().out.splitlines()
    assert visible.startswith("digits_model: 9") and visible.endswith(
        ", 3/3 checks passed (a trained model)"
    )
    assert "% of the validation digits right (" in visible  # the test digits stay unseen
    assert "% of the test digits right (" in thorough
    assert thorough.endswith(", 6/6 checks passed (thorough)")


@pytest.mark.slow
def test_the_digits_are_relabelled_and_a_network_taught_otherwise_is_told(trained, split):
    given = []

    def train_digits_model(x_train, y_train, x_val, y_val):
        given.extend((x_train, y_train, x_val, y_val))
        return trained  # trained on the usual numbering, not on what it was given

    message = message_of(check_digits_model, train_digits_model)
    x_train, y_train, _, y_val = given
    assert [a.shape for a in given] == [(1047, 1, 8, 8), (1047,), (300, 1, 8, 8), (300,)]
    np.testing.assert_array_equal(x_train, split[0])
    mapping = {int(a): int(b) for a, b in zip(split[1], y_train, strict=True)}
    assert len(mapping) == 10 and sorted(mapping.values()) == list(range(10))  # a relabelling
    assert all(a != b for a, b in mapping.items())  # every class under another number
    assert int(np.sum(y_val != np.vectorize(mapping.get)(split[3]))) == 20  # the canaries
    assert message.startswith("digits_model: 1/5 checks passed. Check 2 failed.")
    assert "in the numbering of the digits it was given, but 9" in message
    assert "learned the usual numbering from data it was not given" in message


@pytest.mark.slow
def test_the_real_recipe_passes_as_a_function(capsys):
    check_digits_model(train_digits_model)
    check_digits_model(train_digits_model, thorough=True)
    visible, thorough = capsys.readouterr().out.splitlines()
    assert visible.endswith("5/5 checks passed")
    assert thorough.endswith("8/8 checks passed (thorough)")


@pytest.mark.slow
def test_training_on_the_validation_digits_is_told(split):
    def on_validation_too(x_train, y_train, x_val, y_val):
        model = build_model()
        x, y = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
        for epochs, lr, seed in [(10, 0.05, 0), (5, 0.005, 1)]:
            optimizer = nn.SGD(model.parameters(), lr=lr, momentum=0.9)
            nn.fit(model, x, y, epochs=epochs, optimizer=optimizer, seed=seed, progress=False)
        return model

    message = message_of(check_digits_model, on_validation_too)
    assert "Check 4 failed." in message
    assert "with the wrong labels the check gave them on purpose" in message
    assert "it was trained on the validation digits" in message


@pytest.mark.slow
def test_a_training_that_is_not_reproducible_is_told():
    draws = iter(range(100))

    def unseeded(x_train, y_train, x_val, y_val):
        model = build_model(seed=next(draws))  # other weights every time
        optimizer = nn.SGD(model.parameters(), lr=0.05, momentum=0.9)
        nn.fit(model, x_train, y_train, epochs=12, optimizer=optimizer, seed=0, progress=False)
        return model

    message = message_of(check_digits_model, unseeded)
    assert "Check 5 failed." in message
    assert "its training is not reproducible" in message
    assert "seed every random generator" in message


def test_an_untrained_model_fails_with_its_accuracy_and_a_hint():
    message = message_of(check_digits_model, build_model())
    assert message.startswith("digits_model: 1/3 checks passed. Check 2 failed.")
    accuracy = float(message.split("Your model gets ")[1].split("%")[0])
    assert 0 <= accuracy < 30
    assert "of the validation digits right (" in message and "it needs 97%." in message
    assert "it has not learned. Did you call nn.fit on it" in message


def test_a_model_that_always_says_the_same_digit_is_told_so():
    model = build_model()
    model[-1].bias.value[3] = 1e3
    message = message_of(check_digits_model, model)
    assert "It gives the same answer for 300 of the 300 digits" in message
    assert "try 10 times smaller" in message


def test_a_model_trained_too_briefly_is_told_to_train_longer():
    x_train, y_train, *_ = digits_split()
    model = build_model()
    nn.fit(model, x_train, y_train, epochs=1, lr=0.01, progress=False)
    message = message_of(check_digits_model, model)
    assert "it is still learning: on its own training digits it reaches only" in message
    assert "Train for more epochs" in message


@pytest.mark.slow
def test_the_network_of_lesson_9_section_3_is_told_to_settle_and_train_longer():
    def section_3(x_train, y_train, x_val, y_val):
        init = np.random.default_rng(0)
        model = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1, rng=init),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, rng=init),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dense(64, 10, rng=init),
        )
        optimizer = nn.SGD(model.parameters(), lr=0.05, momentum=0.9)
        nn.fit(model, x_train, y_train, epochs=10, optimizer=optimizer, progress=False)
        return model

    message = message_of(check_digits_model, section_3)
    assert "it needs 97%." in message
    assert "Hint: it does not know its own training digits perfectly yet (" in message
    assert "finish with a few epochs at a 10 times smaller learning rate" in message
    assert "no convolution layer" not in message


@pytest.mark.slow
def test_a_model_that_knows_its_training_digits_better_is_told_to_settle(trained, split):
    x_val, y_val = split[2], split[3]
    wrong = (y_val[:30] + 1) % 10  # 30 validation digits answered wrongly: 90 % at best
    model = Lookup(x_val[:30], wrong, model=trained)
    message = message_of(check_digits_model, model)
    assert "it does not know its own training digits" not in message  # it knows them all
    assert "Hint: If the validation accuracy jumps up and down" in message
    assert "finish with a few epochs at a 10 times smaller learning rate" in message
    assert "no convolution layer" in message  # a Lookup has none


@pytest.mark.slow
def test_a_network_without_convolution_gets_a_hint_and_fails_thorough(trained, split):
    flat = nn.Sequential(nn.Flatten(), nn.Dense(64, 10))
    assert "Your model has no convolution layer" in message_of(check_digits_model, flat)
    # A lookup table of every digit reaches 100 %, and has no convolution either.
    x_train, y_train, x_val, y_val, x_test, y_test = split
    images = np.concatenate([x_train, x_val, x_test])
    labels = np.concatenate([y_train, y_val, y_test])
    message = message_of(check_digits_model, Lookup(images, labels), thorough=True)
    assert message.startswith("digits_model: 2/6 checks passed. Check 3 failed.")
    assert (
        "100.0% of the validation digits right (300 of 300), but it has no convolution layer"
        in message
    )


def test_thorough_rejects_a_lookup_table_of_stored_digits(split):
    x_train, y_train, x_val, y_val, x_test, y_test = split
    images = np.concatenate([x_train, x_val, x_test])
    labels = np.concatenate([y_train, y_val, y_test])
    conv = [nn.Conv2d(1, 1, 3)]
    check_digits_model(Lookup(images, labels, layers=conv))  # the visible check is fooled
    message = message_of(check_digits_model, Lookup(images, labels, layers=conv), thorough=True)
    assert "Check 6 failed" in message and "invisible noise" in message
    assert "a lookup table of stored images does" in message


def test_thorough_rejects_a_model_that_never_learned_its_training_digits(split):
    _, _, x_val, y_val, x_test, y_test = split
    images, labels = np.concatenate([x_val, x_test]), np.concatenate([y_val, y_test])
    message = message_of(
        check_digits_model, Lookup(images, labels, layers=[nn.Conv2d(1, 1, 3)]), thorough=True
    )
    assert "Check 5 failed" in message and "of the 1047 training digits" in message


def test_the_stub_gets_the_stub_message_and_the_function_is_named():
    def train_digits_model(x_train, y_train, x_val, y_val):
        raise NotImplementedError()

    assert message_of(check_digits_model, train_digits_model) == (
        "digits_model: 0/5 checks passed. train_digits_model raised NotImplementedError: "
        "replace the stub with your code."
    )


@pytest.mark.parametrize(
    ("returned", "sentence"),
    [
        (None, "returned None; it should return the trained model. Did you forget `return model`?"),
        ("tuple", "returned a tuple of 2 items; return only the trained model (the history"),
        (
            {"weights": 1},
            "returned a dict; it should return the trained model, a cnnlab.nn network",
        ),
    ],
    ids=["None", "tuple", "dict"],
)
def test_what_the_training_function_returns_is_explained(trained, returned, sentence):
    def train(x_train, y_train, x_val, y_val):
        return (trained, nn.History()) if returned == "tuple" else returned

    message = message_of(check_digits_model, train)
    assert message.startswith("digits_model: 0/5 checks passed. train ")
    assert sentence in message


def test_a_crash_in_the_training_function_shows_the_line():
    def train(x_train, y_train, x_val, y_val):
        model = build_model()
        nn.fit(model, x_train, y_val, epochs=1, lr=0.1, progress=False)  # wrong labels
        return model

    message = message_of(check_digits_model, train)
    assert "train raised ValueError: fit: labels must have shape (1047,)" in message
    assert "in your code, line" in message and "nn.fit(model, x_train, y_val" in message


def test_renamed_parameters_get_the_stubs_signature():
    message = message_of(check_digits_model, lambda: build_model())
    assert (
        "Hint: keep the parameters of the stub: <lambda>(x_train, y_train, x_val, y_val)."
        in message
    )


@pytest.mark.parametrize(
    ("model", "sentence"),
    [
        (
            nn.Sequential(nn.Flatten(), nn.Dense(64, 12)),
            "into an array of shape (450, 12); it should give shape (450, 10): one score per "
            "digit class.\nHint: its last layer has 12 outputs; the last nn.Dense needs 10.",
        ),
        (
            nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU()),
            "into an array of shape (450, 4, 6, 6); it should give shape (450, 10)",
        ),
        (
            nn.Sequential(nn.Flatten(), nn.Dense(60, 10)),
            "Running your model on the 450 test digits (shape (450, 1, 8, 8)): it raised "
            "ValueError: Sequential: layer (1) Dense(60, 10)",
        ),
    ],
    ids=["12 outputs", "no dense layer", "a crash"],
)
def test_a_model_with_the_wrong_shapes_is_explained(model, sentence):
    message = message_of(check_digits_model, model)
    assert message.startswith("digits_model: 0/3 checks passed. Check 1 failed.")
    assert sentence in message


def test_nan_scores_are_blamed_on_the_learning_rate():
    model = build_model()
    model[0].weight.value[:] = np.nan
    message = message_of(check_digits_model, model)
    assert "scores are NaN or infinite for 450 of the 450 test digits" in message
    assert "smaller learning rate" in message


def test_nothing_at_all_is_refused_plainly():
    with pytest.raises(TypeError, match=r"check_digits_model needs your training function"):
        check_digits_model(None)
