"""Layers built from :mod:`cnnlab.ops` and :mod:`cnnlab.grads`, and a container for them.

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

Training a model (:class:`SGD`, :func:`fit`, :func:`evaluate`, :func:`predict`,
saving and loading weights, ...) is :mod:`cnnlab.train`; those names are
available here too, so that ``from cnnlab import nn; nn.fit(...)`` works.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from cnnlab._validation import (
    DEFAULT_SEED,
    as_float_array,
    as_float_dtype,
    as_generator,
    as_int,
    check_shape,
    describe,
    int_pair,
)
from cnnlab.grads import (
    _max_pool2d_backward,
    _max_pool2d_winners,
    avg_pool2d_backward,
    conv2d_backward,
    cross_entropy_backward,
    dense_backward,
    relu_backward,
)
from cnnlab.ops import (
    _offsets,
    _pool_args,
    avg_pool2d,
    conv2d,
    cross_entropy,
    dense,
    flatten,
    output_size,
    relu,
)

#: What :mod:`cnnlab.train` defines and ``cnnlab.nn`` hands on (see :func:`__getattr__`).
_FROM_TRAIN = (
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
)

__all__ = [  # the layers, then what cnnlab.train defines
    "DEFAULT_SEED",
    "AvgPool2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dense",
    "Flatten",
    "Layer",
    "MaxPool2d",
    "Parameter",
    "ReLU",
    "Sequential",
    "Summary",
    *_FROM_TRAIN,
]


def __getattr__(name: str):
    """``nn.fit``, ``nn.SGD``, ...: the training utilities of :mod:`cnnlab.train`.

    Looked up on first use (PEP 562) rather than imported here, because
    :mod:`cnnlab.train` itself builds on the layers of this module.
    """
    if name in _FROM_TRAIN:
        from cnnlab import train

        return getattr(train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_FROM_TRAIN})


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
        generator, dtype = as_generator(func, "rng", rng), as_float_dtype(func, dtype)
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
    _forward = _backward = None  # the op and its gradient, set by a subclass that uses them

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

    _winners = None

    def forward(self, x) -> np.ndarray:
        # max_pool2d, keeping where each window's maximum is, as PyTorch does:
        # backward then only routes dout there. The output handed on is not
        # kept, so a later layer that changes it in place changes nothing here.
        x, kernel, stride = _pool_args("max_pool2d", x, self.kernel_size, self.stride)
        out, self._winners = _max_pool2d_winners(x, _offsets("max_pool2d", x, kernel, stride))
        self._input = x
        return out

    def backward(self, dout) -> np.ndarray:
        x = self._remembered()
        return _max_pool2d_backward(dout, x, self.kernel_size, self.stride, self._winners)


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
        generator, dtype = as_generator(func, "rng", rng), as_float_dtype(func, dtype)
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
