"""Layers, an optimiser and a training loop, built from :mod:`cnnlab.ops` and :mod:`cnnlab.grads`.

A layer is a small object with state. Calling it, ``layer(x)``, runs the
forward op and remembers what the backward op will need; ``layer.backward(dout)``
returns the gradient with respect to the layer's input and *adds* the gradients
of its weights to their :class:`Parameter`\\ ``.grad`` (``+=``, as in PyTorch and
micrograd) until :meth:`~Layer.zero_grad`. Each forward and backward step is one
call to an op of :mod:`cnnlab.ops` and its gradient in :mod:`cnnlab.grads`:
nothing is implemented twice.

>>> model = Sequential(
...     Conv2d(1, 8, 3, padding=1), ReLU(), MaxPool2d(2),
...     Flatten(), Dense(8 * 4 * 4, 10),
... )
>>> history = fit(model, x_train, y_train, epochs=10, batch_size=32,
...               optimizer=SGD(model.parameters(), lr=0.05, momentum=0.9),
...               validation=(x_test, y_test))                    # doctest: +SKIP

Weights are drawn with He initialisation, ``normal(0, sqrt(2 / fan_in))``,
biases start at zero. ``rng`` may be a ``numpy.random.Generator`` (share one
across layers for a whole model), an int seed, or ``None``, which means the
fixed seed :data:`DEFAULT_SEED`: the same code gives the same weights every time.
"""

from __future__ import annotations

import math
import numbers
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import numpy as np
from tqdm.auto import tqdm

from cnnlab._validation import as_float_array, as_int, check_shape, describe, int_pair
from cnnlab.grads import (
    _max_pool2d_backward,
    avg_pool2d_backward,
    conv2d_backward,
    cross_entropy_backward,
    dense_backward,
    max_pool2d_backward,
    relu_backward,
)
from cnnlab.ops import (
    avg_pool2d,
    conv2d,
    cross_entropy,
    dense,
    flatten,
    max_pool2d,
    output_size,
    relu,
    softmax,
)

__all__ = [
    "DEFAULT_SEED",
    "SGD",
    "AvgPool2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dense",
    "Flatten",
    "History",
    "Layer",
    "MaxPool2d",
    "Parameter",
    "ReLU",
    "Sequential",
    "Summary",
    "accuracy",
    "evaluate",
    "fit",
    "load_weights",
    "minibatches",
    "predict",
    "predict_proba",
    "save_weights",
]

DEFAULT_SEED = 0
"""The seed used when a layer, :func:`fit` or :func:`minibatches` gets ``rng=None``."""


def _generator(func: str, rng, name: str = "rng") -> np.random.Generator:
    if rng is None:
        return np.random.default_rng(DEFAULT_SEED)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool | np.bool_):
        return np.random.default_rng(as_int(func, name, rng, minimum=0))
    raise TypeError(
        f"{func}: {name} must be None, an int seed or a numpy.random.Generator, got {describe(rng)}"
    )


def _float_dtype(func: str, dtype) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{func}: dtype must be a float dtype, got {describe(dtype)}") from None
    if dtype.kind != "f":
        raise TypeError(f"{func}: dtype must be a float dtype such as np.float32, got {dtype}")
    return dtype


def _he_normal(rng: np.random.Generator, shape: tuple, fan_in: int, dtype) -> np.ndarray:
    # Drawn in float64 then cast, so a float32 and a float64 model with the same
    # seed hold the same weights (up to rounding).
    return (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(dtype)


def _pair_repr(pair: tuple) -> str:
    return str(pair[0]) if pair[0] == pair[1] else str(pair)


# ------------------------------------------------------------------------ parameters


class Parameter:
    """A trainable array and the gradient of the loss accumulated for it.

    Attributes
    ----------
    value : ndarray
        The weights. An optimiser changes them in place.
    grad : ndarray, same shape and dtype as ``value``
        The sum of the gradients of every backward pass since the last
        :meth:`zero_grad`.
    """

    def __init__(self, value: np.ndarray):
        self.value = value
        self.grad = np.zeros_like(value)

    @property
    def shape(self) -> tuple:
        return self.value.shape

    @property
    def size(self) -> int:
        return self.value.size

    def zero_grad(self) -> None:
        """Set the accumulated gradient back to zero (in place)."""
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.value.shape}, dtype={self.value.dtype})"


# ---------------------------------------------------------------------------- layers


class Layer:
    """Base class of every layer: ``layer(x)`` runs :meth:`forward`.

    Subclasses implement ``forward(x)`` (compute the output, remember what
    backward needs), ``backward(dout) -> dx`` (accumulate the weights'
    gradients, return the input's), and ``output_shape(input_shape)`` for one
    example, without the batch axis.
    """

    _input = None  # what forward remembered for backward

    def __call__(self, x) -> np.ndarray:
        return self.forward(x)

    def forward(self, x) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout) -> np.ndarray:
        raise NotImplementedError

    def output_shape(self, input_shape: tuple) -> tuple:
        """Shape of the output for one example of shape ``input_shape`` (no batch axis)."""
        return tuple(input_shape)

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """The layer's parameters with their names, e.g. ``[("weight", ...), ("bias", ...)]``."""
        return []

    def parameters(self) -> list[Parameter]:
        """The layer's parameters, for an optimiser: ``SGD(layer.parameters(), lr=0.1)``."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set the gradient of every parameter back to zero."""
        for p in self.parameters():
            p.zero_grad()

    def _remembered(self):
        if self._input is None:
            raise RuntimeError(
                f"{self!r}: backward was called before forward; run the layer on a batch first"
            )
        return self._input

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _spatial(layer: Layer, input_shape: tuple, channels: int | None = None) -> tuple:
    shape = tuple(input_shape)
    if len(shape) != 3 or (channels is not None and shape[0] != channels):
        need = f"({channels}, H, W)" if channels is not None else "(C, H, W)"
        raise ValueError(f"{layer!r} needs inputs of shape {need}, got {shape}")
    return shape


class Conv2d(Layer):
    """2-D convolution layer (technically cross-correlation) with ``out_channels`` filters.

    Forward is :func:`cnnlab.ops.conv2d`, backward :func:`cnnlab.grads.conv2d_backward`.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C`` input channels, ``F`` filters (output channels).
    kernel_size, stride, padding : int or (int, int)
        As in :func:`~cnnlab.ops.conv2d`:
        ``Ho = (H + 2*ph - KH) // sh + 1``, ``Wo = (W + 2*pw - KW) // sw + 1``.
    rng : numpy.random.Generator, int or None
        Source of the initial weights; ``None`` means seed :data:`DEFAULT_SEED`.
    dtype : float dtype, default float32
        Use ``np.float64`` for gradient checks.

    Attributes
    ----------
    weight : Parameter of shape (F, C, KH, KW)
        He-initialised: normal with standard deviation ``sqrt(2 / (C * KH * KW))``.
    bias : Parameter of shape (F,)
        Zeros.

    Shapes: ``x`` is ``(N, C, H, W)``, the output ``(N, F, Ho, Wo)``.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        *,
        rng=None,
        dtype=np.float32,
    ):
        func = "Conv2d"
        self.in_channels = as_int(func, "in_channels", in_channels, minimum=1)
        self.out_channels = as_int(func, "out_channels", out_channels, minimum=1)
        self.kernel_size = int_pair(func, "kernel_size", kernel_size, minimum=1)
        self.stride = int_pair(func, "stride", stride, minimum=1)
        self.padding = int_pair(func, "padding", padding, minimum=0)
        generator, dtype = _generator(func, rng), _float_dtype(func, dtype)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        self.weight = Parameter(_he_normal(generator, shape, fan_in, dtype))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype))

    def forward(self, x) -> np.ndarray:
        out = conv2d(x, self.weight.value, self.bias.value, self.stride, self.padding)
        self._input = x
        return out

    def backward(self, dout) -> np.ndarray:
        x = self._remembered()
        dx, dweight, dbias = conv2d_backward(dout, x, self.weight.value, self.stride, self.padding)
        self.weight.grad += dweight
        self.bias.grad += dbias
        return dx

    def output_shape(self, input_shape: tuple) -> tuple:
        _, h, w = _spatial(self, input_shape, self.in_channels)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (self.out_channels, output_size(h, kh, sh, ph), output_size(w, kw, sw, pw))

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        return [("weight", self.weight), ("bias", self.bias)]

    def __repr__(self) -> str:
        text = f"Conv2d({self.in_channels}, {self.out_channels}, "
        text += f"kernel_size={_pair_repr(self.kernel_size)}"
        if self.stride != (1, 1):
            text += f", stride={_pair_repr(self.stride)}"
        if self.padding != (0, 0):
            text += f", padding={_pair_repr(self.padding)}"
        return text + ")"


class ReLU(Layer):
    """``max(x, 0)`` element-wise (:func:`cnnlab.ops.relu`); any shape in, same shape out."""

    def forward(self, x) -> np.ndarray:
        out = relu(x)
        self._input = x
        return out

    def backward(self, dout) -> np.ndarray:
        return relu_backward(dout, self._remembered())


class _Pool2d(Layer):
    _forward = _backward = None  # the op and its gradient, set by each subclass

    def __init__(self, kernel_size, stride=None):
        func = type(self).__name__
        self.kernel_size = int_pair(func, "kernel_size", kernel_size, minimum=1)
        self.stride = (
            self.kernel_size if stride is None else int_pair(func, "stride", stride, minimum=1)
        )

    def forward(self, x) -> np.ndarray:
        out = self._forward(x, self.kernel_size, self.stride)
        self._input = x
        return out

    def backward(self, dout) -> np.ndarray:
        return self._backward(dout, self._remembered(), self.kernel_size, self.stride)

    def output_shape(self, input_shape: tuple) -> tuple:
        c, h, w = _spatial(self, input_shape)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return (c, output_size(h, kh, sh), output_size(w, kw, sw))

    def __repr__(self) -> str:
        text = f"{type(self).__name__}({_pair_repr(self.kernel_size)}"
        if self.stride != self.kernel_size:
            text += f", stride={_pair_repr(self.stride)}"
        return text + ")"


class MaxPool2d(_Pool2d):
    """Max pooling (:func:`cnnlab.ops.max_pool2d`): ``(N, C, H, W) -> (N, C, Ho, Wo)``.

    ``Ho = (H - KH) // sh + 1``; ``stride`` defaults to ``kernel_size``.
    """

    _forward, _backward = staticmethod(max_pool2d), staticmethod(max_pool2d_backward)
    _pooled = None

    def forward(self, x) -> np.ndarray:
        out = super().forward(x)
        # A copy, so that a later layer changing its input in place cannot change it.
        self._pooled = out.copy()
        return out

    def backward(self, dout) -> np.ndarray:
        # max_pool2d_backward without computing the forward output a second time.
        x = self._remembered()
        return _max_pool2d_backward(dout, x, self.kernel_size, self.stride, self._pooled)


class AvgPool2d(_Pool2d):
    """Average pooling (:func:`cnnlab.ops.avg_pool2d`): ``(N, C, H, W) -> (N, C, Ho, Wo)``.

    ``Ho = (H - KH) // sh + 1``; ``stride`` defaults to ``kernel_size``.
    """

    _forward, _backward = staticmethod(avg_pool2d), staticmethod(avg_pool2d_backward)


class Flatten(Layer):
    """One vector per example (:func:`cnnlab.ops.flatten`): ``(N, C, H, W) -> (N, C*H*W)``."""

    def forward(self, x) -> np.ndarray:
        out = flatten(x)
        self._input = np.shape(x)
        return out

    def backward(self, dout) -> np.ndarray:
        shape = self._remembered()
        dout = as_float_array("Flatten.backward", "dout", dout)
        check_shape(
            "Flatten.backward", "dout", dout, (shape[0], math.prod(shape[1:])), "the output shape"
        )
        return dout.reshape(shape)

    def output_shape(self, input_shape: tuple) -> tuple:
        return (math.prod(input_shape),)


class Dense(Layer):
    """Fully connected layer, ``x @ weight + bias`` (:func:`cnnlab.ops.dense`).

    Parameters
    ----------
    in_features, out_features : int
    rng : numpy.random.Generator, int or None
        Source of the initial weights; ``None`` means seed :data:`DEFAULT_SEED`.
    dtype : float dtype, default float32

    Attributes
    ----------
    weight : Parameter of shape (in_features, out_features)
        He-initialised: normal with standard deviation ``sqrt(2 / in_features)``.
    bias : Parameter of shape (out_features,)
        Zeros.

    Shapes: ``x`` is ``(N, in_features)``, the output ``(N, out_features)``.
    """

    def __init__(self, in_features, out_features, *, rng=None, dtype=np.float32):
        func = "Dense"
        self.in_features = as_int(func, "in_features", in_features, minimum=1)
        self.out_features = as_int(func, "out_features", out_features, minimum=1)
        generator, dtype = _generator(func, rng), _float_dtype(func, dtype)
        shape = (self.in_features, self.out_features)
        self.weight = Parameter(_he_normal(generator, shape, self.in_features, dtype))
        self.bias = Parameter(np.zeros(self.out_features, dtype=dtype))

    def forward(self, x) -> np.ndarray:
        out = dense(x, self.weight.value, self.bias.value)
        self._input = x
        return out

    def backward(self, dout) -> np.ndarray:
        dx, dweight, dbias = dense_backward(dout, self._remembered(), self.weight.value)
        self.weight.grad += dweight
        self.bias.grad += dbias
        return dx

    def output_shape(self, input_shape: tuple) -> tuple:
        if tuple(input_shape) != (self.in_features,):
            raise ValueError(
                f"{self!r} needs {self.in_features} input features, got shape "
                f"{tuple(input_shape)} ({math.prod(input_shape)} values); "
                f"set in_features={math.prod(input_shape)} or add Flatten() before it"
            )
        return (self.out_features,)

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        return [("weight", self.weight), ("bias", self.bias)]

    def __repr__(self) -> str:
        return f"Dense({self.in_features}, {self.out_features})"


# ------------------------------------------------------------------------ sequential


def _in_layer(index: int, layer: Layer, error: Exception) -> Exception:
    """The same kind of error, saying which layer of a Sequential raised it."""
    if type(error) not in (ValueError, TypeError):
        return error
    return type(error)(f"Sequential: layer ({index}) {layer!r}: {error}")


class Sequential(Layer):
    """Layers applied one after the other; backward runs them in reverse order.

    ``model[i]`` is a layer, ``model[a:b]`` a Sequential sharing those layers
    (``model[:2](x)`` shows the feature maps after the first two layers).
    Parameters are named ``"<index>.<name>"``, e.g. ``"0.weight"``.
    """

    def __init__(self, *layers: Layer):
        if len(layers) == 1 and isinstance(layers[0], list | tuple):
            raise TypeError(
                "Sequential: pass the layers as separate arguments, Sequential(*layers), "
                "not one list"
            )
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: layer ({index}) must be a cnnlab.nn layer such as Conv2d or "
                    f"ReLU(), got {describe(layer)}"
                )
        self.layers = list(layers)

    def forward(self, x) -> np.ndarray:
        for index, layer in enumerate(self.layers):
            try:
                x = layer(x)
            except (ValueError, TypeError) as error:
                raise _in_layer(index, layer, error) from error
        return x

    def backward(self, dout) -> np.ndarray:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def output_shape(self, input_shape: tuple) -> tuple:
        shape = tuple(input_shape)
        for index, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except (ValueError, TypeError) as error:
                raise _in_layer(index, layer, error) from error
        return shape

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        return [
            (f"{index}.{name}", p)
            for index, layer in enumerate(self.layers)
            for name, p in layer.named_parameters()
        ]

    def summary(self, input_shape) -> Summary:
        """Table of each layer's output shape and parameter count for one example.

        Parameters
        ----------
        input_shape : tuple of int
            Shape of one example without the batch axis, e.g. ``(1, 8, 8)``.

        Returns
        -------
        Summary
            Shows as a table in a notebook or with ``print``.
        """
        shape = shape_in = _shape_tuple(input_shape)
        rows = []
        for index, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except (ValueError, TypeError) as error:
                raise _in_layer(index, layer, error) from error
            count = sum(p.size for p in layer.parameters())
            rows.append((f"({index}) {layer!r}", shape, count))
        return Summary(shape_in, rows)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self) -> str:
        lines = [f"  ({i}): {layer!r}".replace("\n", "\n  ") for i, layer in enumerate(self)]
        return "Sequential(\n" + "\n".join(lines) + "\n)" if lines else "Sequential()"


def _shape_tuple(input_shape) -> tuple:
    need = "Sequential.summary: input_shape must be a tuple of positive ints such as (1, 8, 8)"
    if not isinstance(input_shape, tuple | list):
        raise TypeError(f"{need}, without the batch axis; got {describe(input_shape)}")
    if not all(isinstance(s, numbers.Integral) and s >= 1 for s in input_shape):
        raise ValueError(f"{need}, without the batch axis; got {input_shape!r}")
    return tuple(int(s) for s in input_shape)


@dataclass
class Summary:
    """What :meth:`Sequential.summary` returns: one row per layer, shown as a table."""

    input_shape: tuple
    rows: list  # (layer, output shape, parameter count)

    @property
    def total_params(self) -> int:
        return sum(count for _, _, count in self.rows)

    def __str__(self) -> str:
        table = [("layer", "output shape", "parameters"), ("input", str(self.input_shape), "")]
        table += [(name, str(shape), f"{count:,}") for name, shape, count in self.rows]
        table.append(("total", "", f"{self.total_params:,}"))
        widths = [max(len(row[i]) for row in table) for i in range(3)]
        lines = [
            f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}".rstrip() for a, b, c in table
        ]
        rule = "-" * len(lines[0].ljust(sum(widths) + 4))
        return "\n".join([lines[0], rule, *lines[1:-1], rule, lines[-1]])

    __repr__ = __str__


# ------------------------------------------------------------------------------ loss


class CrossEntropyLoss:
    """Mean cross-entropy of a batch, remembering its input for :meth:`backward`.

    ``loss = loss_fn(logits, labels)`` calls :func:`cnnlab.ops.cross_entropy`;
    ``loss_fn.backward()`` returns :func:`cnnlab.grads.cross_entropy_backward`,
    the gradient ``(N, K)`` of that mean loss with respect to the logits.
    """

    _remembered = None

    def __call__(self, logits, labels) -> float:
        loss = cross_entropy(logits, labels)
        self._remembered = (logits, labels)
        return loss

    def backward(self) -> np.ndarray:
        if self._remembered is None:
            raise RuntimeError("CrossEntropyLoss: backward was called before the loss")
        return cross_entropy_backward(*self._remembered)

    def __repr__(self) -> str:
        return "CrossEntropyLoss()"


# ------------------------------------------------------------------------- optimiser


def _real(func: str, name: str, value, *, minimum: float, below: float | None = None) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if not ok:
        raise TypeError(f"{func}: {name} must be a number, got {describe(value)}")
    value = float(value)
    upper = math.inf if below is None else below
    if not (minimum <= value < upper) or not math.isfinite(value):
        where = f"in [{minimum:g}, {below:g})" if below is not None else f">= {minimum:g}"
        raise ValueError(f"{func}: {name} must be a finite number {where}, got {value!r}")
    return value


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
        self.lr = _real(func, "lr", lr, minimum=0.0)
        if self.lr == 0:
            raise ValueError("SGD: lr must be a positive number such as 0.05, got 0.0")
        self.momentum = _real(func, "momentum", momentum, minimum=0.0, below=1.0)
        self.weight_decay = _real(func, "weight_decay", weight_decay, minimum=0.0)
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


def _class_indices(
    func: str, name: str, value, n: int | None = None, num_classes: int | None = None
) -> np.ndarray:
    """Check a 1-D array of integer class indices in ``[0, num_classes)``."""
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{func}: {name} must be an array of class indices, got {describe(value)}")
    array = np.asarray(value)
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{func}: {name} must hold integer class indices, got {describe(array)}")
    if array.ndim != 1 or (n is not None and array.shape[0] != n):
        need = f"({n},), one per example" if n is not None else "(N,)"
        raise ValueError(f"{func}: {name} must have shape {need}, got shape {array.shape}")
    if array.size and array.min() < 0:
        raise ValueError(f"{func}: {name} must be class indices >= 0, got {array.min()}")
    if array.size and num_classes is not None and array.max() >= num_classes:
        raise ValueError(
            f"{func}: {name} must lie in [0, {num_classes}) for a model with {num_classes} "
            f"outputs, got {array.max()}"
        )
    return array.astype(np.intp, copy=False)


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
    return x, _class_indices(func, labels_name, labels, x.shape[0], num_classes)


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
        ``None`` means seed :data:`DEFAULT_SEED`. Pass the same Generator for every
        epoch to get a new order each time.

    Yields
    ------
    x_batch : ndarray of shape (B, ...)
    labels_batch : ndarray of shape (B,)
    """
    x, labels = _examples("minibatches", x, labels)
    batch_size = as_int("minibatches", "batch_size", batch_size, minimum=1)
    order = _generator("minibatches", rng).permutation(x.shape[0]) if shuffle else None
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
    seed=DEFAULT_SEED,
    progress=True,
) -> History:
    """Train ``model`` by mini-batch gradient descent on the mean cross-entropy.

    Every epoch visits the training examples once, in a new random order,
    ``ceil(N / batch_size)`` steps of: forward, loss, zero the gradients,
    backward, optimiser step. The batches are those of
    ``minibatches(x, labels, batch_size, rng=rng)``, one call per epoch, with
    ``rng = numpy.random.default_rng(seed)`` created once, so another framework
    can be fed exactly the same batches.

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
    seed : int, numpy.random.Generator or None, default DEFAULT_SEED
        Shuffling of the batches; with the same seed and the same initial
        weights, training gives the same numbers every time.
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
    labels = _class_indices(func, "labels", labels, x.shape[0], num_classes)
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
    rng = _generator(func, seed, "seed")
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
    model = _check_model("predict_proba", model)
    x = _examples("predict_proba", x)
    batch_size = as_int("predict_proba", "batch_size", batch_size, minimum=1)
    return np.concatenate([softmax(z, axis=1) for _, z in _logits(model, x, batch_size)])


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
    model = _check_model("predict", model)
    x = _examples("predict", x)
    batch_size = as_int("predict", "batch_size", batch_size, minimum=1)
    return np.concatenate([z.argmax(axis=1) for _, z in _logits(model, x, batch_size)]).astype(
        np.int64
    )


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
        predicted = _class_indices(func, "predictions", predictions)
    truth = _class_indices(func, "labels", labels, predicted.shape[0])
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
