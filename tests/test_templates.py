"""Tests of cnnlab.templates: template matching and learning the template by SGD."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.data import make_line_images
from cnnlab.grads import numerical_gradient, rel_error
from cnnlab.templates import (
    LINE_TEMPLATE,
    count_placements,
    is_match,
    learn_template,
    match_score,
    sgd_step,
    template_loss,
    template_loss_gradient,
    template_predict,
)

LINE = np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]], dtype=float)


def all_binary_3x3_images():
    """Every one of the 2**9 = 512 binary 3 x 3 images."""
    return [
        np.array(bits, dtype=float).reshape(3, 3) for bits in itertools.product((0, 1), repeat=9)
    ]


def loss_loop(template, images, labels, scale):
    """The mean squared error written out example by example (the oracle)."""
    total = 0.0
    for image, label in zip(images, labels, strict=True):
        prediction = sum(template[i, j] * image[i, j] for i in range(3) for j in range(3)) / scale
        total += (prediction - label) ** 2
    return total / len(images)


# ------------------------------------------------------------------- LINE_TEMPLATE


def test_line_template_is_the_middle_column_and_read_only():
    np.testing.assert_array_equal(LINE_TEMPLATE, LINE)
    assert LINE_TEMPLATE.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        LINE_TEMPLATE[0, 0] = 1.0


# --------------------------------------------------------------------- match_score


def test_match_score_hand_values():
    assert match_score(LINE, LINE_TEMPLATE) == 3.0  # the "sum equals 3" of a match
    assert match_score(np.eye(3), LINE_TEMPLATE) == 1.0  # the diagonal crosses it once
    assert match_score(np.zeros((3, 3)), LINE_TEMPLATE) == 0.0
    image = np.array([[1.0, 2.0], [3.0, 4.0]])
    template = np.array([[0.5, -1.0], [2.0, 0.0]])
    assert match_score(image, template) == 0.5 - 2.0 + 6.0  # 4.5
    assert isinstance(match_score(image, template), float)


def test_match_score_does_not_modify_its_inputs():
    image, template = np.eye(3), np.arange(9.0).reshape(3, 3)
    match_score(image, template)
    np.testing.assert_array_equal(image, np.eye(3))
    np.testing.assert_array_equal(template, np.arange(9.0).reshape(3, 3))


def test_match_score_rejects_shapes_that_differ():
    with pytest.raises(
        ValueError,
        match=r"match_score: image and template must have the same shape, "
        r"got image \(5, 5\) and template \(3, 3\).*correlate2d",
    ):
        match_score(np.zeros((5, 5)), LINE_TEMPLATE)


def test_match_score_rejects_wrong_dimensions_and_types():
    with pytest.raises(
        ValueError, match=r"match_score: image must have 2 dimensions \(h, w\), got 1"
    ):
        match_score(np.zeros(9), LINE_TEMPLATE)
    with pytest.raises(TypeError, match=r"match_score: template must be a numpy array"):
        match_score(LINE, "line")


# ------------------------------------------------------------------------ is_match


def test_is_match_hand_cases():
    assert is_match(LINE, LINE_TEMPLATE) is True
    assert is_match(np.ones((3, 3)), LINE_TEMPLATE) is True  # extra pixels do not matter
    assert is_match(np.eye(3), LINE_TEMPLATE) is False
    broken = LINE.copy()
    broken[2, 1] = 0  # a line of only 2 pixels: sum 2, not 3
    assert is_match(broken, LINE_TEMPLATE) is False
    sideways = LINE.T  # a horizontal line is not a vertical one
    assert is_match(sideways, LINE_TEMPLATE) is False


def test_is_match_accepts_exactly_the_64_images_with_the_middle_column_lit():
    # 3 pixels fixed, 6 free: 2**6 = 64 of the 512 binary images match
    matches = [image for image in all_binary_3x3_images() if is_match(image, LINE_TEMPLATE)]
    assert len(matches) == 64
    assert all(np.all(image[:, 1] == 1) for image in matches)


def test_is_match_works_with_integer_arrays_and_other_templates():
    corner = np.array([[1, 1], [1, 0]])
    assert is_match(np.array([[1, 1], [1, 1]]), corner) is True
    assert is_match(np.array([[1, 0], [1, 1]]), corner) is False


@pytest.mark.parametrize(
    ("image", "template", "message"),
    [
        (
            2 * LINE,
            LINE_TEMPLATE,
            r"is_match: image must be binary \(only 0 and 1\), got values such as \[2\.0\]",
        ),
        (LINE, 0.5 * LINE, r"is_match: template must be binary .* \[0\.5\]"),
        (LINE, np.zeros((3, 3)), r"is_match: template has no 1 in it, so every image would match"),
        (
            np.zeros((4, 4)),
            LINE_TEMPLATE,
            r"is_match: image and template must have the same shape",
        ),
    ],
)
def test_is_match_rejects_what_the_rule_cannot_judge(image, template, message):
    with pytest.raises(ValueError, match=message):
        is_match(image, template)


# ---------------------------------------------------------------- count_placements


def placements_loop(image_shape, template_shape):
    (height, width), (h, w) = image_shape, template_shape
    return sum(
        1
        for top in range(height)
        for left in range(width)
        if top + h <= height and left + w <= width
    )


@pytest.mark.parametrize(
    ("image_shape", "template_shape", "expected"),
    [
        ((11, 11), (3, 1), 99),  # a vertical 3-pixel line in 11 x 11: 9 rows x 11 columns
        ((11, 11), (1, 3), 99),
        ((3, 3), (3, 3), 1),  # lesson 1's template covers its image exactly once
        ((64, 64), (3, 3), 62 * 62),
        ((5, 7), (2, 3), 4 * 5),
        (11, 3, 81),  # ints mean squares
    ],
)
def test_count_placements_hand_values(image_shape, template_shape, expected):
    assert count_placements(image_shape, template_shape) == expected


@pytest.mark.parametrize("shapes", [((6, 9), (4, 2)), ((1, 8), (1, 8)), ((7, 3), (1, 1))])
def test_count_placements_matches_a_loop(shapes):
    assert count_placements(*shapes) == placements_loop(*shapes)


def test_count_placements_rejects_a_template_bigger_than_the_image():
    with pytest.raises(
        ValueError,
        match=r"count_placements: template of shape \(3, 1\) does not fit inside "
        r"an image of shape \(2, 11\)",
    ):
        count_placements((2, 11), (3, 1))


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (
            ((0, 5), (1, 1)),
            ValueError,
            r"count_placements: image_shape must be a positive int or a pair",
        ),
        (
            ((5, 5), "3x3"),
            TypeError,
            r"count_placements: template_shape must be a positive int or a pair",
        ),
        (
            ((5, 5, 3), (1, 1)),
            TypeError,
            r"count_placements: image_shape must be a positive int or a pair",
        ),
    ],
)
def test_count_placements_rejects_bad_shapes(args, error, message):
    with pytest.raises(error, match=message):
        count_placements(*args)


# ------------------------------------------------------------- template_predict


def test_template_predict_hand_values():
    images = np.stack([LINE, np.ones((3, 3)), np.eye(3), np.zeros((3, 3))])
    np.testing.assert_allclose(template_predict(LINE_TEMPLATE, images), [1.0, 1.0, 1 / 3, 0.0])
    np.testing.assert_allclose(template_predict(LINE_TEMPLATE, images, scale=1.0), [3, 3, 1, 0])


def test_template_predict_returns_one_value_per_image_even_for_one_image():
    out = template_predict(LINE_TEMPLATE, LINE[None])
    assert out.shape == (1,)
    assert out[0] == 1.0


def test_template_predict_keeps_float32():
    images = np.ones((2, 3, 3), dtype=np.float32)
    template = np.full((3, 3), 0.5, dtype=np.float32)
    assert template_predict(template, images).dtype == np.float32


@settings(max_examples=30, deadline=None)
@given(st.floats(-3, 3), st.integers(0, 2**32 - 1))
def test_template_predict_is_linear_in_the_template(a, seed):
    rng = np.random.default_rng(seed)
    t1, t2, images = rng.normal(size=(3, 3)), rng.normal(size=(3, 3)), rng.random((4, 3, 3))
    np.testing.assert_allclose(
        template_predict(a * t1 + t2, images),
        a * template_predict(t1, images) + template_predict(t2, images),
        atol=1e-12,
    )


@pytest.mark.parametrize(
    ("template", "images", "scale", "error", "message"),
    [
        (
            LINE_TEMPLATE,
            LINE,
            3.0,
            ValueError,
            r"template_predict: images must have 3 dimensions \(N, h, w\), got 2",
        ),
        (
            LINE_TEMPLATE,
            np.zeros((2, 4, 4)),
            3.0,
            ValueError,
            r"template_predict: each image must have the template's shape \(3, 3\), "
            r"got images of shape \(2, 4, 4\)",
        ),
        (
            LINE_TEMPLATE,
            LINE[None],
            0.0,
            ValueError,
            r"template_predict: scale must be a finite positive number, got 0\.0",
        ),
        (
            LINE_TEMPLATE,
            LINE[None],
            "3",
            TypeError,
            r"template_predict: scale must be a number, got the string '3'",
        ),
        (
            LINE_TEMPLATE,
            LINE[None],
            True,
            TypeError,
            r"template_predict: scale must be a number, got bool",
        ),
    ],
)
def test_template_predict_rejects_bad_arguments(template, images, scale, error, message):
    with pytest.raises(error, match=message):
        template_predict(template, images, scale)


# ------------------------------------------------------------------ template_loss


def test_template_loss_hand_values():
    images = np.stack([np.ones((3, 3)), LINE])
    # predictions with the line template: 1 and 1
    assert template_loss(LINE_TEMPLATE, images, [1.0, 1.0]) == 0.0
    assert template_loss(LINE_TEMPLATE, images, [0.0, 1.0]) == 0.5  # (1 - 0)**2 / 2
    assert template_loss(LINE_TEMPLATE, images, [0.0, 0.0], scale=1.0) == 9.0  # 3**2


def test_template_loss_matches_the_loop():
    rng = np.random.default_rng(4)
    template, images, labels = rng.normal(size=(3, 3)), rng.random((7, 3, 3)), rng.random(7)
    assert template_loss(template, images, labels, 2.5) == pytest.approx(
        loss_loop(template, images, labels, 2.5), rel=1e-12
    )


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (
            np.ones((2, 3, 3)),
            [1.0],
            r"template_loss: labels must have shape \(2,\) \(one label per image\), got \(1,\)",
        ),
        (
            np.ones((2, 3, 3)),
            [[1.0, 0.0]],
            r"template_loss: labels must have 1 dimensions \(N,\), got 2",
        ),
        (np.ones((0, 3, 3)), [], r"template_loss: images must hold at least one image"),
    ],
)
def test_template_loss_rejects_bad_labels(images, labels, message):
    with pytest.raises(ValueError, match=message):
        template_loss(LINE_TEMPLATE, images, labels)


# --------------------------------------------------------- template_loss_gradient


def test_template_loss_gradient_hand_values():
    ones = np.ones((1, 3, 3))
    # prediction 1, label 0: error 1, gradient 2 * 1 * image / 3
    np.testing.assert_allclose(
        template_loss_gradient(LINE_TEMPLATE, ones, [0.0]), np.full((3, 3), 2 / 3)
    )
    # a right answer gives no gradient
    np.testing.assert_array_equal(
        template_loss_gradient(LINE_TEMPLATE, ones, [1.0]), np.zeros((3, 3))
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_template_loss_gradient_matches_numerical_gradient(seed):
    rng = np.random.default_rng(seed)
    template = rng.normal(size=(3, 3))
    images = rng.integers(0, 2, size=(6, 3, 3)).astype(float) + rng.normal(0, 0.1, (6, 3, 3))
    labels = rng.integers(0, 2, size=6).astype(float)
    analytic = template_loss_gradient(template, images, labels, scale=2.5)
    numeric = numerical_gradient(lambda t: template_loss(t, images, labels, scale=2.5), template)
    assert rel_error(analytic, numeric) < 1e-7


def test_the_gradient_check_catches_a_forgotten_factor_two():
    rng = np.random.default_rng(5)
    template, images, labels = rng.normal(size=(3, 3)), rng.random((4, 3, 3)), rng.random(4)
    wrong = template_loss_gradient(template, images, labels) / 2
    numeric = numerical_gradient(lambda t: template_loss(t, images, labels), template)
    assert rel_error(wrong, numeric) > 0.3


def test_template_loss_gradient_shape_dtype_and_inputs_untouched():
    rng = np.random.default_rng(6)
    template = rng.normal(size=(2, 4)).astype(np.float32)
    images = rng.random((5, 2, 4)).astype(np.float32)
    labels = np.ones(5, dtype=np.float32)
    kept = template.copy(), images.copy(), labels.copy()
    grad = template_loss_gradient(template, images, labels)
    assert grad.shape == (2, 4)
    assert grad.dtype == np.float32
    for before, after in zip(kept, (template, images, labels), strict=True):
        np.testing.assert_array_equal(before, after)


def test_template_loss_gradient_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"template_loss_gradient: labels must have shape \(3,\)"):
        template_loss_gradient(LINE_TEMPLATE, np.ones((3, 3, 3)), [0.0])
    with pytest.raises(
        ValueError, match=r"template_loss_gradient: scale must be a finite positive number"
    ):
        template_loss_gradient(LINE_TEMPLATE, np.ones((1, 3, 3)), [0.0], scale=-1)


# ------------------------------------------------------------------------ sgd_step


def test_sgd_step_hand_values_and_no_change_in_place():
    params, grad = np.array([1.0, 2.0, 3.0]), np.array([10.0, -10.0, 0.0])
    out = sgd_step(params, grad, lr=0.1)
    np.testing.assert_allclose(out, [0.0, 3.0, 3.0])
    np.testing.assert_array_equal(params, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(grad, [10.0, -10.0, 0.0])
    assert out is not params


def test_sgd_step_with_zero_lr_returns_an_equal_new_array():
    params = np.array([[1.0, 2.0]])
    out = sgd_step(params, np.ones((1, 2)), lr=0)
    np.testing.assert_array_equal(out, params)
    assert not np.shares_memory(out, params)


def test_sgd_step_keeps_the_dtype_of_params():
    out = sgd_step(np.ones(3, dtype=np.float32), np.ones(3), lr=0.5)
    assert out.dtype == np.float32


@pytest.mark.parametrize(
    ("grad", "lr", "error", "message"),
    [
        (
            np.ones(4),
            0.1,
            ValueError,
            r"sgd_step: grad must have shape \(3,\) \(one value per parameter\), got \(4,\)",
        ),
        (
            np.ones(3),
            -0.1,
            ValueError,
            r"sgd_step: lr must be a finite non-negative number, got -0\.1",
        ),
        (
            np.ones(3),
            float("nan"),
            ValueError,
            r"sgd_step: lr must be a finite non-negative number",
        ),
        (np.ones(3), None, TypeError, r"sgd_step: lr must be a number, got NoneType"),
        ("grad", 0.1, TypeError, r"sgd_step: grad must be a numpy array"),
    ],
)
def test_sgd_step_rejects_bad_arguments(grad, lr, error, message):
    with pytest.raises(error, match=message):
        sgd_step(np.zeros(3), grad, lr)


# ------------------------------------------------------------------ learn_template


@pytest.fixture(scope="module")
def line_data():
    return make_line_images(2000, rng=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learn_template_finds_the_line(line_data, seed):
    images, labels = line_data
    template, losses = learn_template(images, labels, steps=1000, lr=0.1, rng=seed)
    assert template.shape == (3, 3)
    assert losses.shape == (1000,)
    # the learned template resembles the oracle's: high middle column, low outer ones
    middle, outer = template[:, 1], template[:, [0, 2]]
    assert middle.min() > outer.max() + 0.3
    assert middle.min() > 0.4
    # the loss on the whole data set came down, close to the best any template can do
    # (about 0.072 for this data, by least squares) ...
    start = np.random.default_rng(seed).standard_normal((3, 3))
    assert template_loss(template, images, labels) < 0.1
    assert template_loss(template, images, labels) < 0.6 * template_loss(start, images, labels)
    # ... and so did the recorded per-step losses (noisy: compare averages)
    assert losses[-200:].mean() < losses[:100].mean()


def test_learn_template_with_balanced_data_and_mini_batches():
    images, labels = make_line_images(1000, rng=3, positive_fraction=0.5)
    template, losses = learn_template(images, labels, steps=400, lr=0.3, batch_size=16, rng=3)
    assert template[:, 1].min() > template[:, [0, 2]].max() + 0.5
    assert template_loss(template, images, labels) < 0.1
    assert losses[-50:].mean() < 0.5 * losses[:50].mean()


def test_learn_template_takes_a_generator_as_rng(line_data):
    images, labels = line_data
    seeded = learn_template(images, labels, steps=50, rng=7)
    drawn = learn_template(images, labels, steps=50, rng=np.random.default_rng(7))
    for a, b in zip(seeded, drawn, strict=True):
        np.testing.assert_array_equal(a, b)


def test_learn_template_is_reproducible_and_seeded(line_data):
    images, labels = line_data
    first = learn_template(images, labels, steps=50, rng=7)
    again = learn_template(images, labels, steps=50, rng=7)
    other = learn_template(images, labels, steps=50, rng=8)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_learn_template_with_zero_steps_returns_the_random_start(line_data):
    images, labels = line_data
    template, losses = learn_template(images, labels, steps=0, rng=0)
    np.testing.assert_array_equal(template, np.random.default_rng(0).standard_normal((3, 3)))
    assert losses.shape == (0,)


def test_learn_template_does_not_modify_its_inputs(line_data):
    images, labels = line_data
    kept = images.copy(), labels.copy()
    learn_template(images, labels, steps=20)
    np.testing.assert_array_equal(images, kept[0])
    np.testing.assert_array_equal(labels, kept[1])


def test_learn_template_stops_with_a_clear_message_when_it_blows_up(line_data):
    images, labels = line_data
    with pytest.raises(
        FloatingPointError,
        match=r"learn_template: the loss became .* lr=50\.0 is too large, "
        r"try a smaller one such as 5",
    ):
        learn_template(images, labels, steps=1000, lr=50.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"steps": -1}, ValueError, r"learn_template: steps must be a non-negative int, got -1"),
        (
            {"steps": 10.0},
            TypeError,
            r"learn_template: steps must be a non-negative int, got float",
        ),
        ({"lr": 0}, ValueError, r"learn_template: lr must be a finite positive number, got 0\.0"),
        (
            {"batch_size": 0},
            ValueError,
            r"learn_template: batch_size must be a positive int, got 0",
        ),
        ({"rng": -3}, ValueError, r"learn_template: rng must be a non-negative int, got -3"),
        ({"rng": "3"}, TypeError, r"learn_template: rng must be None, an int seed or a numpy"),
    ],
)
def test_learn_template_rejects_bad_settings(line_data, kwargs, error, message):
    images, labels = line_data
    with pytest.raises(error, match=message):
        learn_template(images, labels, **kwargs)


def test_learn_template_rejects_bad_data():
    with pytest.raises(
        ValueError, match=r"learn_template: images must have 3 dimensions \(N, h, w\), got 2"
    ):
        learn_template(LINE, [1.0])
    with pytest.raises(ValueError, match=r"learn_template: labels must have shape \(2,\)"):
        learn_template(np.ones((2, 3, 3)), [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"learn_template: images must hold at least one image"):
        learn_template(np.ones((0, 3, 3)), [])
