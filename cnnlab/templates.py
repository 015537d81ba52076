"""Template matching, and learning the template from labelled examples.

Lesson 1 looks for a pattern by laying a small *template* over an image,
multiplying the two element by element and adding everything up: the score
is largest where the image looks like the template. With binary images and a
binary template, "the score equals the number of ones in the template" means
every pixel the template asks for is lit (:func:`is_match`).

Lesson 7 turns this around: the template is unknown, but examples labelled by
an oracle are plentiful. A template of random numbers predicts
``sum(template * image) / scale``, the squared error to the label says how
wrong that is, and stochastic gradient descent nudges the template downhill
(:func:`learn_template`) until it resembles the oracle's own template.
"""

from __future__ import annotations

import numpy as np

from cnnlab._validation import (
    as_float_array,
    as_generator,
    as_int,
    as_matching_matrices,
    as_real,
    check_shape,
    int_pair,
    result_dtype,
)

__all__ = [
    "LINE_TEMPLATE",
    "count_placements",
    "is_match",
    "learn_template",
    "match_score",
    "sgd_step",
    "template_loss",
    "template_loss_gradient",
    "template_predict",
]

#: A vertical line three pixels long, down the middle of a 3 x 3 patch (read-only).
LINE_TEMPLATE = np.zeros((3, 3))
LINE_TEMPLATE[:, 1] = 1.0
LINE_TEMPLATE.flags.writeable = False


# ---------------------------------------------------------------------------- helpers


def _template_and_images(func: str, template, images):
    template = as_float_array(func, "template", template, ndim=2, layout="(h, w)")
    images = as_float_array(func, "images", images, ndim=3, layout="(N, h, w)")
    if images.shape[1:] != template.shape:
        raise ValueError(
            f"{func}: each image must have the template's shape {template.shape}, "
            f"got images of shape {images.shape}"
        )
    return template, images


def _labels(func: str, labels, n: int) -> np.ndarray:
    """The targets, one float per image; at least one image."""
    labels = as_float_array(func, "labels", labels, ndim=1, layout="(N,)")
    check_shape(func, "labels", labels, (n,), "one label per image")
    if n == 0:
        raise ValueError(f"{func}: images must hold at least one image, got N = 0")
    return labels


def _loss_args(func: str, template, images, labels, scale):
    """The checked arguments of :func:`template_loss` and its gradient."""
    template, images = _template_and_images(func, template, images)
    labels = _labels(func, labels, images.shape[0])
    return template, images, labels, as_real(func, "scale", scale, above=0)


def _predict(template: np.ndarray, images: np.ndarray, scale: float) -> np.ndarray:
    return np.einsum("nij,ij->n", images, template) / scale


def _gradient(error: np.ndarray, images: np.ndarray, scale: float) -> np.ndarray:
    """Gradient of the mean squared error, given ``error = pred - labels``."""
    return np.tensordot(error, images, axes=(0, 0)) * (2.0 / (images.shape[0] * scale))


# ------------------------------------------------------------------ template matching


def match_score(image, template) -> float:
    """How well an image fits a template: multiply element by element, add up.

    ``score = sum(image * template)``

    Parameters
    ----------
    image : ndarray of shape (h, w)
    template : ndarray of shape (h, w)
        Same shape as ``image``: the template is laid over the whole image.

    Returns
    -------
    float

    Examples
    --------
    >>> match_score(LINE_TEMPLATE, LINE_TEMPLATE)
    3.0
    """
    return _score("match_score", image, template)[0]


def _score(func: str, image, template) -> tuple[float, np.ndarray, np.ndarray]:
    """Validate ``image`` and ``template`` for ``func``; return the score and both arrays."""
    hint = "to slide a smaller template over a bigger image use cnnlab.correlate2d"
    image, template = as_matching_matrices(func, ("image", "template"), image, template, hint=hint)
    return float(np.sum(image * template)), image, template


def _check_binary(func: str, name: str, array: np.ndarray) -> None:
    if not np.all((array == 0) | (array == 1)):
        odd = np.unique(array[(array != 0) & (array != 1)])[:3].tolist()
        raise ValueError(
            f"{func}: {name} must be binary (only 0 and 1), got values such as {odd}; "
            f"for other images compare match_score with a threshold of your own"
        )


def is_match(image, template) -> bool:
    """The binary match rule: the score equals the number of ones in the template.

    For a **binary** image and a **binary** template (only 0s and 1s), the
    score :func:`match_score` counts the pixels lit in both, so it reaches the
    number of ones in the template exactly when every pixel the template asks
    for is lit; for :data:`LINE_TEMPLATE`, "the sum equals 3". Pixels outside
    the template do not matter: a fully lit image matches too.

    Parameters
    ----------
    image : ndarray of shape (h, w)
        Only 0s and 1s.
    template : ndarray of shape (h, w)
        Only 0s and 1s, at least one 1.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        For shapes that differ, a value other than 0 or 1 (the rule means
        nothing there), or a template without any 1 (it would match everything).

    Examples
    --------
    >>> is_match(np.ones((3, 3)), LINE_TEMPLATE)
    True
    >>> is_match(np.eye(3), LINE_TEMPLATE)
    False
    """
    score, image, template = _score("is_match", image, template)
    _check_binary("is_match", "image", image)
    _check_binary("is_match", "template", template)
    ones = int(np.count_nonzero(template))
    if ones == 0:
        raise ValueError("is_match: template has no 1 in it, so every image would match")
    return score == ones


def count_placements(image_shape, template_shape) -> int:
    """The number of positions a template can take inside an image, without overhanging.

    ``(H - h + 1) * (W - w + 1)``: this is how many whole-image templates
    (one per position) would be needed to find a small pattern anywhere, and
    how many scores one sliding template (a convolution) computes.

    Parameters
    ----------
    image_shape : int or (int, int)
        ``(H, W)``; an int ``s`` means ``(s, s)``.
    template_shape : int or (int, int)
        ``(h, w)``; an int ``s`` means ``(s, s)``.

    Returns
    -------
    int

    Examples
    --------
    A vertical 3-pixel line in an 11 x 11 image: 9 rows times 11 columns.

    >>> count_placements((11, 11), (3, 1))
    99
    """
    height, width = int_pair("count_placements", "image_shape", image_shape, minimum=1)
    h, w = int_pair("count_placements", "template_shape", template_shape, minimum=1)
    if h > height or w > width:
        raise ValueError(
            f"count_placements: template of shape {(h, w)} does not fit inside an image "
            f"of shape {(height, width)}"
        )
    return (height - h + 1) * (width - w + 1)


# ------------------------------------------------------------- learning a template


def template_predict(template, images, scale=3.0) -> np.ndarray:
    """The template's guess for each image: its match score divided by ``scale``.

    ``pred[n] = sum(template * images[n]) / scale``

    With ``scale=3`` a perfect 3-pixel line scores 1 under :data:`LINE_TEMPLATE`,
    on the same scale as the labels 0 and 1.

    Parameters
    ----------
    template : ndarray of shape (h, w)
    images : ndarray of shape (N, h, w)
        A batch; for one image pass ``image[None]`` (shape ``(1, h, w)``).
    scale : float, default 3.0
        A positive divisor.

    Returns
    -------
    ndarray of shape (N,)
        Always one value per image, even for ``N = 1``.
    """
    template, images = _template_and_images("template_predict", template, images)
    scale = as_real("template_predict", "scale", scale, above=0)
    dtype = result_dtype(template, images)
    return _predict(template, images, scale).astype(dtype, copy=False)


def template_loss(template, images, labels, scale=3.0) -> float:
    """Mean squared error of :func:`template_predict` against the labels.

    ``loss = mean_n (pred[n] - labels[n]) ** 2``

    Parameters
    ----------
    template : ndarray of shape (h, w)
    images : ndarray of shape (N, h, w)
    labels : ndarray of shape (N,)
        The target for each image, e.g. 1 for a match and 0 otherwise.
    scale : float, default 3.0

    Returns
    -------
    float
        0 when every prediction equals its label.
    """
    template, images, labels, scale = _loss_args("template_loss", template, images, labels, scale)
    error = _predict(template, images, scale) - labels
    return float(np.mean(error**2))


def template_loss_gradient(template, images, labels, scale=3.0) -> np.ndarray:
    """Gradient of :func:`template_loss` with respect to the template.

    Each weight moves the loss in proportion to how wrong the prediction was
    and how bright the pixel under that weight is:

    ``dloss/dtemplate = (2 / N) * sum_n (pred[n] - labels[n]) * images[n] / scale``

    Parameters
    ----------
    template : ndarray of shape (h, w)
    images : ndarray of shape (N, h, w)
    labels : ndarray of shape (N,)
    scale : float, default 3.0

    Returns
    -------
    ndarray of shape (h, w)
        Points uphill: step against it to lower the loss.
    """
    func = "template_loss_gradient"
    template, images, labels, scale = _loss_args(func, template, images, labels, scale)
    error = _predict(template, images, scale) - labels
    return _gradient(error, images, scale).astype(result_dtype(template, images), copy=False)


def sgd_step(params, grad, lr) -> np.ndarray:
    """One step of gradient descent: ``params - lr * grad``, as a new array.

    Parameters
    ----------
    params : ndarray of any shape
        The current weights; not modified.
    grad : ndarray of the same shape
        The gradient of the loss with respect to ``params``.
    lr : float
        The learning rate (step size), at least 0.

    Returns
    -------
    ndarray of the same shape and dtype as ``params``
    """
    params = as_float_array("sgd_step", "params", params)
    grad = as_float_array("sgd_step", "grad", grad)
    check_shape("sgd_step", "grad", grad, params.shape, "one value per parameter")
    lr = as_real("sgd_step", "lr", lr, at_least=0)
    return (params - lr * grad).astype(params.dtype, copy=False)


def learn_template(
    images, labels, *, steps=1000, lr=0.1, batch_size=1, rng=0, scale=3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Learn a template from labelled images by stochastic gradient descent.

    Starts from a template of standard-normal random numbers; then, ``steps``
    times, draws ``batch_size`` examples at random (with replacement),
    records their :func:`template_loss` and takes one :func:`sgd_step` with
    :func:`template_loss_gradient`. Everything random comes from ``rng``.

    Parameters
    ----------
    images : ndarray of shape (N, h, w)
        Training images, e.g. from :func:`cnnlab.data.make_line_images`.
    labels : ndarray of shape (N,)
        Their targets (1 for a match, 0 otherwise).
    steps : int, default 1000
        Number of updates (0 returns the random starting template).
    lr : float, default 0.1
        Learning rate.
    batch_size : int, default 1
        Examples per step; 1 is "pure" SGD, one example at a time.
    rng : int, numpy.random.Generator or None, default 0
        Seed (``None`` means 0) or Generator of the starting template and of
        the choice of examples.
    scale : float, default 3.0
        Divisor of the prediction, see :func:`template_predict`.

    Returns
    -------
    template : ndarray of shape (h, w)
        The learned template, float64.
    losses : ndarray of shape (steps,)
        The loss on each step's batch, measured before that step's update; it
        is noisy for small batches, so smooth it to see the trend.
    """
    func = "learn_template"
    images = as_float_array(func, "images", images, ndim=3, layout="(N, h, w)")
    labels = _labels(func, labels, images.shape[0])
    steps = as_int(func, "steps", steps, minimum=0)
    lr = as_real(func, "lr", lr, above=0)
    batch_size = as_int(func, "batch_size", batch_size, minimum=1)
    rng = as_generator(func, "rng", rng)
    scale = as_real(func, "scale", scale, above=0)

    images, labels = images.astype(np.float64), labels.astype(np.float64)
    template = rng.standard_normal(images.shape[1:])
    losses = np.empty(steps)
    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported below
        for step in range(steps):
            batch = rng.integers(0, images.shape[0], size=batch_size)
            x, y = images[batch], labels[batch]
            error = _predict(template, x, scale) - y
            losses[step] = np.mean(error**2)
            if not np.isfinite(losses[step]):
                raise FloatingPointError(
                    f"{func}: the loss became {losses[step]} at step {step}: the template "
                    f"blew up; lr={lr} is too large, try a smaller one such as {lr / 10:g}"
                )
            template = template - lr * _gradient(error, x, scale)
    return template, losses
