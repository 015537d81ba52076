"""Inputs unlike the training data, and the confident mistakes a network makes on them.

A network is trained on one kind of image (for the digits: centred, white
strokes on black, clean). These functions make the same images a little
different, to measure how much of what the network learned survives
(lesson 10):

- :func:`shift` moves images by whole pixels, filling the uncovered border with 0;
- :func:`invert` swaps dark and light, ``1 - x``;
- :func:`add_noise` adds seeded Gaussian noise, clipped to [0, 1];
- :func:`blank_like` is an image with nothing in it.

:func:`confident_mistakes` then finds the examples the network got wrong while
being sure of itself.

Every function is pure: it returns a new array and never modifies its input.
Float input keeps its dtype; integer input is computed in float64.
"""

from __future__ import annotations

import numpy as np

from cnnlab._validation import as_float_array, as_generator, as_int, as_labels, as_real

__all__ = ["add_noise", "blank_like", "confident_mistakes", "invert", "shift"]


def _images(func: str, images, *, unit: bool = False) -> np.ndarray:
    """A float array of at least 2 dimensions ``(..., H, W)``; with ``unit``, values in [0, 1]."""
    images = as_float_array(func, "images", images)
    if images.ndim < 2:
        raise ValueError(
            f"{func}: images must have at least 2 dimensions (..., H, W), e.g. (N, C, H, W), "
            f"got shape {images.shape}"
        )
    if unit and not np.all(np.isfinite(images)):
        raise ValueError(f"{func}: images contains NaN or infinite values")
    if unit and images.size and (images.min() < 0 or images.max() > 1):
        raise ValueError(
            f"{func}: images must be normalised to [0, 1], got values from "
            f"{images.min():g} to {images.max():g}; divide 0-255 pixels by 255 first"
        )
    return images


# ---------------------------------------------------------------------- changed inputs


def shift(images, dy, dx) -> np.ndarray:
    """Move images by whole pixels, filling the uncovered border with zeros.

    ``out[..., i, j] = images[..., i - dy, j - dx]`` where that pixel exists,
    and 0 where it does not. Positive ``dy`` moves the content **down**,
    positive ``dx`` moves it **right**; negative values move it up and left.
    Nothing wraps around: pixels pushed past an edge are lost, and a shift of
    ``H`` rows or more leaves an all-zero image.

    Parameters
    ----------
    images : ndarray of shape (N, C, H, W)
        A batch of images; any shape ``(..., H, W)`` works, only the last two
        axes move.
    dy : int
        Rows to move down (negative: up).
    dx : int
        Columns to move right (negative: left).

    Returns
    -------
    ndarray of the same shape as ``images``
        A new array; float input keeps its dtype.

    Examples
    --------
    >>> shift(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), 1, -1)
    array([[0., 0., 0.],
           [2., 3., 0.]])
    """
    func = "shift"
    images = _images(func, images)
    # Any sign: a negative dy moves up, a negative dx left.
    dy, dx = as_int(func, "dy", dy, minimum=None), as_int(func, "dx", dx, minimum=None)
    height, width = images.shape[-2:]
    out = np.zeros_like(images)
    if abs(dy) >= height or abs(dx) >= width:
        return out  # everything has left the frame
    # The rows [a, b) of the input land on the rows [a + dy, b + dy) of the output.
    rows_in = slice(max(0, -dy), height - max(0, dy))
    rows_out = slice(max(0, dy), height - max(0, -dy))
    cols_in = slice(max(0, -dx), width - max(0, dx))
    cols_out = slice(max(0, dx), width - max(0, -dx))
    out[..., rows_out, cols_out] = images[..., rows_in, cols_in]
    return out


def invert(images) -> np.ndarray:
    """Swap dark and light: ``1 - images``, for images normalised to [0, 1].

    Parameters
    ----------
    images : ndarray of shape (N, C, H, W)
        Any shape works; values in [0, 1].

    Returns
    -------
    ndarray of the same shape and dtype as ``images``
        Black (0) becomes white (1) and white becomes black.

    Raises
    ------
    ValueError
        If a value lies outside [0, 1] (0-255 pixels must be divided by 255 first).
    """
    images = _images("invert", images, unit=True)
    return (1 - images).astype(images.dtype, copy=False)


def add_noise(images, std, *, rng=0) -> np.ndarray:
    """Add Gaussian noise to every pixel, then clip the result to [0, 1].

    ``out = clip(images + std * z, 0, 1)`` with ``z`` drawn from the standard
    normal distribution by ``numpy.random.default_rng(rng)`` (or by ``rng``
    itself, a Generator): the same seed gives the same noise.

    Parameters
    ----------
    images : ndarray of shape (N, C, H, W)
        Any shape works; values in [0, 1].
    std : float >= 0
        Standard deviation of the noise, in pixel units (0.1 is 10 % of the
        range from black to white); 0 returns a copy.
    rng : int >= 0, numpy.random.Generator or None, default 0
        The seed of the noise (``None`` means 0), or a Generator to draw it from.

    Returns
    -------
    ndarray of the same shape and dtype as ``images``
    """
    func = "add_noise"
    images = _images(func, images, unit=True)
    std = as_real(func, "std", std, at_least=0)
    noise = as_generator(func, "rng", rng).standard_normal(images.shape)
    noisy = images + std * noise
    return np.clip(noisy, 0, 1).astype(images.dtype)


def blank_like(images, value=0.0) -> np.ndarray:
    """Images of the same shape with every pixel set to ``value``: nothing to see.

    Parameters
    ----------
    images : ndarray of shape (N, C, H, W)
        Only its shape and dtype are used.
    value : float, default 0.0
        The brightness of every pixel (0 is black).

    Returns
    -------
    ndarray of the same shape as ``images``
        Float input keeps its dtype; integer input gives float64.
    """
    images = _images("blank_like", images)
    value = as_real("blank_like", "value", value)
    return np.full_like(images, value)


# ------------------------------------------------------------------ confident mistakes


def confident_mistakes(probabilities, labels, threshold=0.9) -> np.ndarray:
    """The examples a classifier got wrong while being sure of itself.

    Example ``n`` is a confident mistake when its predicted class,
    ``argmax(probabilities[n])``, is not ``labels[n]`` **and** the probability
    of that predicted class is at least ``threshold``.

    Parameters
    ----------
    probabilities : ndarray of shape (N, K)
        One row of class probabilities per example, e.g. from
        :func:`cnnlab.nn.predict_proba`. Values in [0, 1].
    labels : ndarray of shape (N,)
        The true class of each example, integers in [0, K).
    threshold : float in [0, 1], default 0.9
        How sure counts as "confident"; a probability equal to the threshold
        counts.

    Returns
    -------
    ndarray of shape (M,), int64
        The indices ``n`` of the confident mistakes, in increasing order
        (empty when there is none).

    Examples
    --------
    >>> p = np.array([[0.95, 0.05], [0.2, 0.8], [0.97, 0.03]])
    >>> confident_mistakes(p, np.array([0, 0, 1]))
    array([2])
    """
    func = "confident_mistakes"
    probabilities = as_float_array(func, "probabilities", probabilities, ndim=2, layout="(N, K)")
    n, k = probabilities.shape
    if k == 0:
        raise ValueError(f"{func}: probabilities must have at least one class (column), got (N, 0)")
    if n and not (
        np.all(np.isfinite(probabilities))
        and probabilities.min() >= 0
        and probabilities.max() <= 1 + 1e-6
    ):
        raise ValueError(
            f"{func}: probabilities must lie in [0, 1], got values from "
            f"{np.nanmin(probabilities):g} to {np.nanmax(probabilities):g}; "
            f"pass softmax(logits), not the logits"
        )
    labels = as_labels(func, labels, n=n, num_classes=k, per="row of probabilities")
    threshold = as_real(func, "threshold", threshold, at_least=0, at_most=1)
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    wrong_and_sure = (predicted != labels) & (confidence >= threshold)
    return np.flatnonzero(wrong_and_sure).astype(np.int64)
