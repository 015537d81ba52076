"""The explorers of cnnlab.widgets, driven headlessly like a learner would.

Each test creates an explorer, moves its controls by setting ``.value`` (or
clicking its buttons), and checks that what it shows follows: the arrays it
keeps equal the cnnlab.ops results for those settings, its text holds the
right numbers, and its figure was redrawn.
"""

import matplotlib

matplotlib.use("Agg")

import base64

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnlab import data, ops, templates, widgets

RNG = np.random.default_rng(3)
IMAGE = RNG.random((6, 7))  # non-square: rows and columns cannot be mixed up
SIGNED_MAP = RNG.standard_normal((9, 8))  # no exact zeros


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def png(explorer) -> bytes:
    """The figure the explorer currently shows, as PNG bytes."""
    (output,) = explorer.plot.outputs
    return base64.b64decode(output["data"]["image/png"])


def computed(explorer) -> int:
    return int(np.isfinite(explorer.output).sum())


# ---------------------------------------------------------------------- convolution


def test_convolution_explorer_starts_on_the_photo_with_the_edge_kernel():
    explorer = widgets.convolution_explorer()
    assert explorer.image.shape == (widgets.PHOTO_SIZE, widgets.PHOTO_SIZE)
    assert explorer.image.min() >= 0 and explorer.image.max() <= 1  # normalised
    np.testing.assert_array_equal(explorer.kernel, widgets.KERNELS["vertical edge"])
    np.testing.assert_allclose(
        explorer.full_output, ops.correlate2d(explorer.image, explorer.kernel)
    )


@pytest.mark.parametrize(
    ("make", "move"),
    [
        (lambda: widgets.convolution_explorer(IMAGE), lambda e: e.step_button.click()),
        (lambda: widgets.activation_explorer(SIGNED_MAP), lambda e: setattr(e.bias, "value", 1)),
        (lambda: widgets.pooling_explorer(IMAGE), lambda e: setattr(e.mode, "value", "average")),
        (widgets.softmax_explorer, lambda e: setattr(e.temperature, "value", 4.0)),
        (lambda: widgets.gradient_descent_explorer(steps=2), lambda e: e.run_button.click()),
    ],
    ids=["convolution", "activation", "pooling", "softmax", "gradient_descent"],
)
def test_explorers_display_as_widgets_and_redraw_on_change(make, move):
    explorer = make()
    assert explorer.plot.outputs == ()  # nothing drawn before it is shown
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert isinstance(explorer.widget, ipywidgets.Box)
    assert explorer.html in explorer.widget.children and explorer.plot in explorer.widget.children
    first = png(explorer)
    assert first.startswith(b"\x89PNG")
    text = explorer.text
    move(explorer)
    assert png(explorer) != first
    assert explorer.text != text
    assert explorer.html.value.count("\n") == explorer.text.count("\n")


def test_convolution_explorer_follows_stride_padding_and_position():
    kernel = RNG.standard_normal((3, 3))
    explorer = widgets.convolution_explorer(IMAGE, kernel)
    assert explorer.kernel_choice.value == "custom"
    explorer.stride.value = 2
    explorer.padding.value = 1
    expected = ops.correlate2d(IMAGE, kernel, stride=2, padding=1)  # (3, 4)
    assert explorer.position.max == expected.size - 1
    explorer.position.value = 6
    assert (explorer.row, explorer.col) == (1, 2)
    np.testing.assert_allclose(explorer.full_output, expected)
    window = np.pad(IMAGE, 1)[2:5, 4:7]
    np.testing.assert_array_equal(explorer.window, window)
    np.testing.assert_allclose(explorer.products, window * kernel)
    assert explorer.value == pytest.approx(expected[1, 2])
    assert f"= {expected[1, 2]:.4g}" in explorer.text
    assert f"{window[0, 0]:.3g}*" in explorer.text
    assert "(6 + 2*1 - 3) // 2 + 1 = 3 rows" in explorer.text
    assert "(7 + 2*1 - 3) // 2 + 1 = 4 columns" in explorer.text


def test_convolution_explorer_activation_map_grows_as_the_window_moves():
    explorer = widgets.convolution_explorer(IMAGE, "box blur")
    full = ops.correlate2d(IMAGE, widgets.KERNELS["box blur"])
    assert computed(explorer) == 1
    explorer.position.value = 7
    assert computed(explorer) == 8
    np.testing.assert_allclose(explorer.output.ravel()[:8], full.ravel()[:8])
    assert np.isnan(explorer.output.ravel()[8:]).all()
    explorer.step_button.click()
    assert (explorer.position.value, computed(explorer)) == (8, 9)
    explorer.back_button.click()
    explorer.back_button.click()
    assert computed(explorer) == 7
    explorer.position.value = explorer.position.max
    assert computed(explorer) == full.size
    explorer.step_button.click()  # past the end: starts over
    assert computed(explorer) == 1


def test_convolution_explorer_presets_and_hand_edited_kernels():
    explorer = widgets.convolution_explorer(IMAGE, "identity")
    np.testing.assert_allclose(explorer.full_output, IMAGE[1:-1, 1:-1])
    explorer.kernel_choice.value = "sharpen"
    np.testing.assert_array_equal(explorer.kernel, widgets.KERNELS["sharpen"])
    np.testing.assert_allclose(
        explorer.full_output, ops.correlate2d(IMAGE, widgets.KERNELS["sharpen"])
    )
    explorer.kernel_cells[2].value = 3.0  # top-right weight
    assert explorer.kernel_choice.value == "custom"
    edited = widgets.KERNELS["sharpen"].copy()
    edited[0, 2] = 3.0
    np.testing.assert_allclose(explorer.full_output, ops.correlate2d(IMAGE, edited))


def test_convolution_explorer_keeps_the_position_inside_a_smaller_map():
    explorer = widgets.convolution_explorer(IMAGE, "outline")
    explorer.position.value = 19  # the last of 4 x 5 cells
    explorer.stride.value = 3  # 2 x 2 cells now
    assert explorer.position.max == 3
    assert explorer.position.value == 3
    assert explorer.output.shape == (2, 2) and computed(explorer) == 4


def test_convolution_explorer_offers_the_sample_images():
    explorer = widgets.convolution_explorer("digit")
    np.testing.assert_array_equal(explorer.image, widgets.DIGIT)
    labels = list(explorer.images)
    explorer.image_choice.value = next(label for label in labels if label.startswith("vertical"))
    np.testing.assert_array_equal(explorer.image, templates.LINE_TEMPLATE)
    explorer.kernel_cells[1].value = 1.0  # any kernel: a 3 x 3 image gives one cell
    assert explorer.output.shape == (1, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(kernel="blurry"), r"convolution_explorer: kernel must be a 3 x 3 array or one of"),
        (dict(kernel=np.ones((2, 2))), r"convolution_explorer: kernel must have shape \(3, 3\)"),
        (dict(image=np.ones((2, 5))), r"convolution_explorer: image must be at least 3 x 3"),
        (dict(image="cat"), r"convolution_explorer: image must be an array"),
    ],
)
def test_convolution_explorer_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        widgets.convolution_explorer(**kwargs)


# ----------------------------------------------------------------------- activation


def test_activation_explorer_applies_relu_and_counts_the_zeros():
    explorer = widgets.activation_explorer(SIGNED_MAP)
    np.testing.assert_array_equal(explorer.result, ops.relu(SIGNED_MAP))
    negative = float((SIGNED_MAP < 0).mean())
    assert explorer.fraction_zeroed == pytest.approx(negative)
    assert f"({100 * negative:.1f} %) to 0" in explorer.text
    explorer.bias.value = 0.5
    np.testing.assert_allclose(explorer.result, ops.relu(SIGNED_MAP + 0.5))
    assert explorer.fraction_zeroed == pytest.approx(float((SIGNED_MAP + 0.5 <= 0).mean()))
    assert explorer.fraction_zeroed < negative
    explorer.bias.value = -0.5
    assert explorer.fraction_zeroed > negative


def test_activation_explorer_compares_other_functions():
    explorer = widgets.activation_explorer(SIGNED_MAP)
    explorer.function.value = "leaky ReLU"
    explorer.slope.value = 0.2
    np.testing.assert_allclose(
        explorer.result, np.where(SIGNED_MAP > 0, SIGNED_MAP, 0.2 * SIGNED_MAP)
    )
    assert explorer.fraction_zeroed == 0
    explorer.function.value = "sigmoid"
    np.testing.assert_allclose(explorer.result, 1 / (1 + np.exp(-SIGNED_MAP)))
    explorer.function.value = "tanh"
    np.testing.assert_allclose(explorer.result, np.tanh(SIGNED_MAP))
    assert explorer.slope.disabled
    assert "tanh" in explorer.text


def test_activation_explorer_defaults_to_an_edge_map_of_the_photo():
    explorer = widgets.activation_explorer()
    photo = widgets._photo()
    np.testing.assert_allclose(explorer.x, ops.correlate2d(photo, widgets.KERNELS["vertical edge"]))
    assert 0 < explorer.fraction_zeroed < 1
    with pytest.raises(ValueError, match="activation_explorer: function must be one of"):
        widgets.activation_explorer(SIGNED_MAP, function="softplus")


# -------------------------------------------------------------------------- pooling


def test_pooling_explorer_follows_kernel_stride_and_mode():
    x = RNG.random((7, 9))
    explorer = widgets.pooling_explorer(x)
    np.testing.assert_array_equal(explorer.output, ops.max_pool2d(x[None, None])[0, 0])
    explorer.kernel_size.value = 3
    explorer.mode.value = "average"
    expected = ops.avg_pool2d(x[None, None], 3, 2)[0, 0]
    np.testing.assert_allclose(explorer.output, expected)
    assert "input 7 x 9 -> output 3 x 4" in explorer.text
    explorer.position.value = 6  # row 1, column 2
    np.testing.assert_array_equal(explorer.window, x[2:5, 4:7])
    assert explorer.value == pytest.approx(expected[1, 2])
    assert f"average of the window at (2, 4) = {expected[1, 2]:.4g}" in explorer.text
    explorer.stride.value = 1
    assert explorer.output.shape == (5, 7)


def test_pooling_explorer_default_maps_shrink_by_half():
    explorer = widgets.pooling_explorer()
    assert explorer.input.shape == (8, 8) and explorer.output.shape == (4, 4)
    explorer.map_choice.value = list(explorer.maps)[1]
    side = widgets.PHOTO_SIZE - 2
    assert explorer.output.shape == (side // 2, side // 2)
    assert explorer.output.max() == explorer.input.max()  # max pooling keeps the maximum


# -------------------------------------------------------------------------- softmax


def test_softmax_explorer_probabilities_sum_to_one_and_follow_the_logits():
    explorer = widgets.softmax_explorer(class_names=["cat", "dog", "cup"])
    np.testing.assert_allclose(explorer.probabilities, ops.softmax(np.array([2.0, 1.0, 0.1])))
    assert explorer.probabilities.sum() == pytest.approx(1)
    assert "sum of the probabilities = 1.000000" in explorer.text
    explorer.logit_sliders[2].value = 4.0
    np.testing.assert_allclose(explorer.probabilities, ops.softmax(np.array([2.0, 1.0, 4.0])))
    assert explorer.probabilities.argmax() == 2
    assert f"probability {explorer.probabilities[2]:.4f}" in explorer.text


def test_softmax_explorer_temperature_flattens_or_sharpens():
    explorer = widgets.softmax_explorer()
    base = explorer.probabilities.copy()
    explorer.temperature.value = 5.0
    np.testing.assert_allclose(explorer.probabilities, ops.softmax(explorer.logits / 5.0))
    assert explorer.probabilities.max() < base.max()
    assert explorer.probabilities.sum() == pytest.approx(1)
    explorer.temperature.value = 0.2
    assert explorer.probabilities.max() > base.max()


def test_softmax_explorer_has_no_i_dont_know():
    explorer = widgets.softmax_explorer((1.0, -2.0, 0.5, 3.0))
    explorer.equal_button.click()
    np.testing.assert_allclose(explorer.probabilities, np.full(4, 0.25))
    assert "no 'I don't know'" in explorer.text
    with pytest.raises(ValueError, match="softmax_explorer: logits must hold 2 to 10"):
        widgets.softmax_explorer((1.0,))
    with pytest.raises(
        ValueError,
        match=r"softmax_explorer: temperature must be a finite positive number, got 0\.0",
    ):
        widgets.softmax_explorer(temperature=0)


# ----------------------------------------------------------------- gradient descent


def test_gradient_descent_explorer_runs_sgd_on_the_line_templates():
    explorer = widgets.gradient_descent_explorer(lr=0.5, steps=3, n_images=40, rng=1)
    images, labels = data.make_line_images(40, rng=1, positive_fraction=0.5)
    np.testing.assert_array_equal(explorer.images, images)
    template = explorer.start
    for _ in range(3):
        grad = templates.template_loss_gradient(template, images, labels)
        template = templates.sgd_step(template, grad, 0.5)
    np.testing.assert_allclose(explorer.template, template)
    assert explorer.losses.shape == (4,)
    assert explorer.losses[-1] == pytest.approx(templates.template_loss(template, images, labels))


def test_gradient_descent_explorer_loss_falls_with_more_steps():
    explorer = widgets.gradient_descent_explorer(steps=5)
    early = explorer.losses[-1]
    explorer.step_button.click()
    assert explorer.losses.shape == (7,) and explorer.losses[-1] < early
    explorer.steps.value = 200
    assert explorer.losses[-1] < early / 2
    assert np.all(np.diff(explorer.losses) <= 0)
    assert f"step 200: loss {explorer.losses[-1]:.4g}" in explorer.text
    # the learned template resembles the oracle's: its middle column stands out
    columns = explorer.template.mean(axis=0)
    assert columns[1] > columns[0] + 0.5 and columns[1] > columns[2] + 0.5
    assert explorer.accuracy > 0.85
    explorer.reset_button.click()
    np.testing.assert_array_equal(explorer.template, explorer.start)


def test_gradient_descent_explorer_says_when_the_learning_rate_is_too_large():
    explorer = widgets.gradient_descent_explorer(lr=8.0, steps=40)
    assert explorer.losses[-1] > 1e6
    assert "too large" in explorer.text
    explorer.lr.value = 0.5
    assert "too large" not in explorer.text
