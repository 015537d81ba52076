"""cnnlab.perturb: shifted, inverted, noisy and blank images, and confident mistakes.

Hand-checkable values first; then :func:`shift` against a pixel-by-pixel loop
over every shift of a non-square batch; the laws each function obeys; inputs
never modified; and clear errors for bad arguments.
"""

import numpy as np
import pytest

from cnnlab.perturb import add_noise, blank_like, confident_mistakes, invert, shift

# A 3 x 4 image whose pixels are numbered 1 to 12, row by row: easy to follow by hand.
GRID = np.arange(1.0, 13.0).reshape(1, 1, 3, 4)


def loop_shift(images, dy, dx):
    """The oracle: out[..., i, j] = images[..., i - dy, j - dx] where that pixel exists."""
    out = np.zeros_like(images)
    height, width = images.shape[-2:]
    for i in range(height):
        for j in range(width):
            if 0 <= i - dy < height and 0 <= j - dx < width:
                out[..., i, j] = images[..., i - dy, j - dx]
    return out


# -------------------------------------------------------------------------- shift


def test_shift_moves_down_and_right_for_positive_values():
    np.testing.assert_array_equal(
        shift(GRID, 1, 2)[0, 0],
        [[0, 0, 0, 0], [0, 0, 1, 2], [0, 0, 5, 6]],
    )


def test_shift_moves_up_and_left_for_negative_values():
    np.testing.assert_array_equal(
        shift(GRID, -1, -1)[0, 0],
        [[6, 7, 8, 0], [10, 11, 12, 0], [0, 0, 0, 0]],
    )


def test_shift_by_zero_is_a_copy():
    out = shift(GRID, 0, 0)
    np.testing.assert_array_equal(out, GRID)
    assert out is not GRID and not np.shares_memory(out, GRID)


@pytest.mark.parametrize(("dy", "dx"), [(3, 0), (0, 4), (-3, 1), (2, -7), (50, 50)])
def test_a_shift_as_large_as_the_image_leaves_nothing(dy, dx):
    np.testing.assert_array_equal(shift(GRID, dy, dx), np.zeros_like(GRID))


def test_shift_never_wraps_around():
    # np.roll would bring the last column back on the left: shift fills it with 0.
    out = shift(GRID, 0, 1)[0, 0]
    np.testing.assert_array_equal(out[:, 0], [0, 0, 0])
    assert not np.array_equal(out, np.roll(GRID, 1, axis=3)[0, 0])


def test_shift_matches_the_loop_for_every_shift_of_a_batch():
    images = np.random.default_rng(7).random((2, 3, 5, 7))
    for dy in range(-6, 7):
        for dx in range(-8, 9):
            np.testing.assert_array_equal(shift(images, dy, dx), loop_shift(images, dy, dx))


def test_shift_moves_only_the_last_two_axes_of_any_shape():
    image = GRID[0, 0]
    np.testing.assert_array_equal(shift(image, 1, 2), shift(GRID, 1, 2)[0, 0])
    batch = np.random.default_rng(1).random((2, 4, 5))
    np.testing.assert_array_equal(shift(batch, -2, 1), loop_shift(batch, -2, 1))


def test_shifting_there_and_back_keeps_the_middle_and_loses_the_border():
    images = np.random.default_rng(2).random((3, 1, 6, 5))
    back = shift(shift(images, 2, -1), -2, 1)
    np.testing.assert_array_equal(back[..., :4, 1:], images[..., :4, 1:])
    np.testing.assert_array_equal(back[..., 4:, :], 0)
    np.testing.assert_array_equal(back[..., :, :1], 0)


def test_shift_keeps_float32_and_computes_integers_in_float64():
    assert shift(GRID.astype(np.float32), 1, 1).dtype == np.float32
    out = shift(np.arange(12).reshape(3, 4), 1, 0)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[0, 0, 0, 0], [0, 1, 2, 3], [4, 5, 6, 7]])


# ------------------------------------------------------------ invert, noise, blank


def test_invert_swaps_black_and_white():
    image = np.array([[0.0, 0.25], [1.0, 0.5]], dtype=np.float32)
    out = invert(image)
    np.testing.assert_array_equal(out, [[1.0, 0.75], [0.0, 0.5]])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(invert(out), image)


def test_add_noise_is_seeded_clipped_and_keeps_the_dtype():
    images = np.full((2, 1, 4, 3), 0.5, dtype=np.float32)
    a, b = add_noise(images, 0.3, rng=4), add_noise(images, 0.3, rng=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, add_noise(images, 0.3, rng=5))
    assert a.dtype == np.float32 and a.shape == images.shape
    loud = add_noise(images, 10.0)
    assert loud.min() == 0.0 and loud.max() == 1.0  # clipped to [0, 1]


def test_add_noise_rng_is_a_seed_or_a_generator_that_moves_on():
    images = np.full((2, 1, 4, 3), 0.5)
    generator = np.random.default_rng(4)
    first = add_noise(images, 0.3, rng=generator)
    np.testing.assert_array_equal(first, add_noise(images, 0.3, rng=4))
    assert not np.array_equal(add_noise(images, 0.3, rng=generator), first)  # drawn on
    np.testing.assert_array_equal(add_noise(images, 0.3, rng=None), add_noise(images, 0.3))


def test_add_noise_has_the_requested_spread():
    images = np.full((1, 1, 200, 200), 0.5)
    noise = add_noise(images, 0.1, rng=0) - images
    assert abs(noise.mean()) < 0.005
    assert noise.std() == pytest.approx(0.1, rel=0.02)


def test_add_noise_with_zero_std_returns_a_copy():
    images = np.random.default_rng(3).random((2, 2, 3))
    out = add_noise(images, 0)
    np.testing.assert_array_equal(out, images)
    assert not np.shares_memory(out, images)


def test_blank_like_has_the_shape_and_dtype_and_nothing_else():
    images = np.random.default_rng(4).random((3, 1, 8, 8)).astype(np.float32)
    blank = blank_like(images)
    assert blank.shape == images.shape and blank.dtype == np.float32
    assert not np.any(blank)
    np.testing.assert_array_equal(blank_like(images, value=0.5), np.full(images.shape, 0.5))
    assert blank_like(np.zeros((2, 2), dtype=np.uint8)).dtype == np.float64


# ---------------------------------------------------------------- confident_mistakes

# Four examples, three classes:
#   0: predicts 0 with 0.80, true 0  -> right
#   1: predicts 1 with 0.85, true 2  -> wrong and sure
#   2: predicts 0 with 0.50, true 1  -> wrong but unsure
#   3: predicts 0 with 0.75, true 1  -> wrong, exactly at a threshold of 0.75
PROBS = np.array(
    [
        [0.80, 0.10, 0.10],
        [0.10, 0.85, 0.05],
        [0.50, 0.30, 0.20],
        [0.75, 0.25, 0.00],
    ]
)
LABELS = np.array([0, 2, 1, 1])


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [(0.75, [1, 3]), (0.8, [1]), (0.9, []), (0.5, [1, 2, 3]), (0.0, [1, 2, 3])],
)
def test_confident_mistakes_by_hand(threshold, expected):
    out = confident_mistakes(PROBS, LABELS, threshold=threshold)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.int64 and out.ndim == 1


def test_the_default_threshold_is_0_9_and_counts_a_tie():
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.89, 0.11]])
    np.testing.assert_array_equal(confident_mistakes(probs, np.array([1, 1, 1])), [0])


def test_confident_mistakes_are_in_increasing_order_not_by_confidence():
    probs = np.array([[0.1, 0.9], [0.02, 0.98], [0.05, 0.95]])
    np.testing.assert_array_equal(confident_mistakes(probs, np.array([0, 0, 0])), [0, 1, 2])


def test_no_mistake_gives_an_empty_int_array():
    out = confident_mistakes(PROBS[:1], LABELS[:1])
    assert out.shape == (0,) and out.dtype == np.int64


# ----------------------------------------------------------------- inputs unchanged


@pytest.mark.parametrize(
    "call",
    [
        lambda x: shift(x, 1, -2),
        invert,
        lambda x: add_noise(x, 0.2),
        blank_like,
    ],
    ids=["shift", "invert", "add_noise", "blank_like"],
)
def test_the_input_images_are_never_modified(call):
    images = np.random.default_rng(5).random((2, 1, 4, 5))
    before = images.copy()
    out = call(images)
    np.testing.assert_array_equal(images, before)
    assert not np.shares_memory(out, images)


def test_confident_mistakes_accepts_whole_float_labels_as_every_labels_argument_does():
    expected = confident_mistakes(PROBS, LABELS, 0.75)
    np.testing.assert_array_equal(confident_mistakes(PROBS, LABELS.astype(float), 0.75), expected)


def test_confident_mistakes_leaves_its_inputs_alone():
    probs, labels = PROBS.copy(), LABELS.copy()
    confident_mistakes(probs, labels, 0.75)
    np.testing.assert_array_equal(probs, PROBS)
    np.testing.assert_array_equal(labels, LABELS)


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: shift(GRID, 1.5, 0), TypeError, r"shift: dy must be an int, got float 1\.5"),
        (lambda: shift(GRID, 0, True), TypeError, r"shift: dx must be an int.*got bool True"),
        (lambda: shift(np.zeros(5), 1, 1), ValueError, r"shift: images must have at least 2 dim"),
        (lambda: shift("image", 1, 1), TypeError, r"shift: images must be a numpy array"),
        (lambda: invert(GRID), ValueError, r"invert: images must be normalised to \[0, 1\], got"),
        (
            lambda: add_noise(GRID / 12, -0.1),
            ValueError,
            r"add_noise: std must be a finite non-negative number, got -0\.1",
        ),
        (lambda: add_noise(GRID / 12, "big"), TypeError, r"add_noise: std must be a number"),
        (lambda: add_noise(GRID / 12, 0.1, rng=-1), ValueError, r"add_noise: rng must be a"),
        (
            lambda: add_noise(GRID / 12, 0.1, rng=0.5),
            TypeError,
            r"add_noise: rng must be None, an int seed or a numpy\.random\.Generator, got float",
        ),
        (lambda: add_noise(GRID, 0.1), ValueError, r"add_noise: images must be normalised"),
        (
            lambda: blank_like(GRID, value=np.nan),
            ValueError,
            r"blank_like: value must be a finite number, got nan",
        ),
        (
            lambda: confident_mistakes(PROBS[0], LABELS),
            ValueError,
            r"confident_mistakes: probabilities must have 2 dimensions \(N, K\)",
        ),
        (
            lambda: confident_mistakes(PROBS * 10, LABELS),
            ValueError,
            r"probabilities must lie in \[0, 1\].*pass softmax\(logits\), not the logits",
        ),
        (
            lambda: confident_mistakes(PROBS, LABELS[:3]),
            ValueError,
            r"labels must have shape \(4,\), one class index per row of probabilities, "
            r"got shape \(3,\)",
        ),
        (
            lambda: confident_mistakes(PROBS, np.array([0, 1, 2, 3])),
            ValueError,
            r"labels must lie in \[0, 3\) for 3 classes, got \[3\]",
        ),
        (
            lambda: confident_mistakes(PROBS, LABELS + 0.5),
            ValueError,
            r"confident_mistakes: labels must be whole class indices, got non-integer values",
        ),
        (
            lambda: confident_mistakes(PROBS, LABELS, threshold=1.5),
            ValueError,
            r"threshold must be a finite number in \[0, 1\], got 1\.5",
        ),
    ],
)
def test_bad_arguments_get_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
