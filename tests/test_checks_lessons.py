"""Checks of lessons 0, 1 and 7: grayscale, normalising, template matching, learning a template."""

import numpy as np
import pytest
from check_messages import names_mistake

from cnnlab import checks

R, G, B = 0.299, 0.587, 0.114


def message_of(check, fn, thorough=False) -> str:
    with pytest.raises(AssertionError) as info:
        check(fn, thorough=thorough)
    return str(info.value)


# ------------------------------------------------------------------- right answers


def channel_grayscale(image):
    return R * image[..., 0] + G * image[..., 1] + B * image[..., 2]


def einsum_grayscale(image):
    dtype = image.dtype if image.dtype.kind == "f" else np.float64
    return np.einsum("hwc,c->hw", image, np.array([R, G, B], dtype=dtype))


def loop_match_score(image, template):
    total = 0.0
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            total += image[i, j] * template[i, j]
    return total


def counting_placements(image_shape, template_shape):
    (height, width), (h, w) = image_shape, template_shape
    return sum(
        1
        for top in range(height)
        for left in range(width)
        if top + h <= height and left + w <= width
    )


def loop_template_loss_gradient(template, images, labels, scale=3.0):
    grad = np.zeros_like(template)
    for image, label in zip(images, labels, strict=True):
        error = np.sum(template * image) / scale - label
        grad += 2 * error * image / scale
    return grad / len(images)


RIGHT_ANSWERS = [
    (checks.check_to_grayscale, channel_grayscale),
    (checks.check_to_grayscale, einsum_grayscale),
    (checks.check_normalize, lambda image: image / 255),
    (checks.check_normalize, lambda image: np.true_divide(image, 255.0)),
    (checks.check_match_score, lambda image, template: float(np.vdot(image, template))),
    (checks.check_match_score, loop_match_score),
    (checks.check_count_placements, counting_placements),
    (
        checks.check_count_placements,
        lambda a, b: len(range(a[0] - b[0] + 1)) * len(range(a[1] - b[1] + 1)),
    ),
    (checks.check_template_loss_gradient, loop_template_loss_gradient),
    (checks.check_sgd_step, lambda params, grad, lr: np.subtract(params, np.multiply(lr, grad))),
    (checks.check_sgd_step, lambda params, grad, lr: params + (-lr) * grad),
]


@pytest.mark.parametrize(("check", "fn"), RIGHT_ANSWERS)
def test_a_right_answer_written_differently_passes(check, fn, capsys):
    check(fn)
    check(fn, thorough=True)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].endswith("checks passed") and out[1].endswith("checks passed (thorough)")


# ------------------------------------------------------------------- known mistakes


def gradient(template, images, labels, scale, *, n=None, two=2.0, pred_scale=None, chain=None):
    """The template-loss gradient with knobs for the classic slips."""
    pred = np.einsum("nij,ij->n", images, template) / (scale if pred_scale is None else pred_scale)
    error = pred - labels
    factor = 1 / scale if chain is None else chain
    return (
        two * np.tensordot(error, images, axes=(0, 0)) * factor / (len(images) if n is None else n)
    )


MISTAKES = [
    (checks.check_to_grayscale, lambda image: image.mean(axis=2), "equal weights"),
    (
        checks.check_to_grayscale,
        lambda image: channel_grayscale(image[..., ::-1]),
        "channels in the wrong order (BGR",
    ),
    (
        checks.check_to_grayscale,
        lambda image: np.round(channel_grayscale(image)),
        "result rounded to whole numbers",
    ),
    (
        checks.check_to_grayscale,
        lambda image: channel_grayscale(image).astype(np.uint8),
        "result truncated",
    ),
    (
        checks.check_to_grayscale,
        lambda image: channel_grayscale(image) / 255,
        "divided by 255 as well",
    ),
    (
        checks.check_to_grayscale,
        lambda image: image * np.array([R, G, B]),
        "channels weighted but not added up",
    ),
    (
        checks.check_to_grayscale,
        lambda image: image.sum(axis=2, dtype=float),
        "plain sum of the channels",
    ),
    (checks.check_to_grayscale, lambda image: image.max(axis=2) * 1.0, "brightest channel taken"),
    (checks.check_normalize, lambda image: image / 256, "divided by 256"),
    (
        checks.check_normalize,
        lambda image: image / image.max(),
        "divided by the image's own maximum",
    ),
    (
        checks.check_normalize,
        lambda image: (image - image.min()) / (image.max() - image.min()),
        "min-max scaling",
    ),
    (checks.check_normalize, lambda image: image // 255, "integer division"),
    (checks.check_normalize, lambda image: image / 127.5 - 1, "scaled to [-1, 1]"),
    (checks.check_normalize, lambda image: image * 255.0, "multiplied by 255"),
    (checks.check_normalize, lambda image: image * 1.0, "values returned unchanged"),
    (
        checks.check_match_score,
        lambda image, template: float(np.sum(image @ template)),
        "matrix product (@)",
    ),
    (
        checks.check_match_score,
        lambda image, template: int(np.sum(image == template)),
        "equal pixels counted",
    ),
    (
        checks.check_match_score,
        lambda image, template: float(np.mean(image * template)),
        "mean instead of sum",
    ),
    (checks.check_match_score, lambda image, template: image * template, "products not added up"),
    (
        checks.check_match_score,
        lambda image, template: float(np.sum(image + template)),
        "added instead of multiplied",
    ),
    (
        checks.check_match_score,
        lambda image, template: np.sum(image * template, axis=0),
        "only the first row (or column) added up",
    ),
    (
        checks.check_count_placements,
        lambda a, b: (a[0] - b[0]) * (a[1] - b[1]),
        "the + 1 is missing",
    ),
    (
        checks.check_count_placements,
        lambda a, b: (a[0] - b[1] + 1) * (a[1] - b[0] + 1),
        "height and width mixed up",
    ),
    (
        checks.check_count_placements,
        lambda a, b: (a[0] - b[0] + 1) + (a[1] - b[1] + 1),
        "the positions along the two axes added instead of multiplied",
    ),
    (checks.check_count_placements, lambda a, b: a[0] * a[1], "the template's size ignored"),
    (
        checks.check_count_placements,
        lambda a, b: (a[0] // b[0]) * (a[1] // b[1]),
        "non-overlapping tiles counted",
    ),
    (
        checks.check_count_placements,
        lambda a, b: a[0] * a[1] - b[0] * b[1],
        "template pixels subtracted",
    ),
    (
        checks.check_template_loss_gradient,
        lambda t, x, y, scale=3.0: gradient(t, x, y, scale, n=1),
        "summed over the images instead of averaged",
    ),
    (
        checks.check_template_loss_gradient,
        lambda t, x, y, scale=3.0: gradient(t, x, y, scale, two=1.0),
        "the factor 2 is missing",
    ),
    (
        checks.check_template_loss_gradient,
        lambda t, x, y, scale=3.0: -gradient(t, x, y, scale),
        "wrong sign",
    ),
    (
        checks.check_template_loss_gradient,
        lambda t, x, y, scale=3.0: gradient(t, x, 0 * y, scale),
        "labels ignored",
    ),
    (
        checks.check_template_loss_gradient,
        lambda t, x, y, scale=3.0: gradient(t, x, y, scale, pred_scale=1.0),
        "the prediction not divided by scale",
    ),
    (
        checks.check_template_loss_gradient,
        lambda t, x, y, scale=3.0: gradient(t, x, y, scale, chain=1.0),
        "the chain rule's 1 / scale missing",
    ),
    (
        checks.check_template_loss_gradient,
        lambda t, x, y, scale=3.0: gradient(t, x, y, scale, pred_scale=1.0, chain=1.0),
        "scale ignored altogether",
    ),
    (
        checks.check_template_loss_gradient,
        lambda t, x, y, scale=3.0: gradient(t, x[:1], y[:1], scale),
        "only the first image used",
    ),
    (
        checks.check_template_loss_gradient,
        lambda t, x, y, scale=3.0: float(np.mean((np.einsum("nij,ij->n", x, t) / scale - y) ** 2)),
        "the loss returned instead of its gradient",
    ),
    (
        checks.check_sgd_step,
        lambda params, grad, lr: params + lr * grad,
        "the gradient added: a step uphill",
    ),
    (checks.check_sgd_step, lambda params, grad, lr: params - grad, "learning rate ignored"),
    (
        checks.check_sgd_step,
        lambda params, grad, lr: params - grad / lr,
        "divided by the learning rate",
    ),
    (checks.check_sgd_step, lambda params, grad, lr: -lr * grad, "only the step returned"),
    (checks.check_sgd_step, lambda params, grad, lr: grad.copy(), "the gradient returned"),
    (
        checks.check_sgd_step,
        lambda params, grad, lr: (params - grad) * lr,
        "the learning rate multiplies the parameters too",
    ),
    (
        checks.check_sgd_step,
        lambda params, grad, lr: params.copy(),
        "parameters returned unchanged",
    ),
]


def error_times_ones(template, images, labels, scale=3.0):
    error = np.einsum("nij,ij->n", images, template) / scale - labels
    return 2 * np.mean(error) / scale * np.ones_like(template)


def averaged_apart(template, images, labels, scale=3.0):
    error = np.einsum("nij,ij->n", images, template) / scale - labels
    return 2 * error.mean() * images.mean(axis=0) / scale


def weighted(r, g, b):
    return lambda image: r * image[..., 0] + g * image[..., 1] + b * image[..., 2]


MISTAKES += [
    (
        checks.check_template_loss_gradient,
        error_times_ones,
        "the error not multiplied by the image",
    ),
    (
        checks.check_template_loss_gradient,
        averaged_apart,
        "the error and the images averaged separately",
    ),
    (checks.check_to_grayscale, weighted(0.2126, 0.7152, 0.0722), "the HDTV (Rec. 709) weights"),
    (checks.check_to_grayscale, weighted(0.3, 0.59, 0.11), "weights rounded to two decimals"),
    (checks.check_to_grayscale, lambda image: image[..., 1] * 1.0, "one channel taken instead"),
    (
        checks.check_count_placements,
        lambda a, b: (a[0] - b[0] + 1) ** 2,
        "one axis's count used for both axes",
    ),
    (
        checks.check_count_placements,
        lambda a, b: (a[0] - b[0] + 1) * (a[1] - b[0] + 1),
        "one side of the template used for both axes",
    ),
    (
        checks.check_match_score,
        lambda image, template: float(np.sum(image * template.T)),
        "template transposed",
    ),
]


@pytest.mark.parametrize(
    ("check", "fn", "name"), MISTAKES, ids=[f"{c.__name__}-{n}" for c, _, n in MISTAKES]
)
def test_a_known_mistake_is_rejected_and_named(check, fn, name):
    message = message_of(check, fn)
    assert names_mistake(message, name), message
    assert "Hint: " in message


# ------------------------------------------------------------------------ messages


def test_sgd_step_in_place_is_named():
    def in_place(params, grad, lr):
        params -= lr * grad
        return params

    message = message_of(checks.check_sgd_step, in_place)
    assert (
        "Likely mistake: input modified in place: sgd_step changed its argument params" in message
    )


def test_grayscale_dtype_is_said_plainly():
    """float64 weights turn a float32 image into float64: the values are right, the dtype not."""
    message = message_of(checks.check_to_grayscale, lambda image: image @ np.array([R, G, B]))
    assert message.startswith("to_grayscale: 5/6 checks passed. Check 4 failed.")
    assert "The values are right, but the result of to_grayscale has dtype float64" in message
    assert "for float32 input it should be float32" in message


def test_normalize_of_uint8_must_give_float64():
    message = message_of(checks.check_normalize, lambda image: (image / 255).astype(np.float32))
    assert "for uint8 input it should be float64" in message
    assert "Integer input (such as uint8 pixels) is computed in float64." in message


def test_the_eleven_by_eleven_example_is_a_case():
    message = message_of(checks.check_count_placements, lambda a, b: 99)
    assert "count_placements: 1/8 checks passed" in message
    assert "expected: 8" in message and "got:      99" in message
