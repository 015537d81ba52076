"""Training a model of :mod:`cnnlab.nn`: the optimiser, the loop, measuring, saving.

- :class:`SGD` moves every parameter against its gradient (with momentum and
  weight decay, as ``torch.optim.SGD``);
- :func:`minibatches` cuts the data into shuffled batches, :func:`fit` runs
  epochs of forward, loss, backward and optimiser steps over them with a
  progress bar, and returns a :class:`History` of the loss and accuracy;
- :func:`evaluate`, :func:`predict_proba`, :func:`predict` and :func:`accuracy`
  measure a trained model; :func:`save_weights` and :func:`load_weights` keep it.

Every name here is also available from :mod:`cnnlab.nn` (``nn.fit``,
``nn.SGD``, ...), as the lessons use them. Randomness comes from ``rng``: an
int seed, a ``numpy.random.Generator`` or ``None`` (the fixed seed
:data:`~cnnlab.nn.DEFAULT_SEED`).
"""

from __future__ import annotations

import math
import numbers
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import numpy as np
from tqdm.auto import tqdm

from cnnlab._validation import (
    DEFAULT_SEED,
    as_float_array,
    as_generator,
    as_int,
    as_labels,
    as_real,
    describe,
)
from cnnlab.nn import CrossEntropyLoss, Layer, Parameter
from cnnlab.ops import cross_entropy, softmax

__all__ = [
    "SGD",
    "History",
    "accuracy",
    "evaluate",
    "fit",
    "load_weights",
    "minibatches",
    "predict",
    "predict_proba",
    "save_weights",
]


# ------------------------------------------------------------------------- optimiser


class SGD:
    """Stochastic gradient descent with optional momentum and weight decay, as ``torch.optim.SGD``.

    For every parameter, with gradient ``g``:

    * ``g = g + weight_decay * value``  (L2 penalty ``weight_decay / 2 * value**2``);
    * ``velocity = momentum * velocity + g``  (starting from 0);
    * ``value -= lr * velocity``.

    Parameters
    ----------
    parameters : iterable of Parameter
        Usually ``model.parameters()``.
    lr : float > 0
        Learning rate, the size of each step.
    momentum : float in [0, 1), default 0
        How much of the previous step is kept; 0 is plain SGD.
    weight_decay : float >= 0, default 0
    """

    def __init__(self, parameters, lr, momentum=0.0, weight_decay=0.0):
        func = "SGD"
        if isinstance(parameters, Parameter | Layer) or not hasattr(parameters, "__iter__"):
            raise TypeError(
                f"SGD: parameters must be a list of Parameter objects such as "
                f"model.parameters(), got {describe(parameters)}"
            )
        unique = {}
        for p in parameters:
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"SGD: parameters must hold Parameter objects (from model.parameters()), "
                    f"got {describe(p)}"
                )
            unique.setdefault(id(p), p)  # a shared parameter is updated once
        if not unique:
            raise ValueError("SGD: parameters is empty; the model has nothing to train")
        self.parameters = list(unique.values())
        self.lr = as_real(func, "lr", lr, above=0)
        self.momentum = as_real(func, "momentum", momentum, at_least=0, below=1)
        self.weight_decay = as_real(func, "weight_decay", weight_decay, at_least=0)
        self.velocities = [np.zeros_like(p.value) for p in self.parameters]

    def step(self) -> None:
        """Move every parameter one step against its gradient (in place)."""
        for p, velocity in zip(self.parameters, self.velocities, strict=True):
            grad = p.grad
            if self.weight_decay:
                grad = grad + self.weight_decay * p.value
            if self.momentum:
                velocity *= self.momentum
                velocity += grad
                grad = velocity
            p.value -= self.lr * grad

    def zero_grad(self) -> None:
        """Set the gradient of every parameter back to zero."""
        for p in self.parameters:
            p.zero_grad()

    def __repr__(self) -> str:
        return (
            f"SGD({len(self.parameters)} parameters, lr={self.lr:g}, "
            f"momentum={self.momentum:g}, weight_decay={self.weight_decay:g})"
        )


# ----------------------------------------------------------------------------- data


def _check_model(func: str, model) -> Layer:
    if not isinstance(model, Layer):
        raise TypeError(
            f"{func}: model must be a cnnlab.nn layer or Sequential, got {describe(model)}"
        )
    return model


def _examples(func: str, x, labels=None, *, name="x", labels_name="labels", num_classes=None):
    x = as_float_array(func, name, x)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(
            f"{func}: {name} must be a non-empty batch of shape (N, ...), e.g. (N, C, H, W), "
            f"got shape {x.shape}"
        )
    if not np.isfinite(x).all():
        raise ValueError(f"{func}: {name} contains NaN or infinite values; clean the data first")
    if labels is None:
        return x
    return x, as_labels(func, labels, n=x.shape[0], num_classes=num_classes, name=labels_name)


def _num_classes(func: str, model: Layer, x: np.ndarray) -> int:
    """K, found by running the model on one example, which must give ``(1, K)`` scores."""
    shape = model(x[:1]).shape
    if len(shape) != 2:
        raise ValueError(
            f"{func}: the model must turn each example into one row of class scores, "
            f"shape (N, K), but it gives {shape} for one example; end it with Flatten() "
            f"and Dense(..., K)"
        )
    return shape[1]


def minibatches(x, labels, batch_size, *, shuffle=True, rng=None):
    """Yield ``(x_batch, labels_batch)`` pairs covering the data once (one epoch).

    Parameters
    ----------
    x : ndarray of shape (N, ...)
    labels : ndarray of shape (N,)
    batch_size : int
        Examples per batch; the last batch holds what is left (``N % batch_size``).
    shuffle : bool, default True
        Visit the examples in a random order drawn from ``rng``.
    rng : numpy.random.Generator, int or None
        ``None`` means seed :data:`~cnnlab.nn.DEFAULT_SEED`. Pass the same Generator for every
        epoch to get a new order each time.

    Yields
    ------
    x_batch : ndarray of shape (B, ...)
    labels_batch : ndarray of shape (B,)
    """
    x, labels = _examples("minibatches", x, labels)
    batch_size = as_int("minibatches", "batch_size", batch_size, minimum=1)
    order = as_generator("minibatches", "rng", rng).permutation(x.shape[0]) if shuffle else None
    return _batches(x, labels, batch_size, order)  # checked now, not at the first batch


def _batches(x: np.ndarray, labels: np.ndarray, batch_size: int, order: np.ndarray | None):
    for start in range(0, x.shape[0], batch_size):
        if order is None:
            yield x[start : start + batch_size], labels[start : start + batch_size]
        else:
            chosen = order[start : start + batch_size]
            yield x[chosen], labels[chosen]


# --------------------------------------------------------------------- training loop


@dataclass
class History(Mapping):
    """Loss and accuracy per epoch, as :func:`fit` returns them.

    ``train_loss`` and ``train_accuracy`` are averaged over the batches of
    each epoch while the weights were changing (as Keras reports them);
    ``val_loss`` and ``val_accuracy`` are measured on the validation data at
    the end of each epoch (empty without validation data).

    It is also a read-only mapping from those four names to their lists, so
    ``history["val_accuracy"]`` and ``dict(history)`` work too.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """The number of epochs recorded."""
        return len(self.train_loss)

    def __getitem__(self, key: str) -> list[float]:
        if key not in _HISTORY_KEYS:
            raise KeyError(f"History has no {key!r}; it has {', '.join(_HISTORY_KEYS)}")
        return getattr(self, key)

    def __iter__(self):
        return iter(_HISTORY_KEYS)

    def __len__(self) -> int:
        return len(_HISTORY_KEYS)

    def as_dict(self) -> dict[str, list[float]]:
        """A plain ``dict`` of copies of the four lists."""
        return {key: list(self[key]) for key in self}


_HISTORY_KEYS = tuple(f.name for f in fields(History))


def _diverged(loss: float, epoch: int, epochs: int, step: int, steps: int, lr) -> str:
    advice = "try a smaller learning rate"
    if isinstance(lr, numbers.Real):
        advice = f"try a smaller learning rate than lr={lr:g}, e.g. lr={lr / 10:g}"
    return (
        f"fit: the loss became {loss} at epoch {epoch}/{epochs}, step {step}/{steps}: "
        f"the weights have diverged; {advice}"
    )


def fit(
    model,
    x,
    labels,
    *,
    epochs,
    batch_size=32,
    optimizer=None,
    lr=None,
    validation=None,
    rng=DEFAULT_SEED,
    progress=True,
) -> History:
    """Train ``model`` by mini-batch gradient descent on the mean cross-entropy.

    Every epoch visits the training examples once, in a new random order,
    ``ceil(N / batch_size)`` steps of: forward, loss, zero the gradients,
    backward, optimiser step. The batches are those of
    ``minibatches(x, labels, batch_size, rng=generator)``, one call per epoch,
    with one ``generator`` made from ``rng`` for the whole training (for an
    int, ``numpy.random.default_rng(rng)``), so another framework can be fed
    exactly the same batches.

    Parameters
    ----------
    model : Layer, usually a Sequential
        Maps ``(B, ...)`` inputs to ``(B, K)`` class scores (logits).
    x : ndarray of shape (N, ...)
        Training inputs, e.g. ``(N, C, H, W)``.
    labels : ndarray of shape (N,)
        Class indices in ``[0, K)``.
    epochs : int
        Passes over the training data.
    batch_size : int, default 32
    optimizer : SGD, optional
        Anything with ``step()`` and ``zero_grad()``. Give either this or ``lr``.
    lr : float, optional
        Shortcut for ``optimizer=SGD(model.parameters(), lr=lr)`` (no momentum).
    validation : (x_val, labels_val), optional
        Data measured with :func:`evaluate` after every epoch.
    rng : int, numpy.random.Generator or None, default DEFAULT_SEED
        Shuffling of the batches: an int seed (``None`` means
        :data:`~cnnlab.nn.DEFAULT_SEED`), or a Generator, which is drawn from
        and so moves on. With the same seed and the same initial weights,
        training gives the same numbers every time.
    progress : bool, default True
        Show a progress bar (``tqdm.auto``: a widget in a notebook, text in a
        terminal), and print one plain line per epoch with its loss and
        accuracy: the widget shows nothing where there is no live kernel (a
        notebook saved and viewed later, a feedback page), the lines do.

    Returns
    -------
    History
        ``train_loss``, ``train_accuracy``, ``val_loss`` and ``val_accuracy`` per epoch.

    Raises
    ------
    FloatingPointError
        When the loss becomes NaN or infinite; the message names the epoch and
        step and suggests a smaller learning rate.
    """
    func = "fit"
    model = _check_model(func, model)
    x = _examples(func, x)
    num_classes = _num_classes(func, model, x)
    labels = as_labels(func, labels, n=x.shape[0], num_classes=num_classes)
    epochs = as_int(func, "epochs", epochs, minimum=1)
    batch_size = as_int(func, "batch_size", batch_size, minimum=1)
    if (optimizer is None) == (lr is None):
        raise ValueError(
            "fit: give either optimizer=SGD(model.parameters(), lr=...) or lr=..., "
            f"got {'both' if lr is not None else 'neither'}"
        )
    if optimizer is None:
        optimizer = SGD(model.parameters(), lr=lr)
    elif not (callable(getattr(optimizer, "step", None)) and hasattr(optimizer, "zero_grad")):
        raise TypeError(
            f"fit: optimizer must have step() and zero_grad(), like SGD, got {describe(optimizer)}"
        )
    if validation is not None:
        if not (isinstance(validation, tuple | list) and len(validation) == 2):
            raise TypeError(
                f"fit: validation must be a pair (x_val, labels_val), got {describe(validation)}"
            )
        validation = _examples(
            func, *validation, name="validation[0]", labels_name="validation[1]",
            num_classes=num_classes,
        )  # fmt: skip
    rng = as_generator(func, "rng", rng)
    loss_fn = CrossEntropyLoss()
    history = History()
    n = x.shape[0]
    steps = -(-n // batch_size)
    bar = tqdm(total=epochs * steps, disable=not progress, unit="batch", leave=True)
    # Overflow on the way to a NaN loss is reported by the check below, in plain words.
    with bar, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(1, epochs + 1):
            bar.set_description(f"epoch {epoch}/{epochs}")
            total_loss, correct = 0.0, 0
            batches = _batches(x, labels, batch_size, rng.permutation(n))  # = minibatches()
            for step, (x_batch, labels_batch) in enumerate(batches, start=1):
                logits = model(x_batch)
                loss = loss_fn(logits, labels_batch)
                if not math.isfinite(loss):
                    raise FloatingPointError(
                        _diverged(loss, epoch, epochs, step, steps, getattr(optimizer, "lr", None))
                    )
                optimizer.zero_grad()
                model.backward(loss_fn.backward())
                optimizer.step()
                total_loss += loss * len(labels_batch)
                correct += int(np.count_nonzero(logits.argmax(axis=1) == labels_batch))
                bar.update()
            history.train_loss.append(total_loss / n)
            history.train_accuracy.append(correct / n)
            postfix = {"loss": f"{total_loss / n:.4f}", "acc": f"{correct / n:.4f}"}
            line = f"epoch {epoch}/{epochs}: loss {total_loss / n:.4f}, accuracy {correct / n:.1%}"
            if validation is not None:
                val_loss, val_accuracy = evaluate(model, *validation)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_accuracy)
                postfix |= {"val_loss": f"{val_loss:.4f}", "val_acc": f"{val_accuracy:.4f}"}
                line += f"; validation loss {val_loss:.4f}, accuracy {val_accuracy:.1%}"
            bar.set_postfix(postfix)
            if progress:
                bar.write(line)  # stdout: above a terminal's bar, after a notebook's widget
    return history


def _inference(func: str, model, x, batch_size) -> tuple[Layer, np.ndarray, int]:
    """The checked arguments of a function that runs ``model`` on ``x`` batch by batch."""
    model = _check_model(func, model)
    x = _examples(func, x)
    return model, x, as_int(func, "batch_size", batch_size, minimum=1)


def _logits(model, x: np.ndarray, batch_size: int):
    """Yield ``(start, logits)`` for consecutive batches, so memory stays bounded."""
    for start in range(0, x.shape[0], batch_size):
        yield start, model(x[start : start + batch_size])


def evaluate(model, x, labels, *, batch_size=256) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``(x, labels)``.

    Parameters
    ----------
    model : Layer
    x : ndarray of shape (N, ...)
    labels : ndarray of shape (N,)
    batch_size : int, default 256
        Examples per forward pass; bounds the memory used.

    Returns
    -------
    loss : float
    accuracy : float in [0, 1]
    """
    func = "evaluate"
    model = _check_model(func, model)
    x, labels = _examples(func, x, labels)
    batch_size = as_int(func, "batch_size", batch_size, minimum=1)
    total_loss, correct = 0.0, 0
    for start, logits in _logits(model, x, batch_size):
        batch_labels = labels[start : start + logits.shape[0]]
        total_loss += cross_entropy(logits, batch_labels) * logits.shape[0]
        correct += int(np.count_nonzero(logits.argmax(axis=1) == batch_labels))
    return total_loss / x.shape[0], correct / x.shape[0]


def predict_proba(model, x, *, batch_size=256) -> np.ndarray:
    """Class probabilities, ``softmax(model(x))``, computed batch by batch.

    Parameters
    ----------
    model : Layer
    x : ndarray of shape (N, ...)
    batch_size : int, default 256

    Returns
    -------
    ndarray of shape (N, K)
        Each row sums to 1. A network always spreads all of it over the
        classes it knows: it cannot answer "none of these".
    """
    batches = _logits(*_inference("predict_proba", model, x, batch_size))
    return np.concatenate([softmax(z, axis=1) for _, z in batches])


def predict(model, x, *, batch_size=256) -> np.ndarray:
    """The predicted class of every example: the index of its largest score.

    Parameters
    ----------
    model : Layer
    x : ndarray of shape (N, ...)
    batch_size : int, default 256

    Returns
    -------
    ndarray of shape (N,), dtype int64
    """
    batches = _logits(*_inference("predict", model, x, batch_size))
    return np.concatenate([z.argmax(axis=1) for _, z in batches]).astype(np.int64)


def accuracy(predictions, labels) -> float:
    """Fraction of examples whose predicted class is the true one.

    Parameters
    ----------
    predictions : ndarray of shape (N,) or (N, K)
        Class indices, or scores (logits or probabilities) whose largest entry
        in each row is the predicted class.
    labels : ndarray of shape (N,)
        True class indices.

    Returns
    -------
    float in [0, 1]
    """
    func = "accuracy"
    if np.ndim(predictions) == 2:
        scores = as_float_array(func, "predictions", predictions)
        predicted = scores.argmax(axis=1)
    else:
        predicted = as_labels(func, predictions, name="predictions")
    truth = as_labels(func, labels, n=predicted.shape[0])
    if truth.size == 0:
        raise ValueError("accuracy: predictions and labels are empty; there is nothing to score")
    return float(np.count_nonzero(predicted == truth) / truth.size)


# --------------------------------------------------------------------- save and load

_ARCHITECTURE = "__architecture__"


def save_weights(model, path) -> None:
    """Write every parameter of ``model`` to an ``.npz`` file at ``path`` (exactly that name).

    The arrays are stored under their names from ``model.named_parameters()``
    (``"0.weight"``, ...), together with ``repr(model)`` for error messages.
    """
    model = _check_model("save_weights", model)
    arrays = {name: p.value for name, p in model.named_parameters()}
    arrays[_ARCHITECTURE] = np.array(repr(model))
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def load_weights(model, path) -> None:
    """Copy the weights saved by :func:`save_weights` into ``model`` (in place).

    The names and shapes in the file must match the model's parameters
    exactly; otherwise nothing is changed and a ``ValueError`` lists every
    difference. Values are cast to the model's dtype.
    """
    func = "load_weights"
    model = _check_model(func, model)
    not_npz = f"{func}: {path} is not an .npz file written by save_weights"
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array")
        with loaded as data:
            saved = {name: data[name] for name in data.files}
    except (ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{not_npz} ({error})") from None
    architecture = str(saved.pop(_ARCHITECTURE, "an unknown model"))
    params = dict(model.named_parameters())
    problems = [f"{name} is missing from the file" for name in params if name not in saved]
    problems += [f"the file has {name}, the model does not" for name in saved if name not in params]
    problems += [
        f"{name} has shape {saved[name].shape} in the file but {p.shape} in the model"
        for name, p in params.items()
        if name in saved and saved[name].shape != p.shape
    ]
    if problems:
        raise ValueError(
            f"{func}: the weights in {path} do not fit this model: "
            + "; ".join(problems)
            + f".\nThey were saved from:\n{architecture}\nbut the model is:\n{model!r}"
        )
    for name, p in params.items():
        p.value[...] = saved[name]
