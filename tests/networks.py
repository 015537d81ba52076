"""Small networks and inputs shared by test_nn.py and test_train.py."""

import math

import numpy as np

from cnnlab.nn import Conv2d, Dense, Flatten, MaxPool2d, ReLU, Sequential

F64 = np.float64


def distinct(rng, shape):
    """Values in [-2, 2) that differ pairwise by far more than a finite-difference step.

    No ties for max pooling, and no step changes which input of a window wins.
    """
    size = math.prod(shape)
    return (rng.permutation(size).reshape(shape) + 0.5) * (4 / size) - 2.0  # never exactly 0


def digits_cnn(rng):
    """The lesson-9 network: two conv/relu/pool stages and a dense layer, 6,090 weights."""
    return Sequential(
        Conv2d(1, 16, 3, padding=1, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Conv2d(16, 32, 3, padding=1, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Dense(32 * 2 * 2, 10, rng=rng),
    )


def small_net(seed=0, dtype=F64):
    """conv -> relu -> pool -> flatten -> dense, for (N, 2, 7, 5) inputs and 4 classes."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2d(2, 3, (3, 2), padding=(1, 0), rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Dense(3 * 3 * 2, 4, rng=rng, dtype=dtype),
    )
