"""cnnlab.train: SGD, the training loop, measuring a model, saving and loading.

Tier 1: SGD updates and accuracies worked out by hand; predictions batch by
batch equal those of one full batch. Then the training loop end to end: a
small CNN must reach 97 % test accuracy on the digits, reproducibly, and every
bad argument gets a message naming the function and the argument.
"""

import math

import numpy as np
import pytest
from networks import digits_cnn, distinct, small_net
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

from cnnlab import ops
from cnnlab.data import load_digits
from cnnlab.nn import Conv2d, Dense, Flatten, MaxPool2d, Parameter, ReLU, Sequential
from cnnlab.train import (
    SGD,
    History,
    accuracy,
    evaluate,
    fit,
    load_weights,
    minibatches,
    predict,
    predict_proba,
    save_weights,
)

F64 = np.float64


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """One BLAS thread per test worker: the matrices here are tiny, and two workers each
    running two OpenBLAS threads on two cores made training up to 5 times slower."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ----------------------------------------------------------------------------- SGD


def test_sgd_step_by_hand():
    """value -= lr * g, with g = grad + weight_decay * value."""
    p = Parameter(np.array([1.0, -2.0]))
    p.grad[...] = [0.5, 0.25]
    SGD([p], lr=0.1, weight_decay=0.01).step()
    # g = [0.5 + 0.01, 0.25 - 0.02] = [0.51, 0.23]
    assert_allclose(p.value, [1.0 - 0.051, -2.0 - 0.023])


def test_sgd_momentum_by_hand():
    """velocity = momentum * velocity + g; value -= lr * velocity (as torch.optim.SGD)."""
    p = Parameter(np.array([1.0, -2.0]))
    optimizer = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    p.grad[...] = [0.5, 0.5]
    optimizer.step()  # g = v = [0.51, 0.48]
    assert_allclose(p.value, [0.949, -2.048])
    optimizer.step()  # g = [0.50949, 0.47952], v = 0.9 * [0.51, 0.48] + g
    assert_allclose(p.value, [0.949 - 0.096849, -2.048 - 0.091152])


def test_sgd_updates_in_place_and_each_shared_parameter_once():
    layer = Dense(2, 1, rng=0, dtype=F64)
    weight = layer.weight.value
    before = weight.copy()
    layer.weight.grad[...] = 1.0
    SGD([*layer.parameters(), layer.weight], lr=0.5).step()
    assert layer.weight.value is weight
    assert_allclose(weight, before - 0.5)


# ------------------------------------------------------------- predict and friends


def test_accuracy_by_hand():
    assert accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75
    scores = np.array([[0.1, 0.9], [2.0, -1.0], [0.0, 3.0]])
    assert accuracy(scores, [1, 0, 0]) == pytest.approx(2 / 3)


def test_predict_and_evaluate_agree_with_the_full_batch():
    rng = np.random.default_rng(9)
    model = small_net(dtype=np.float32)
    x = distinct(rng, (11, 2, 7, 5)).astype(np.float32)
    labels = rng.integers(0, 4, size=11)
    logits = model(x)
    predicted = predict(model, x, batch_size=4)
    assert predicted.dtype == np.int64
    assert_array_equal(predicted, logits.argmax(axis=1))
    proba = predict_proba(model, x, batch_size=3)
    assert_allclose(proba, ops.softmax(logits), rtol=1e-6)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    loss, acc = evaluate(model, x, labels, batch_size=4)
    assert loss == pytest.approx(ops.cross_entropy(logits, labels), rel=1e-6)
    assert acc == accuracy(logits, labels)


def test_minibatches_cover_every_example_once():
    x = np.arange(10.0).reshape(10, 1)
    labels = np.arange(10)
    batches = list(minibatches(x, labels, 4, rng=3))
    assert [len(b) for _, b in batches] == [4, 4, 2]
    seen = np.concatenate([b for _, b in batches])
    assert sorted(seen) == list(range(10)) and not np.array_equal(seen, labels)
    assert all(np.array_equal(xb[:, 0], b) for xb, b in batches)
    again = np.concatenate([b for _, b in minibatches(x, labels, 4, rng=3)])
    assert_array_equal(seen, again)
    in_order = np.concatenate([b for _, b in minibatches(x, labels, 4, shuffle=False)])
    assert_array_equal(in_order, labels)


# ---------------------------------------------------------------------- training loop


def test_fit_history_structure_and_determinism(digits, capsys):
    x_train, y_train, x_test, y_test = digits
    runs = []
    for progress in (True, False):
        model = digits_cnn(np.random.default_rng(0))
        optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
        history = fit(
            model, x_train[:300], y_train[:300], epochs=3, batch_size=50,
            optimizer=optimizer, validation=(x_test[:100], y_test[:100]), rng=1,
            progress=progress,
        )  # fmt: skip
        runs.append((history, model))
    out, err = capsys.readouterr()
    assert "epoch 3/3" in err  # the tqdm bar, in a terminal
    # and one plain line per epoch, which a saved notebook or a feedback page still shows
    lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    last = runs[0][0]
    assert lines[-1] == (
        f"epoch 3/3: loss {last.train_loss[-1]:.4f}, accuracy {last.train_accuracy[-1]:.1%}; "
        f"validation loss {last.val_loss[-1]:.4f}, accuracy {last.val_accuracy[-1]:.1%}"
    )
    history, model = runs[0]
    assert isinstance(history, History) and history.epochs == 3
    assert list(history) == ["train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    assert all(len(values) == 3 for values in dict(history).values())
    assert all(0 <= a <= 1 for a in history.train_accuracy + history.val_accuracy)
    assert history.train_loss[-1] < history.train_loss[0] < math.log(10) * 1.5
    assert history.as_dict() == runs[1][0].as_dict()  # same seeds, same numbers
    for p, q in zip(model.parameters(), runs[1][1].parameters(), strict=True):
        assert_array_equal(p.value, q.value)
    assert history.val_loss[-1] == pytest.approx(evaluate(model, x_test[:100], y_test[:100])[0])


def test_fit_with_lr_and_without_validation(digits):
    x_train, y_train, _, _ = digits
    model = Sequential(Flatten(), Dense(64, 10, rng=0))
    history = fit(model, x_train[:100], y_train[:100], epochs=2, lr=0.1, progress=False)
    assert history.val_loss == [] and history.val_accuracy == []
    assert history.train_loss[1] < history.train_loss[0]
    with pytest.raises(KeyError, match="History has no 'loss'; it has train_loss"):
        history["loss"]


def test_fit_stops_when_the_loss_becomes_nan(digits):
    """Without a ReLU to switch units off, too large a step makes the weights blow up."""
    x_train, y_train, _, _ = digits
    rng = np.random.default_rng(0)
    model = Sequential(
        Conv2d(1, 4, 3, padding=1, rng=rng), MaxPool2d(2), Flatten(), Dense(64, 10, rng=rng)
    )
    with pytest.raises(
        FloatingPointError,
        match=r"^fit: the loss became (nan|inf) at epoch 1/5, step \d+/43: the weights have "
        r"diverged; try a smaller learning rate than lr=10, e\.g\. lr=1$",
    ):
        fit(model, x_train, y_train, epochs=5, lr=10.0, progress=False)


@pytest.mark.slow
def test_the_small_cnn_reaches_97_percent_on_the_digits_reproducibly(digits):
    """The lesson-9 recipe: 10 epochs of SGD with momentum, batches of 32."""
    x_train, y_train, x_test, y_test = digits
    results = []
    for _ in range(2):
        model = digits_cnn(np.random.default_rng(0))
        optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
        history = fit(
            model, x_train, y_train, epochs=10, batch_size=32, optimizer=optimizer,
            validation=(x_test, y_test), rng=0, progress=False,
        )  # fmt: skip
        results.append((history.as_dict(), accuracy(predict(model, x_test), y_test)))
    (history, test_accuracy), (history_again, test_accuracy_again) = results
    assert test_accuracy >= 0.97, f"test accuracy {test_accuracy:.4f}"
    assert test_accuracy == history["val_accuracy"][-1]
    assert (history, test_accuracy) == (history_again, test_accuracy_again)


# ---------------------------------------------------------------------- save and load


def test_save_and_load_weights_round_trip(tmp_path):
    rng = np.random.default_rng(10)
    model = small_net(seed=1, dtype=np.float32)
    x = distinct(rng, (4, 2, 7, 5)).astype(np.float32)
    expected = model(x)
    path = tmp_path / "weights.npz"
    save_weights(model, path)
    other = small_net(seed=2, dtype=np.float32)
    assert not np.array_equal(other(x), expected)
    load_weights(other, path)
    assert_array_equal(other(x), expected)
    assert other[0].weight.value.dtype == np.float32


def test_loading_into_another_architecture_says_what_differs(tmp_path):
    path = tmp_path / "weights.npz"
    save_weights(small_net(), path)
    model = Sequential(
        Conv2d(2, 5, (3, 2), padding=(1, 0)), ReLU(), MaxPool2d(2), Flatten(), Dense(30, 4)
    )
    before = model[0].weight.value.copy()
    with pytest.raises(ValueError, match=r"0.weight has shape \(3, 2, 3, 2\) in the file but") as e:
        load_weights(model, path)
    assert "4.weight has shape (18, 4) in the file but (30, 4)" in str(e.value)
    assert "They were saved from:\nSequential(\n  (0): Conv2d(2, 3" in str(e.value)
    assert_array_equal(model[0].weight.value, before)  # nothing was loaded
    with pytest.raises(ValueError, match=r"2\.weight is missing from the file") as e:
        load_weights(Sequential(Flatten(), ReLU(), Dense(30, 4)), path)
    assert "the file has 4.weight, the model does not" in str(e.value)


def test_loading_a_file_that_is_not_npz(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not weights")
    with pytest.raises(ValueError, match=r"is not an \.npz file written by save_weights"):
        load_weights(small_net(), path)
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"one\.npy is not an \.npz file .*single array"):
        load_weights(small_net(), tmp_path / "one.npy")
    with pytest.raises(FileNotFoundError):
        load_weights(small_net(), tmp_path / "missing.npz")


# ------------------------------------------------------------------ argument checks


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: SGD(Dense(2, 2), lr=0.1), TypeError, r"SGD: parameters must be a list.*Dense"),
        (lambda: SGD([1.0], lr=0.1), TypeError, "SGD: parameters must hold Parameter objects"),
        (lambda: SGD([], lr=0.1), ValueError, "SGD: parameters is empty"),
        (
            lambda: SGD(Dense(2, 2).parameters(), lr=0),
            ValueError,
            r"SGD: lr must be a finite positive number, got 0\.0",
        ),
        (
            lambda: SGD(Dense(2, 2).parameters(), lr=-1),
            ValueError,
            r"SGD: lr must be a finite positive number, got -1\.0",
        ),
        (lambda: SGD(Dense(2, 2).parameters(), lr="0.1"), TypeError, "SGD: lr must be a number"),
        (
            lambda: SGD(Dense(2, 2).parameters(), lr=0.1, momentum=1.0),
            ValueError,
            r"SGD: momentum must be a finite number in \[0, 1\), got 1.0",
        ),
        (
            lambda: SGD(Dense(2, 2).parameters(), lr=0.1, weight_decay=-0.1),
            ValueError,
            r"SGD: weight_decay must be a finite non-negative number, got -0\.1",
        ),
        (lambda: accuracy([0, 1], [0, 1, 1]), ValueError, r"labels must have shape \(2,\)"),
        (
            lambda: accuracy([0.5, 1], [0, 1]),
            ValueError,
            r"accuracy: predictions must be whole class indices, got non-integer values "
            r"such as \[0\.5\]",
        ),
        (lambda: accuracy([], []), ValueError, "accuracy: predictions and labels are empty"),
        (lambda: predict(ops.relu, np.zeros((1, 2))), TypeError, "predict: model must be a"),
    ],
)
def test_bad_arguments_get_a_clear_error(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"epochs": 0}, ValueError, "fit: epochs must be a positive int, got 0"),
        ({"batch_size": 2.0}, TypeError, "fit: batch_size must be a positive int"),
        ({"lr": None}, ValueError, "fit: give either optimizer=.* or lr=..., got neither"),
        ({"optimizer": "sgd"}, ValueError, "got both"),
        ({"lr": None, "optimizer": "sgd"}, TypeError, "fit: optimizer must have step()"),
        ({"labels": np.zeros(3, int)}, ValueError, r"fit: labels must have shape \(8,\)"),
        (
            {"labels": -np.ones(8, int)},
            ValueError,
            r"fit: labels must lie in \[0, 10\) for 10 classes, got \[-1, -1, -1\]",
        ),
        ({"x": np.zeros((8, 64))}, ValueError, r"layer \(0\) Conv2d.*must have 4 dimensions"),
        ({"x": np.full((8, 1, 8, 8), np.nan)}, ValueError, "fit: x contains NaN"),
        ({"validation": np.zeros(3)}, TypeError, r"fit: validation must be a pair \(x_val"),
        (
            {"validation": (np.zeros((2, 1, 8, 8)), [3, 10])},
            ValueError,
            r"fit: validation\[1\] must lie in \[0, 10\) for 10 classes, got \[10\]",
        ),
        (
            {"model": Sequential(Conv2d(1, 2, 3))},
            ValueError,
            r"gives \(1, 2, 6, 6\) for one example; end it with Flatten\(\) and Dense",
        ),
        (
            {"rng": "zero"},
            TypeError,
            "fit: rng must be None, an int seed or a numpy.random.Generator",
        ),
        ({"rng": -1}, ValueError, "fit: rng must be a non-negative int, got -1"),
        ({"model": "cnn"}, TypeError, "fit: model must be a cnnlab.nn layer"),
    ],
)
def test_fit_checks_its_arguments(changes, error, match):
    arguments = {
        "model": digits_cnn(np.random.default_rng(0)),
        "x": np.zeros((8, 1, 8, 8)),
        "labels": np.zeros(8, int),
        "epochs": 1,
        "lr": 0.1,
        "progress": False,
    }
    arguments.update(changes)
    with pytest.raises(error, match=match):
        fit(**arguments)
