"""The check of lesson 9: the digits model.

A trained network passes (given as a model or as its training function), and
everything that can go wrong on the way gets a plain sentence with the
accuracy and what to try. One network is trained once for the whole module
(a few seconds).
"""

import sys

import numpy as np
import pytest

from cnnlab import nn, perturb
from cnnlab.checks.digits import PASS_MARK, check_digits_model
from cnnlab.data import digits_split


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
        nn.fit(model, x_train, y_train, epochs=epochs, optimizer=optimizer, rng=seed,
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


def test_the_pass_mark_is_97_percent():
    assert PASS_MARK == 0.97


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
            nn.fit(model, x, y, epochs=epochs, optimizer=optimizer, rng=seed, progress=False)
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
        nn.fit(model, x_train, y_train, epochs=12, optimizer=optimizer, rng=0, progress=False)
        return model

    message = message_of(check_digits_model, unseeded)
    assert "Check 5 failed." in message
    assert "its training is not reproducible" in message
    assert "seed every random generator" in message
    assert "the order of the mini-batches (nn.fit(..., rng=...))" in message


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
