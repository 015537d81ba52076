"""cnnlab.viz draws what it says, where it says, with colour-blind-safe colours.

Everything is checked headlessly (Agg) on the returned figure or axes: the
number of panels, the numbers written in the cells, where the highlighted
window is, which colour map and norm were used, and the errors on bad input.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import CenteredNorm, to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnlab import ops, viz

#: Perceptually ordered maps readable with colour-vision deficiencies (the
#: single-hue Reds/Greens/Blues only for the RGB channels, where the hue is the
#: point, and Reds for the mistakes of a confusion matrix).
ALLOWED_CMAPS = {"viridis", "cividis", "gray", "gray_r", "RdBu_r", "Reds", "Greens", "Blues"}

RNG = np.random.default_rng(7)
IMAGE = RNG.random((7, 6))  # non-square, odd
SIGNED = RNG.standard_normal((5, 4))
SOBEL = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def texts(ax):
    return [t.get_text() for t in ax.texts]


def highlights(ax):
    """The outlined windows/cells of an axes, in the order they were drawn."""
    orange = to_rgba(viz.HIGHLIGHT)
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_edgecolor() == orange]


def window_of(rect):
    """``(top, left, height, width)`` in cells of an outline drawn by viz."""
    x, y = rect.get_xy()
    return (y + 0.5, x + 0.5, rect.get_height(), rect.get_width())


def cmap_names(fig):
    return {image.get_cmap().name for ax in fig.axes for image in ax.get_images()}


# ------------------------------------------------------------------------ show_matrix


def test_show_matrix_writes_every_value_in_reading_order():
    ax = viz.show_matrix(np.arange(9).reshape(3, 3), title="pixels")
    assert isinstance(ax, Axes)
    assert texts(ax) == [str(v) for v in range(9)]
    positions = [t.get_position() for t in ax.texts]
    assert positions[:4] == [(0, 0), (1, 0), (2, 0), (0, 1)]  # (x = column, y = row)
    assert ax.get_title() == "pixels"


def test_show_matrix_formats_floats_and_honours_fmt():
    a = np.array([[0.5, 1.0], [0.25, -0.125]])
    assert texts(viz.show_matrix(a)) == ["0.5", "1", "0.25", "-0.12"]
    assert texts(viz.show_matrix(a, fmt=".3f")) == ["0.500", "1.000", "0.250", "-0.125"]
    assert texts(viz.show_matrix(a, values=False)) == []


def test_show_matrix_leaves_nan_cells_blank():
    a = np.arange(6.0).reshape(2, 3)
    a[1, 1:] = np.nan
    assert texts(viz.show_matrix(a)) == ["0", "1", "2", "3"]


def test_show_matrix_skips_values_of_a_big_image_unless_asked():
    big = RNG.random((20, 20))
    assert texts(viz.show_matrix(big)) == []
    assert len(texts(viz.show_matrix(big, values=True))) == 400


def test_show_matrix_uses_a_diverging_map_centred_on_zero_for_signed_values():
    image = viz.show_matrix(SIGNED).get_images()[0]
    assert image.get_cmap().name == viz.DIVERGING
    assert isinstance(image.norm, CenteredNorm)
    assert image.norm.vcenter == 0
    assert image.norm.vmin == pytest.approx(-np.abs(SIGNED).max())
    assert image.norm.vmax == pytest.approx(np.abs(SIGNED).max())


def test_show_matrix_uses_viridis_on_the_data_range_for_unsigned_values():
    image = viz.show_matrix(IMAGE).get_images()[0]
    assert image.get_cmap().name == viz.SEQUENTIAL
    assert (image.norm.vmin, image.norm.vmax) == (IMAGE.min(), IMAGE.max())


def test_show_matrix_picks_the_text_colour_for_contrast():
    ax = viz.show_matrix(np.arange(9).reshape(3, 3))  # viridis: 0 dark purple, 8 yellow
    colours = [t.get_color() for t in ax.texts]
    assert colours[0] == "white" and colours[8] == "black"


def test_show_matrix_draws_into_a_given_axes_and_a_colour_image_in_colour():
    _, ax = plt.subplots()
    photo = RNG.integers(0, 256, size=(4, 5, 3)).astype(np.uint8)
    assert viz.show_matrix(photo, ax=ax) is ax
    assert ax.get_images()[0].get_array().shape == (4, 5, 3)
    assert texts(ax) == []


def test_cell_font_follows_the_cell_size_when_drawn():
    ax = viz.show_matrix(np.arange(4).reshape(2, 2))
    ax.figure.canvas.draw()
    small = viz.show_matrix(np.arange(144).reshape(12, 12))
    small.figure.canvas.draw()
    assert ax.texts[0].get_fontsize() > small.texts[0].get_fontsize() >= 4


# --------------------------------------------------------------- images and channels


def test_show_backprop_draws_each_array_its_gradient_and_the_weights():
    """Lesson 8's picture: arrays above, gradients below, weights feeding their operation."""
    ax = viz.show_backprop(
        ["x", "z", "f", "L"],
        [(2, 1, 4, 4), (2, 3, 2, 2), (2, 12)],
        ["conv2d", "flatten", "cross_entropy"],
        weights={0: {"weight": (3, 1, 3, 3), "bias": (3,)}},
    )
    texts = [t.get_text() for t in ax.texts]
    assert texts[:8] == [
        "x\n(2, 1, 4, 4)", "dx\n(2, 1, 4, 4)", "z\n(2, 3, 2, 2)", "dz\n(2, 3, 2, 2)",
        "f\n(2, 12)", "df\n(2, 12)", "L\n(a number)", "dL/dL = 1",
    ]  # fmt: skip
    assert "reshape" in texts and texts.count("conv2d") == 2  # forward and backward
    assert "weight (3, 1, 3, 3)\nbias (3,)" in texts
    assert "dweight (3, 1, 3, 3)\ndbias (3,)" in texts
    assert texts[-2:] == ["forward", "backward"]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((["x", "L"], [(2,)], ["dense", "relu"]), {}, ValueError,
         r"give K \+ 1 names .*got 2 names, 1 shapes, 2 operations"),
        (("x L", [(2,)], ["dense"]), {}, TypeError, r"names must be a list, got the string"),
        ((["x", 1], [(2,)], ["dense"]), {}, TypeError, r"names must be a list of strings"),
        ((["x", "L"], [(2,)], ["dense"]), {"weights": {1: {}}}, TypeError, r"weights must map an "
         r"operation's index \(0 to 0\)"),
    ],
)  # fmt: skip
def test_show_backprop_rejects_chains_that_do_not_add_up(args, kwargs, error, message):
    with pytest.raises(error, match="^show_backprop: " + message):
        viz.show_backprop(*args, **kwargs)


def test_show_channels_draws_the_photo_and_each_channel():
    photo = RNG.integers(0, 256, size=(6, 5, 3)).astype(np.uint8)
    fig = viz.show_channels(photo)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    for c, ax in enumerate(fig.axes[1:]):
        image = ax.get_images()[0]
        np.testing.assert_array_equal(image.get_array(), photo[..., c])
        assert image.norm.vmax == 255
    assert [ax.get_title().split()[0] for ax in fig.axes] == ["photo,", "red", "green", "blue"]
    assert cmap_names(fig) - {None} <= ALLOWED_CMAPS


def test_compare_images_puts_one_titled_panel_per_image():
    fig = viz.compare_images([IMAGE, SIGNED, IMAGE[..., None].repeat(3, 2)], ["a", "b", "c"])
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    assert isinstance(fig.axes[1].get_images()[0].norm, CenteredNorm)
    assert cmap_names(fig) - {None} <= ALLOWED_CMAPS


def test_show_template_match_shows_products_and_the_verdict():
    line = np.zeros((3, 3))
    line[:, 1] = 1
    image = line.copy()
    image[0, 0] = 1
    fig = viz.show_template_match(image, line)
    assert len(fig.axes) == 4
    assert texts(fig.axes[2]) == ["0", "1", "0"] * 3
    verdict = texts(fig.axes[3])[0]
    assert "sum = 3" in verdict and "\nmatch" in verdict
    image[2, 1] = 0
    fig = viz.show_template_match(image, line)
    assert "sum = 2" in texts(fig.axes[3])[0] and "no match" in texts(fig.axes[3])[0]


# --------------------------------------------------------------------- convolution


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (2, 1), ((1, 2), (2, 0))])
def test_convolution_step_matches_correlate2d(stride, padding):
    kernel = RNG.standard_normal((3, 2))
    full = ops.correlate2d(IMAGE, kernel, stride=stride, padding=padding)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    padded = np.pad(IMAGE, [(ph, ph), (pw, pw)])
    for row, col in [(0, 0), (full.shape[0] - 1, 1), (1, full.shape[1] - 1)]:
        step = viz.convolution_step(IMAGE, kernel, row, col, stride=stride, padding=padding)
        window = padded[row * sh : row * sh + 3, col * sw : col * sw + 2]
        np.testing.assert_array_equal(step.window, window)
        np.testing.assert_allclose(step.products, window * kernel)
        assert step.value == pytest.approx(full[row, col])
        np.testing.assert_allclose(step.output, full)
        done = row * full.shape[1] + col + 1
        assert np.isfinite(step.partial).ravel().tolist() == [True] * done + [False] * (
            full.size - done
        )


def test_show_convolution_step_highlights_the_window_and_the_output_cell():
    kernel = np.arange(9.0).reshape(3, 3) - 4
    fig = viz.show_convolution_step(IMAGE, kernel, 1, 2, stride=2, padding=1)
    assert isinstance(fig, Figure) and len(fig.axes) == 5
    inp, _, kern, products, out = fig.axes
    # the window starts at (row * stride, col * stride) of the padded input
    assert [window_of(r) for r in highlights(inp)] == [(2, 4, 3, 3)]
    assert [window_of(r) for r in highlights(out)] == [(1, 2, 1, 1)]
    padded = np.pad(IMAGE, 1)
    expected = padded[2:5, 4:7] * kernel
    assert texts(products) == [f"{v:.2f}".rstrip("0").rstrip(".") for v in expected.ravel()]
    assert texts(kern) == [str(int(v)) for v in kernel.ravel()]
    full = ops.correlate2d(IMAGE, kernel, stride=2, padding=1)
    shown = out.get_images()[0].get_array()
    assert shown.shape == full.shape == (4, 3)
    assert shown.mask.ravel().tolist() == [False] * 6 + [True] * 6  # cells after (1, 2) blank
    np.testing.assert_allclose(shown.compressed(), full.ravel()[:6])
    assert isinstance(out.get_images()[0].norm, CenteredNorm)
    assert f"{full[1, 2]:.3g}" in out.get_title()
    assert cmap_names(fig) <= ALLOWED_CMAPS


def test_show_convolution_step_redraws_into_a_given_figure():
    fig = plt.figure()
    fig.add_subplot()
    same = viz.show_convolution_step(IMAGE, SOBEL, 0, 0, fig=fig)
    assert same is fig and len(fig.axes) == 5


def test_show_kernels_draws_one_panel_per_filter_on_one_centred_scale():
    weight = RNG.standard_normal((5, 2, 3, 3))
    fig = viz.show_kernels(weight, channel=1)
    assert len(fig.axes) == 5
    assert [ax.get_title() for ax in fig.axes] == [f"filter {f}" for f in range(5)]
    assert "input channel 1 of 2" in fig.get_suptitle()
    images = [ax.get_images()[0] for ax in fig.axes]
    np.testing.assert_array_equal(images[3].get_array(), weight[3, 1])
    assert all(isinstance(im.norm, CenteredNorm) and im.norm.vcenter == 0 for im in images)
    assert len({im.norm.vmax for im in images}) == 1  # shared scale
    fig = viz.show_kernels(weight, channel="mean")
    np.testing.assert_allclose(fig.axes[0].get_images()[0].get_array(), weight[0].mean(0))
    assert "mean" in fig.get_suptitle()


def test_show_feature_maps_draws_the_maps_of_one_example():
    maps = np.maximum(RNG.standard_normal((2, 11, 5, 4)), 0)
    fig = viz.show_feature_maps(maps, index=1)
    assert len(fig.axes) == 11
    np.testing.assert_array_equal(fig.axes[10].get_images()[0].get_array(), maps[1, 10])
    assert cmap_names(fig) == {viz.SEQUENTIAL}
    assert len(viz.show_feature_maps(maps[0], max_maps=4).axes) == 4


# ------------------------------------------------------------------------- pooling


@pytest.mark.parametrize(("mode", "pool"), [("max", ops.max_pool2d), ("avg", ops.avg_pool2d)])
def test_show_pooling_outlines_the_window_and_shows_the_pooled_map(mode, pool):
    x = RNG.random((7, 9))
    fig = viz.show_pooling(x, kernel_size=3, stride=2, mode=mode, row=1, col=2)
    assert len(fig.axes) == 2
    inp, out = fig.axes
    np.testing.assert_allclose(out.get_images()[0].get_array(), pool(x[None, None], 3, 2)[0, 0])
    assert window_of(highlights(inp)[0]) == (2, 4, 3, 3)
    assert [window_of(r) for r in highlights(out)] == [(1, 2, 1, 1)]
    assert f"3 {viz.TIMES} 4" in out.get_title()  # (7 - 3) // 2 + 1 by (9 - 3) // 2 + 1


# ---------------------------------------------------------------------- prediction


def test_show_probabilities_highlights_the_most_probable_class():
    probs = ops.softmax(np.array([0.5, 2.0, -1.0, 0.1]))
    ax = viz.show_probabilities(probs, ["cat", "dog", "cup", "car"])
    assert isinstance(ax, Axes)
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, probs)
    colours = [bar.get_facecolor() for bar in ax.patches]
    assert colours[1] == to_rgba(viz.ACCENT)
    assert all(c == to_rgba(viz.MUTED) for k, c in enumerate(colours) if k != 1)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "cup", "car"]
    assert "dog" in ax.get_title()


def test_plot_history_draws_loss_and_accuracy_for_both_splits():
    history = {
        "train_loss": [2.0, 1.0, 0.5],
        "train_accuracy": [0.4, 0.7, 0.9],
        "val_loss": [2.1, 1.3, 0.9],
        "val_accuracy": [0.35, 0.6, 0.8],
    }
    fig = viz.plot_history(history)
    loss, accuracy = fig.axes
    assert [len(loss.lines), len(accuracy.lines)] == [2, 2]
    np.testing.assert_array_equal(loss.lines[1].get_ydata(), history["val_loss"])
    np.testing.assert_array_equal(accuracy.lines[0].get_xdata(), [1, 2, 3])


def test_plot_history_accepts_a_missing_validation_split():
    fig = viz.plot_history({"train_loss": [1.0, 0.5], "train_accuracy": [0.5, 0.8], "val_loss": []})
    assert [len(ax.lines) for ax in fig.axes] == [1, 1]


def test_show_confusion_matrix_counts_each_pair_of_classes():
    y_true = np.array([0, 0, 1, 2, 2, 2, 1, 0])
    y_pred = np.array([0, 1, 1, 2, 0, 2, 1, 0])
    ax = viz.show_confusion_matrix(y_true, y_pred, ["a", "b", "c"])
    counts = np.zeros((3, 3), dtype=int)
    for t, p in zip(y_true, y_pred, strict=True):
        counts[t, p] += 1
    assert texts(ax) == [str(c) for c in counts.ravel()]
    assert ax.get_images()[0].get_cmap().name in ALLOWED_CMAPS
    assert "75.0%" in ax.get_title()


def test_show_misclassified_titles_each_mistake():
    images = RNG.random((6, 1, 8, 8))
    y_true = np.array([3, 8, 1, 1, 5, 0])
    y_pred = np.array([3, 3, 1, 7, 6, 0])
    fig = viz.show_misclassified(images, y_true, y_pred)
    assert [ax.get_title() for ax in fig.axes] == [
        "pred 3 / true 8",
        "pred 7 / true 1",
        "pred 6 / true 5",
    ]
    np.testing.assert_array_equal(fig.axes[1].get_images()[0].get_array(), images[3, 0])
    assert len(viz.show_misclassified(images, y_true, y_pred, max_images=2).axes) == 2
    none = viz.show_misclassified(images, y_true, y_true)
    assert "no misclassified" in texts(none.axes[0])[0]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: viz.show_matrix(np.arange(3.0)), ValueError, r"show_matrix: a must have 2 or 3"),
        (lambda: viz.show_matrix("pixels"), TypeError, r"show_matrix: a must be a numpy array"),
        (lambda: viz.show_matrix(np.zeros((2, 2, 5))), ValueError, r"show_matrix: a must be"),
        (lambda: viz.show_matrix(IMAGE, ax="left"), TypeError, r"show_matrix: ax must be"),
        (lambda: viz.show_channels(np.zeros((3, 8, 8))), ValueError, r"show_channels:.*chw_to_hwc"),
        (lambda: viz.compare_images([IMAGE], ["a", "b"]), ValueError, r"compare_images: titles"),
        (lambda: viz.compare_images([], None), ValueError, r"compare_images: images"),
        (lambda: viz.show_template_match(IMAGE, SOBEL), ValueError, r"show_template_match:"),
        (
            lambda: viz.show_convolution_step(IMAGE, SOBEL, 5, 0),
            ValueError,
            r"show_convolution_step: \(row, col\) must be a cell of the output, of shape \(5, 4\)",
        ),
        (
            lambda: viz.show_convolution_step(IMAGE, np.ones((9, 3)), 0, 0),
            ValueError,
            r"show_convolution_step: kernel of shape \(9, 3\) does not fit",
        ),
        (
            lambda: viz.show_convolution_step(IMAGE, SOBEL, 0, 0, stride=0),
            ValueError,
            r"show_convolution_step: stride",
        ),
        (lambda: viz.show_kernels(SOBEL), ValueError, r"show_kernels: weight must have 4"),
        (
            lambda: viz.show_kernels(np.ones((2, 1, 3, 3)), channel=1),
            ValueError,
            r"show_kernels: channel must be below the 1 input channels",
        ),
        (lambda: viz.show_feature_maps(IMAGE), ValueError, r"show_feature_maps: maps must have"),
        (
            lambda: viz.show_feature_maps(np.ones((2, 1, 3, 3)), index=2),
            ValueError,
            r"show_feature_maps: index",
        ),
        (lambda: viz.show_pooling(IMAGE, mode="min"), ValueError, r"show_pooling: mode"),
        (lambda: viz.show_pooling(IMAGE, kernel_size=8), ValueError, r"show_pooling: kernel_size"),
        (
            lambda: viz.show_probabilities(np.array([2.0, -1.0])),
            ValueError,
            r"show_probabilities: probs must lie in \[0, 1\].*softmax",
        ),
        (
            lambda: viz.show_probabilities(np.array([0.5, 0.5]), ["a"]),
            ValueError,
            r"show_probabilities: class_names must have 2 entries",
        ),
        (lambda: viz.plot_history({"val_loss": [1.0]}), ValueError, r"plot_history:.*train_loss"),
        (lambda: viz.plot_history([1.0, 0.5]), TypeError, r"plot_history: history must be a dict"),
        (
            lambda: viz.show_confusion_matrix([0, 1], [1]),
            ValueError,
            r"show_confusion_matrix: y_true and y_pred",
        ),
        (
            lambda: viz.show_confusion_matrix([0, 2.5], [1, 0]),
            ValueError,
            r"show_confusion_matrix: y_true must be whole class indices, got non-integer values",
        ),
        (
            lambda: viz.show_confusion_matrix([0, 1], [[1, 0]]),
            ValueError,
            r"show_confusion_matrix: y_pred must have shape \(N,\), one dimension, got shape",
        ),
        (
            lambda: viz.show_confusion_matrix([0, -1], [1, 0]),
            ValueError,
            r"show_confusion_matrix: y_true must be class indices >= 0, got -1",
        ),
        (
            lambda: viz.show_misclassified(np.ones((3, 2, 4, 4)), [0] * 3, [0] * 3),
            ValueError,
            r"show_misclassified: images must have one channel",
        ),
        (
            lambda: viz.show_misclassified(np.ones((3, 4, 4)), [0] * 3, [0] * 2),
            ValueError,
            r"show_misclassified: images, y_true and y_pred must have the same length",
        ),
    ],
)
def test_bad_input_raises_an_error_naming_the_function(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_every_colour_map_is_colour_blind_safe():
    photo = RNG.integers(0, 256, size=(6, 6, 3)).astype(np.uint8)
    figures = [
        viz.show_matrix(SIGNED).figure,
        viz.show_matrix(IMAGE).figure,
        viz.show_channels(photo),
        viz.compare_images([IMAGE, SIGNED]),
        viz.show_convolution_step(IMAGE, SOBEL, 1, 1),
        viz.show_kernels(RNG.standard_normal((3, 1, 3, 3))),
        viz.show_feature_maps(RNG.standard_normal((3, 4, 4))),
        viz.show_pooling(IMAGE),
        viz.show_confusion_matrix([0, 1, 1], [0, 1, 0]).figure,
        viz.show_misclassified(RNG.random((2, 4, 4)), [0, 1], [1, 1]),
    ]
    for fig in figures:
        assert cmap_names(fig) - {None} <= ALLOWED_CMAPS


# ------------------------------------------------------------- colour ranges


def test_a_binary_matrix_is_drawn_on_zero_to_one_even_when_constant():
    """An all-ones binary image must look "on", not mid-scale."""
    image = viz.show_matrix(np.ones((3, 3))).images[0]
    assert (image.norm.vmin, image.norm.vmax) == (0.0, 1.0)


def test_show_matrix_takes_a_fixed_colour_range():
    image = viz.show_matrix(np.array([[0.2, 0.4], [0.5, 0.6]]), vmin=0, vmax=1).images[0]
    assert (image.norm.vmin, image.norm.vmax) == (0.0, 1.0)
    with pytest.raises(ValueError, match="vmin must be below vmax"):
        viz.show_matrix(np.eye(2) * 0.5, vmin=1, vmax=0)


def test_compare_images_can_share_one_colour_range():
    fig = viz.compare_images([np.full((4, 4), 0.2), np.full((4, 4), 0.8)], vmin=0, vmax=1)
    assert [(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in fig.axes] == [(0, 1)] * 2


def test_feature_maps_can_each_have_their_own_scale():
    maps = np.stack([np.linspace(0, 1, 16).reshape(4, 4), np.linspace(0, 100, 16).reshape(4, 4)])
    shared = viz.show_feature_maps(maps)
    own = viz.show_feature_maps(maps, shared_scale=False)
    assert shared.axes[0].images[0].norm.vmax == 100
    assert own.axes[0].images[0].norm.vmax == 1 and own.axes[1].images[0].norm.vmax == 100


# ------------------------------------------------------------------ conventions


def test_every_kernel_is_drawn_centred_on_zero_even_without_negatives():
    blur = np.full((3, 3), 1 / 9)
    template = np.zeros((3, 3))
    template[:, 1] = 1
    for ax in (
        viz.show_matrix(blur, centred=True),
        viz.show_kernels(template[None, None]).axes[0],
        viz.show_template_match(template, template).axes[1],
        viz.show_convolution_step(IMAGE, template, 0, 0).axes[2],
        viz.compare_images([IMAGE, blur], centred=[False, True]).axes[1],
    ):
        norm = ax.get_images()[0].norm
        assert isinstance(norm, CenteredNorm) and norm.vcenter == 0, ax.get_title()
        assert ax.get_images()[0].get_cmap().name == viz.DIVERGING
    assert not isinstance(viz.show_matrix(blur).get_images()[0].norm, CenteredNorm)


def test_a_relu_map_starts_at_zero_on_viridis():
    maps = np.maximum(RNG.standard_normal((3, 4, 5)), 0) + 0.5  # no cell is 0
    for ax in viz.show_feature_maps(maps).axes:
        image = ax.get_images()[0]
        assert image.get_cmap().name == viz.SEQUENTIAL and image.norm.vmin == 0


def test_figures_are_opaque_whatever_the_default_background():
    """JupyterLab's dark theme shows through a transparent figure: black text on black."""
    import io

    with matplotlib.rc_context({"figure.facecolor": (1, 1, 1, 0)}):
        for fig in (viz.show_matrix(IMAGE).figure, viz.compare_images([IMAGE])):
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png")
            corner = plt.imread(io.BytesIO(buffer.getvalue()))[0, 0]
            assert corner[3] == 1.0 and corner[:3].min() == 1.0  # opaque white


def test_probability_labels_stand_upright_when_the_bars_are_narrow():
    probs = np.full(10, 0.1)
    fig, (narrow, wide) = plt.subplots(1, 2, figsize=(8, 3), width_ratios=[1, 6])
    viz.show_probabilities(probs, ax=narrow)
    viz.show_probabilities(probs, ax=wide)
    fig.canvas.draw()
    assert {t.get_rotation() for t in narrow.texts} == {90}
    assert {t.get_rotation() for t in wide.texts} == {0}
    assert [t.get_text() for t in wide.texts] == ["0.10"] * 10


def test_a_single_mistake_stands_out_in_the_confusion_matrix():
    y_true = np.repeat(np.arange(3), 45)
    y_pred = y_true.copy()
    y_pred[0] = 2  # one 0 read as 2
    ax = viz.show_confusion_matrix(y_true, y_pred)
    shown = ax.get_images()[0]
    mistake = shown.cmap(shown.norm(shown.get_array()[0, 2]))
    assert shown.get_array().mask.sum() == 8  # everything but the mistake is not coloured
    assert mistake[1] < 0.8  # clearly red, not the near-white of the bottom of the scale
    assert "1 mistake in red" in ax.get_title()
