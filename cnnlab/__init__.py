"""cnnlab: how a convolutional neural network sees, in small, readable numpy.

The forward ops (:mod:`cnnlab.ops`) and their gradients (:mod:`cnnlab.grads`)
are importable from here directly::

    import cnnlab
    maps = cnnlab.conv2d(images, filters, stride=1, padding=1)

The other modules are imported on demand: :mod:`cnnlab.images` (the photos),
:mod:`cnnlab.data` (line images, digits, MNIST files), :mod:`cnnlab.templates`
(template matching and learning), :mod:`cnnlab.nn` (layers and training),
:mod:`cnnlab.perturb` (shifted, inverted, noisy inputs), :mod:`cnnlab.viz`
(pictures), :mod:`cnnlab.widgets` (explorers) and :mod:`cnnlab.checks`
(feedback on the exercises).
"""

from cnnlab.grads import (
    avg_pool2d_backward,
    conv2d_backward,
    cross_entropy_backward,
    dense_backward,
    max_pool2d_backward,
    numerical_gradient,
    rel_error,
    relu_backward,
)
from cnnlab.ops import (
    avg_pool2d,
    conv2d,
    correlate2d,
    cross_entropy,
    dense,
    flatten,
    log_softmax,
    max_pool2d,
    output_size,
    relu,
    softmax,
)

__version__ = "0.1.0"

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv2d",
    "conv2d_backward",
    "correlate2d",
    "cross_entropy",
    "cross_entropy_backward",
    "dense",
    "dense_backward",
    "flatten",
    "log_softmax",
    "max_pool2d",
    "max_pool2d_backward",
    "numerical_gradient",
    "output_size",
    "rel_error",
    "relu",
    "relu_backward",
    "softmax",
]
