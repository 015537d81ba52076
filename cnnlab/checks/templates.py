"""Checks of lessons 1 and 7: template matching, and learning a template by gradient descent.

The references are :func:`cnnlab.templates.match_score`,
:func:`~cnnlab.templates.count_placements` (the 11 x 11 image that needs 99
templates is a case), :func:`~cnnlab.templates.template_loss_gradient` and
:func:`~cnnlab.templates.sgd_step`.
"""

from __future__ import annotations

import numpy as np

from cnnlab.checks._core import REF, Case, Check, Mistake, extra_rng, normal, run

__all__ = [
    "check_count_placements",
    "check_match_score",
    "check_sgd_step",
    "check_template_loss_gradient",
]

F32, F64 = np.float32, np.float64

# ---------------------------------------------------------------------- match_score

_LINE = np.array([[0.0, 1, 0], [0, 1, 0], [0, 1, 0]])


def _match_score_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(2020)

    def case(title, image, template):
        return Case(title, {"image": image, "template": template})

    binary = rng.integers(0, 2, (2, 3, 3)).astype(F64)
    cases = [
        case("the vertical line against itself", _LINE, _LINE),
        case("a horizontal line against the vertical line", _LINE.T.copy(), _LINE),
        case("an image full of ones against the vertical line", np.ones((3, 3)), _LINE),
        case("an empty image against the vertical line", np.zeros((3, 3)), _LINE),
        case("two random binary patches", binary[0], binary[1]),
        case("non-binary values, some negative", normal(rng, (3, 3)), normal(rng, (3, 3))),
        case("4 x 5 float32 arrays", normal(rng, (4, 5), F32), normal(rng, (4, 5), F32)),
        case("5 x 5 arrays", normal(rng, (5, 5)), normal(rng, (5, 5))),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            shape = tuple(int(v) for v in rng.integers(1, 8, 2))
            if rng.random() < 0.5:
                pair = rng.integers(0, 2, (2, *shape)).astype(F64)
                cases.append(case("random binary patches", pair[0], pair[1]))
            else:
                cases.append(case("random values", normal(rng, shape), normal(rng, shape)))
    return cases


def _match_score_mistakes(case: Case):
    image, template = (case.args[k].astype(F64) for k in ("image", "template"))
    variants = [
        (
            "matrix product (@) instead of element-wise multiplication",
            "multiply the pixels that lie on top of each other, element by element (*), then add "
            "up.",
            lambda: float(np.sum(image @ template)),
        ),
        (
            "equal pixels counted instead of multiplied",
            "multiply image and template element by element, then add up the products.",
            lambda: float(np.sum(image == template)),
        ),
        (
            "mean instead of sum",
            "add the products up; do not divide by their number.",
            lambda: float(np.mean(image * template)),
        ),
        (
            "products not added up: an array returned",
            "the score is one number: the sum of all the products.",
            lambda: image * template,
        ),
        (
            "template transposed (its rows and columns swapped)",
            "lay the template on the image as it is: template[i, j] multiplies image[i, j].",
            lambda: float(np.sum(image * template.T)),
        ),
        (
            "added instead of multiplied",
            "multiply the two element by element, then add up the products.",
            lambda: float(np.sum(image + template)),
        ),
        (
            "only the first row (or column) added up",
            "add up all the products, over both axes.",
            lambda: np.sum(image * template, axis=0),
        ),
        (
            "only the first row (or column) added up",
            "add up all the products, over both axes.",
            lambda: np.sum(image * template, axis=1),
        ),
    ]
    for name, hint, make in variants:
        yield Mistake(name, hint, make)


def check_match_score(fn, *, thorough=False) -> None:
    """Check ``match_score(image, template) -> float``, the sum of the element-wise product.

    Names: matrix product, equal pixels counted, mean instead of sum,
    products not added up, template transposed, added instead of multiplied,
    summed along one axis only. Refuses cnnlab's own ``match_score``.
    """
    run(
        Check(
            "match_score",
            REF.match_score,
            _match_score_cases(thorough),
            _match_score_mistakes,
            returns="number",
            uses=(),
        ),
        fn,
        thorough,
    )


# ------------------------------------------------------------------- count_placements


def _count_placements_cases(thorough: bool) -> list[Case]:
    def case(title, image_shape, template_shape):
        return Case(title, {"image_shape": image_shape, "template_shape": template_shape})

    cases = [
        case("a 5 x 4 image and a 2 x 3 template", (5, 4), (2, 3)),
        case("a template as large as the image", (3, 3), (3, 3)),
        case("the 11 x 11 image and the vertical 3-pixel line", (11, 11), (3, 1)),
        case("the 11 x 11 image and a 3 x 3 template", (11, 11), (3, 3)),
        case("a 5 x 7 image and a 2 x 3 template", (5, 7), (2, 3)),
        case("a template as tall as the image", (6, 9), (6, 1)),
        case("a 28 x 28 digit and a 5 x 5 template", (28, 28), (5, 5)),
        case("a one-pixel template", (8, 5), (1, 1)),
    ]
    if thorough:
        rng = extra_rng(np.random.default_rng(2121))
        for _ in range(10):
            height, width = (int(v) for v in rng.integers(1, 40, 2))
            h, w = int(rng.integers(1, height + 1)), int(rng.integers(1, width + 1))
            cases.append(case("random shapes", (height, width), (h, w)))
    return cases


def _count_placements_mistakes(case: Case):
    (height, width), (h, w) = case.args["image_shape"], case.args["template_shape"]
    variants = [
        (
            "the + 1 is missing",
            "count the first position too: a template as large as the image fits exactly once.",
            (height - h) * (width - w),
        ),
        (
            "height and width mixed up",
            "compare the image's height with the template's height, and width with width.",
            (height - w + 1) * (width - h + 1),
        ),
        (
            "the positions along the two axes added instead of multiplied",
            "every vertical position combines with every horizontal one: multiply.",
            (height - h + 1) + (width - w + 1),
        ),
        (
            "the template's size ignored: one position per pixel",
            "the template must fit entirely inside the image, which leaves fewer positions than "
            "pixels.",
            height * width,
        ),
        (
            "non-overlapping tiles counted",
            "the template slides one pixel at a time, so its positions overlap.",
            (height // h) * (width // w),
        ),
        (
            "one axis's count used for both axes (squared)",
            "neither the image nor the template need be square: count the positions down "
            "the rows and along the columns separately.",
            (height - h + 1) ** 2,
        ),
        (
            "one axis's count used for both axes (squared)",
            "neither the image nor the template need be square: count the positions down "
            "the rows and along the columns separately.",
            (width - w + 1) ** 2,
        ),
        (
            "one side of the template used for both axes",
            "along the rows the template takes up its height, along the columns its width.",
            (height - h + 1) * (width - h + 1),
        ),
        (
            "one side of the template used for both axes",
            "along the rows the template takes up its height, along the columns its width.",
            (height - w + 1) * (width - w + 1),
        ),
        (
            "template pixels subtracted from image pixels",
            "count positions along each axis, then multiply the two counts.",
            height * width - h * w,
        ),
    ]
    for name, hint, value in variants:
        yield Mistake(name, hint, lambda value=value: value)


def check_count_placements(fn, *, thorough=False) -> None:
    """Check ``count_placements(image_shape, template_shape) -> int``.

    Names: + 1 missing, height and width mixed up, counts added, one axis's
    count squared, one side of the template for both axes, template size
    ignored, non-overlapping tiles, pixels subtracted. Refuses cnnlab's
    own ``count_placements``.
    """
    run(
        Check(
            "count_placements",
            REF.count_placements,
            _count_placements_cases(thorough),
            _count_placements_mistakes,
            returns="int",
            uses=(),
        ),
        fn,
        thorough,
    )


# ------------------------------------------------------------ template_loss_gradient


def _gradient_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(2222)

    def case(title, template, images, labels, **kwargs):
        # Labels come in the images' dtype, so that a natural float32 answer stays float32.
        labels = np.asarray(labels, dtype=np.asarray(images).dtype)
        return Case(title, {"template": template, "images": images, "labels": labels}, kwargs)

    four = np.stack([_LINE, _LINE.T, np.eye(3), np.ones((3, 3))])
    binary = rng.integers(0, 2, (20, 3, 3)).astype(F64)
    cases = [
        case("one image: a horizontal line, labelled 1", 2 * _LINE, _LINE.T[None].copy(), [1.0]),
        case(
            "four images, labels 1, 0, 0, 1",
            np.array([[0.5, -1, 0], [1, 0.5, 0], [0, 1, -0.5]]),
            four,
            [1.0, 0, 0, 1],
        ),
        case("20 random binary images", normal(rng, (3, 3)), binary, rng.integers(0, 2, 20)),
        case("scale 1", normal(rng, (3, 3)), binary[:6], rng.integers(0, 2, 6), scale=1.0),
        case(
            "float32 images, template and labels",
            normal(rng, (3, 3), F32),
            binary[:8].astype(F32),
            rng.integers(0, 2, 8).astype(F32),
        ),
        case(
            "grey (non-binary) images, scale 2.5",
            normal(rng, (3, 3)),
            rng.random((5, 3, 3)),
            rng.random(5),
            scale=2.5,
        ),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            n = int(rng.integers(1, 30))
            dtype = F32 if rng.random() < 0.5 else F64
            images = rng.integers(0, 2, (n, 3, 3)).astype(dtype)
            scale = float(rng.choice([1.0, 2.0, 3.0, 4.5]))
            cases.append(
                case(
                    f"random batch of {n}, scale {scale:g}, {np.dtype(dtype)}",
                    normal(rng, (3, 3), dtype),
                    images,
                    rng.integers(0, 2, n),
                    scale=scale,
                )
            )
    return cases


def _gradient_mistakes(case: Case):
    template = case.args["template"].astype(F64)
    images = case.args["images"].astype(F64)
    labels = case.args["labels"].astype(F64)
    scale = case.kwargs.get("scale", 3.0)
    n = images.shape[0]
    score = np.einsum("nij,ij->n", images, template)

    def grad(error, factor):  # (2 / N) * sum_n error[n] * images[n] * factor
        return np.tensordot(error, images, axes=(0, 0)) * (2.0 / n) * factor

    expected = case.expected
    if n > 1:
        yield Mistake(
            "summed over the images instead of averaged",
            "the loss is the mean over the N images, so its gradient is divided by N.",
            lambda: expected * n,
        )
    yield Mistake(
        "the factor 2 is missing",
        "the derivative of (error) ** 2 is 2 * error times the derivative of the error.",
        lambda: expected / 2,
    )
    yield Mistake(
        "wrong sign",
        "the gradient is (prediction - label) times ...: where the prediction is too "
        "high, the gradient is positive.",
        lambda: -expected,
    )
    yield Mistake(
        "labels ignored",
        "the error is prediction - label.",
        lambda: grad(score / scale, 1 / scale),
    )
    if scale != 1:
        yield Mistake(
            "the prediction not divided by scale",
            "the prediction is sum(template * image) / scale.",
            lambda: grad(score - labels, 1 / scale),
        )
        yield Mistake(
            "the chain rule's 1 / scale missing",
            "the prediction is divided by scale, so its derivative with respect to each "
            "weight is image / scale.",
            lambda: grad(score / scale - labels, 1.0),
        )
        yield Mistake(
            "scale ignored altogether",
            "the prediction is sum(template * image) / scale.",
            lambda: grad(score - labels, 1.0),
        )
    if n > 1:
        yield Mistake(
            "only the first image used",
            "average the gradient over all the images of the batch.",
            lambda: REF.template_loss_gradient(template, images[:1], labels[:1], scale=scale),
        )
    error = score / scale - labels
    yield Mistake(
        "the error not multiplied by the image",
        "each weight's gradient is the error times the pixel under that weight.",
        lambda: np.full(template.shape, 2.0 / n * error.sum() / scale),
    )
    if n > 1:
        yield Mistake(
            "the error and the images averaged separately, then multiplied",
            "each image's pixels are multiplied by that image's own error; average those "
            "products over the images.",
            lambda: 2.0 * error.mean() * images.mean(axis=0) / scale,
        )
    yield Mistake(
        "the loss returned instead of its gradient",
        "return the gradient: an array shaped like the template.",
        lambda: float(np.mean(error**2)),
    )


def check_template_loss_gradient(fn, *, thorough=False) -> None:
    """Check ``template_loss_gradient(template, images, labels, scale=3.0) -> (3, 3)``.

    The gradient of ``mean_n (sum(template * images[n]) / scale - labels[n]) ** 2``.
    Names: sum instead of mean, factor 2 missing, wrong sign, labels ignored,
    scale missing in the prediction, in the chain rule or both, only the first
    image, error not multiplied by the image, error and images averaged
    separately, the loss returned. Thorough mode
    forbids cnnlab's ``template_loss_gradient``; ``match_score`` may be used.
    """
    run(
        Check(
            "template_loss_gradient",
            REF.template_loss_gradient,
            _gradient_cases(thorough),
            _gradient_mistakes,
            layout="(the shape of template)",
            uses=("match_score",),
        ),
        fn,
        thorough,
    )


# -------------------------------------------------------------------------- sgd_step


def _sgd_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(2323)

    def case(title, params, grad, lr):
        return Case(title, {"params": params, "grad": grad, "lr": lr})

    cases = [
        case(
            "a 2 x 2 template, learning rate 0.1",
            np.array([[1.0, 2.0], [3.0, 4.0]]),
            np.array([[0.5, -1.0], [2.0, 0.0]]),
            0.1,
        ),
        case("learning rate 1", normal(rng, (3, 3)), normal(rng, (3, 3)), 1.0),
        case("a vector, learning rate 0.5", normal(rng, 5), normal(rng, 5), 0.5),
        case(
            "float32, learning rate 0.01", normal(rng, (3, 3), F32), normal(rng, (3, 3), F32), 0.01
        ),
        case(
            "a bank of filters, learning rate 0.05",
            normal(rng, (4, 3, 3, 3)),
            normal(rng, (4, 3, 3, 3)),
            0.05,
        ),
        case("learning rate 0: nothing moves", normal(rng, (2, 3)), normal(rng, (2, 3)), 0.0),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(6):
            shape = tuple(int(v) for v in rng.integers(1, 6, int(rng.integers(1, 4))))
            dtype = F32 if rng.random() < 0.5 else F64
            lr = float(rng.choice([0.001, 0.03, 0.2, 2.0]))
            title = f"random, learning rate {lr:g}, {np.dtype(dtype)}"
            cases.append(case(title, normal(rng, shape, dtype), normal(rng, shape, dtype), lr))
    return cases


def _sgd_mistakes(case: Case):
    params, grad, lr = case.args["params"], case.args["grad"], case.args["lr"]
    variants = [
        (
            "the gradient added: a step uphill",
            "the gradient points uphill; step against it to lower the loss.",
            lambda: params + lr * grad,
        ),
        (
            "learning rate ignored",
            "scale the gradient by the learning rate before stepping.",
            lambda: params - grad,
        ),
        (
            "divided by the learning rate",
            "multiply the gradient by the learning rate.",
            lambda: params - grad / lr,
        ),
        (
            "only the step returned, not the new parameters",
            "return the parameters after the step.",
            lambda: -lr * grad,
        ),
        (
            "only the step returned, not the new parameters",
            "return the parameters after the step.",
            lambda: lr * grad,
        ),
        ("the gradient returned", "return the parameters after the step.", lambda: grad),
        (
            "the learning rate multiplies the parameters too",
            "only the gradient is scaled by the learning rate.",
            lambda: (params - grad) * lr,
        ),
        (
            "parameters returned unchanged",
            "move the parameters a small step against the gradient.",
            lambda: params,
        ),
    ]
    for name, hint, make in variants:
        yield Mistake(name, hint, make)


def check_sgd_step(fn, *, thorough=False) -> None:
    """Check ``sgd_step(params, grad, lr) -> params - lr * grad``, as a new array.

    Names: gradient added (uphill), learning rate ignored or divided by, only
    the step returned, the gradient returned, learning rate on the parameters,
    parameters unchanged, input modified in place. Refuses cnnlab's
    own ``sgd_step``.
    """
    run(
        Check(
            "sgd_step",
            REF.sgd_step,
            _sgd_cases(thorough),
            _sgd_mistakes,
            layout="(the shape of params)",
            uses=(),
        ),
        fn,
        thorough,
    )
