"""Tests of cnnlab.images: sample photos, grayscale, normalising, layouts, resizing."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from cnnlab.images import (
    LUMA_WEIGHTS,
    PHOTO_NAMES,
    chw_to_hwc,
    hwc_to_chw,
    load_photo,
    normalize,
    resize,
    to_grayscale,
)


def grayscale_oracle(image):
    """The luma formula written out pixel by pixel."""
    height, width, _ = image.shape
    out = np.zeros((height, width))
    for i in range(height):
        for j in range(width):
            r, g, b = (float(v) for v in image[i, j])
            out[i, j] = 0.299 * r + 0.587 * g + 0.114 * b
    return out


# ----------------------------------------------------------------------- load_photo


@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_load_photo_default_is_a_64_by_64_rgb_uint8_image(name):
    photo = load_photo(name)
    assert photo.shape == (64, 64, 3)
    assert photo.dtype == np.uint8
    assert photo.flags.writeable
    # a real photo, not a blank: many distinct values in every channel
    assert all(len(np.unique(photo[..., c])) > 50 for c in range(3))


def test_load_photo_default_name_is_the_coffee_cup():
    np.testing.assert_array_equal(load_photo(), load_photo("coffee", 64))


@pytest.mark.parametrize(
    ("name", "shape"), [("coffee", (400, 600, 3)), ("grace_hopper", (600, 512, 3))]
)
def test_load_photo_size_none_returns_the_whole_photo(name, shape):
    photo = load_photo(name, size=None)
    assert photo.shape == shape
    assert photo.dtype == np.uint8


def test_load_photo_crops_the_centred_square():
    full = load_photo("coffee", size=None)  # 400 x 600: 100 columns cut on each side
    np.testing.assert_array_equal(load_photo("coffee", size=400), full[:, 100:500])
    tall = load_photo("grace_hopper", size=None)  # 600 x 512: 44 rows cut on each side
    np.testing.assert_array_equal(load_photo("grace_hopper", size=512), tall[44:556])


def test_load_photo_resizing_keeps_the_average_colour():
    full = load_photo("coffee", size=None)[:, 100:500].reshape(-1, 3).mean(axis=0)
    small = load_photo("coffee", size=50).reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(small, full, atol=1.5)


def test_load_photo_odd_size():
    assert load_photo("grace_hopper", size=17).shape == (17, 17, 3)


# SHA-256 of the pixels, taken from scikit-image 0.26's skimage.data.coffee() (and of
# load_photo() at 64 x 64) while cnnlab still read the photo from there: the copy
# shipped in cnnlab/photos/ must give exactly the same pixels.
COFFEE_DIGESTS = {
    None: "0ce2b51640b9c95f19617f03eabf40c3f0368589cc1ee1190b70966165ac184f",
    64: "87cc7c514b02f447690af228f4b8b00ca9ab743cb4218c4e326b4610331b0afd",
}


@pytest.mark.parametrize("size", list(COFFEE_DIGESTS), ids=str)
def test_the_shipped_coffee_photo_has_scikit_images_pixels(size):
    photo = load_photo("coffee", size=size)
    assert photo.flags.c_contiguous
    assert hashlib.sha256(photo.tobytes()).hexdigest() == COFFEE_DIGESTS[size]


def test_loading_the_photo_imports_neither_scikit_image_nor_scikit_learn():
    code = (
        "import sys; from cnnlab import images, data, viz; images.load_photo(); "
        "print(sorted(m for m in ('skimage', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_load_photo_returns_a_fresh_copy_every_call():
    first = load_photo("coffee", size=None)
    kept = first.copy()
    first[:] = 0
    np.testing.assert_array_equal(load_photo("coffee", size=None), kept)
    small = load_photo("coffee")
    small[:] = 0
    assert load_photo("coffee").max() > 0


def test_load_photo_rejects_an_unknown_name_and_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"load_photo: unknown photo 'cat'.*coffee.*grace_hopper"):
        load_photo("cat")


def test_load_photo_rejects_a_name_that_is_not_a_string():
    with pytest.raises(TypeError, match=r"load_photo: name must be a string.*int 3"):
        load_photo(3)


@pytest.mark.parametrize(
    ("size", "error", "message"),
    [
        (0, ValueError, r"load_photo: size must be a positive int, got 0"),
        (-5, ValueError, r"load_photo: size must be a positive int, got -5"),
        (32.0, TypeError, r"load_photo: size must be a positive int, got float 32.0"),
        ((32, 32), TypeError, r"load_photo: size must be a positive int, got tuple"),
        (True, TypeError, r"load_photo: size must be a positive int, got bool"),
    ],
)
def test_load_photo_rejects_a_bad_size(size, error, message):
    with pytest.raises(error, match=message):
        load_photo("coffee", size=size)


# --------------------------------------------------------------------- to_grayscale


def test_luma_weights_are_bt601_and_read_only():
    np.testing.assert_array_equal(LUMA_WEIGHTS, [0.299, 0.587, 0.114])
    assert LUMA_WEIGHTS.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="read-only"):
        LUMA_WEIGHTS[0] = 1.0


@pytest.mark.parametrize(
    ("pixel", "gray"),
    [
        ((255, 0, 0), 0.299 * 255),  # pure red: 76.245
        ((0, 255, 0), 0.587 * 255),  # pure green: 149.685
        ((0, 0, 255), 0.114 * 255),  # pure blue: 29.07
        ((255, 255, 255), 255.0),
        ((100, 100, 100), 100.0),  # grey stays the same grey
        ((10, 20, 30), 0.299 * 10 + 0.587 * 20 + 0.114 * 30),  # 18.15
    ],
)
def test_to_grayscale_of_one_pixel(pixel, gray):
    image = np.array([[pixel]], dtype=np.uint8)
    out = to_grayscale(image)
    assert out.shape == (1, 1)
    assert out.dtype == np.float64  # uint8 in, float64 out, not rounded
    assert out[0, 0] == pytest.approx(gray, abs=1e-12)


def test_to_grayscale_matches_the_pixel_loop_on_a_photo():
    photo = load_photo("grace_hopper", size=23)
    np.testing.assert_allclose(to_grayscale(photo), grayscale_oracle(photo), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_grayscale_keeps_a_float_dtype(dtype):
    image = np.random.default_rng(0).random((5, 7, 3)).astype(dtype)
    out = to_grayscale(image)
    assert out.dtype == dtype
    assert out.shape == (5, 7)
    np.testing.assert_allclose(out, grayscale_oracle(image), rtol=1e-6)


def test_to_grayscale_does_not_modify_its_input():
    image = load_photo("coffee", size=9)
    kept = image.copy()
    to_grayscale(image)
    np.testing.assert_array_equal(image, kept)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((8, 8), r"to_grayscale: image must have 3 dimensions \(H, W, 3\), got 2"),
        ((2, 8, 8, 3), r"to_grayscale: image must have 3 dimensions \(H, W, 3\), got 4"),
        ((8, 8, 4), r"3 colour channels last .* got shape \(8, 8, 4\); drop the alpha"),
        ((3, 8, 8), r"got shape \(3, 8, 8\); it looks channels-first.*chw_to_hwc"),
        ((8, 8, 1), r"to_grayscale: image must have 3 colour channels last"),
    ],
)
def test_to_grayscale_rejects_a_wrong_shape(shape, message):
    with pytest.raises(ValueError, match=message):
        to_grayscale(np.zeros(shape))


def test_to_grayscale_rejects_a_string():
    with pytest.raises(TypeError, match="to_grayscale: image must be a numpy array"):
        to_grayscale("photo.png")


# ------------------------------------------------------------------------ normalize


def test_normalize_hand_values():
    assert normalize(255) == 1.0
    assert normalize(0) == 0.0
    out = normalize(np.array([0, 51, 102, 255], dtype=np.uint8))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [0.0, 0.2, 0.4, 1.0], rtol=1e-15)


def test_normalize_a_photo_lands_in_zero_one():
    photo = load_photo("coffee")
    out = normalize(photo)
    assert out.shape == photo.shape
    assert out.dtype == np.float64
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(out * 255, photo.astype(np.float64))


def test_normalize_keeps_float32():
    out = normalize(np.array([[127.5, 255.0]], dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.5, 1.0]])


def test_normalize_divides_even_values_already_in_zero_one():
    # not an error: the function cannot know, it documents "normalise once"
    np.testing.assert_allclose(normalize(np.array([0.0, 0.5, 1.0])), [0, 0.5 / 255, 1 / 255])


def test_normalize_does_not_modify_its_input():
    image = np.array([10.0, 200.0])
    normalize(image)
    np.testing.assert_array_equal(image, [10.0, 200.0])


def test_normalize_accepts_an_empty_array():
    assert normalize(np.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0.0, 256.0], r"normalize: image values must lie in \[0, 255\].*maximum of 256\.0"),
        ([-1.0, 10.0], r"normalize: image values must lie in \[0, 255\].*minimum of -1\.0"),
        ([np.nan, 1.0], r"normalize: image must hold finite pixel values"),
        ([np.inf], r"normalize: image must hold finite pixel values"),
    ],
)
def test_normalize_rejects_values_outside_0_255(values, message):
    with pytest.raises(ValueError, match=message):
        normalize(np.array(values))


def test_normalize_rejects_16_bit_values():
    with pytest.raises(ValueError, match=r"maximum of 4095\.0; is it a 16-bit"):
        normalize(np.array([0, 4095], dtype=np.uint16))


def test_normalize_rejects_a_non_numeric_array():
    with pytest.raises(TypeError, match="normalize: image must hold real numbers"):
        normalize(np.array(["a", "b"]))


# ------------------------------------------------------------------------- layouts


def test_hwc_to_chw_moves_each_value_to_its_place():
    image = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)  # H=2, W=3, C=4
    out = hwc_to_chw(image)
    assert out.shape == (4, 2, 3)
    assert out.dtype == np.uint8
    for h in range(2):
        for w in range(3):
            for c in range(4):
                assert out[c, h, w] == image[h, w, c]


def test_chw_to_hwc_on_a_batch():
    batch = np.random.default_rng(1).random((5, 3, 4, 6))  # N, C, H, W
    out = chw_to_hwc(batch)
    assert out.shape == (5, 4, 6, 3)
    np.testing.assert_array_equal(out[2, 1, 5], batch[2, :, 1, 5])
    np.testing.assert_array_equal(hwc_to_chw(out), batch)


def test_the_photo_in_chw_has_its_red_plane_first():
    photo = load_photo("coffee", size=16)
    np.testing.assert_array_equal(hwc_to_chw(photo)[0], photo[..., 0])


@pytest.mark.parametrize("shape", [(4, 5, 1), (1, 4, 5, 1), (1, 1, 1)])
def test_layout_results_never_share_memory_with_the_input(shape):
    image = np.zeros(shape)
    for convert in (hwc_to_chw, chw_to_hwc):
        out = convert(image)
        assert not np.shares_memory(out, image)
        out[...] = 7
    assert not image.any()


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float32,
        st.tuples(*[st.integers(1, 5)] * 3) | st.tuples(*[st.integers(1, 4)] * 4),
        elements=st.floats(-1e3, 1e3, width=32),
    )
)
def test_hwc_and_chw_are_inverse(image):
    np.testing.assert_array_equal(chw_to_hwc(hwc_to_chw(image)), image)
    np.testing.assert_array_equal(hwc_to_chw(chw_to_hwc(image)), image)


@pytest.mark.parametrize("convert", [hwc_to_chw, chw_to_hwc])
def test_layout_conversions_reject_wrong_dimensions(convert):
    name = convert.__name__
    with pytest.raises(ValueError, match=rf"{name}: image must have 3 dimensions .* got 2"):
        convert(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=rf"{name}: image must have 3 dimensions .* got 5"):
        convert(np.zeros((1, 1, 4, 4, 3)))
    with pytest.raises(TypeError, match=rf"{name}: image must be a numpy array"):
        convert(None)


# --------------------------------------------------------------------------- resize


@pytest.mark.parametrize(
    ("shape", "size", "expected"),
    [
        ((40, 40, 3), 8, (8, 8, 3)),
        ((10, 20), (5, 8), (5, 8)),  # (height, width), numpy order
        ((7, 9, 2), (9, 7), (9, 7, 2)),
        ((5, 5), 13, (13, 13)),  # upsampling
    ],
)
def test_resize_shapes(shape, size, expected):
    assert resize(np.random.default_rng(2).random(shape), size).shape == expected


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
def test_resize_keeps_the_dtype_and_a_constant_image(dtype):
    image = np.full((12, 18, 3), 100, dtype=dtype)
    out = resize(image, (5, 7))
    assert out.dtype == dtype
    np.testing.assert_allclose(out, 100, rtol=1e-5)


def test_resize_agrees_with_pillow_on_an_rgb_photo():
    photo = load_photo("grace_hopper", size=None)
    ours = resize(photo, (48, 40))
    pillow = np.asarray(Image.fromarray(photo).resize((40, 48), Image.Resampling.LANCZOS))
    assert ours.shape == pillow.shape
    # Pillow's own uint8 path rounds and clips to 0-255 between its horizontal and
    # vertical passes; ours stays in float32 until the end. Nearly all pixels agree to
    # one step; the few that differ more sit on sharp, overshooting edges.
    difference = np.abs(ours.astype(int) - pillow.astype(int))
    assert np.mean(difference <= 1) > 0.98
    assert difference.mean() < 0.15


def test_resize_shrinking_averages_blocks():
    # columns alternating 0 and 200: shrinking by 4 must give about the average, not
    # a stripe of 0s or 200s (the truncated filter at the borders is a little off)
    image = np.tile(np.array([0.0, 200.0]), (16, 8))  # (16, 16)
    out = resize(image, 4)
    np.testing.assert_allclose(out, 100.0, atol=10.0)
    np.testing.assert_allclose(out[:, 1:3], 100.0, atol=3.0)


def test_resize_clips_lanczos_overshoot_for_uint8():
    edge = np.zeros((4, 4), dtype=np.uint8)
    edge[:, 2:] = 255
    out = resize(edge, (4, 16))
    floats = resize(edge.astype(np.float32), (4, 16))
    assert floats.max() > 255 and floats.min() < 0  # the filter does overshoot ...
    assert out.max() == 255 and out.min() == 0  # ... and uint8 is clipped, not wrapped
    np.testing.assert_array_equal(out, np.clip(np.rint(floats), 0, 255))


def test_resize_to_the_same_size_is_an_exact_copy():
    image = np.random.default_rng(3).random((6, 5))
    out = resize(image, (6, 5))
    np.testing.assert_array_equal(out, image)
    assert not np.shares_memory(out, image)


def test_resize_does_not_modify_its_input():
    image = load_photo("coffee", size=20)
    kept = image.copy()
    resize(image, 7)
    np.testing.assert_array_equal(image, kept)


@pytest.mark.parametrize(
    ("image", "size", "error", "message"),
    [
        (np.zeros((4, 4, 3, 1)), 2, ValueError, r"resize: image must have 2 dimensions .* got 4"),
        (np.zeros(4), 2, ValueError, r"resize: image must have 2 dimensions .* got 1"),
        (np.zeros((0, 4)), 2, ValueError, r"resize: image must not be empty"),
        (np.zeros((4, 4), dtype=bool), 2, TypeError, r"resize: image .* dtype bool"),
        ("cat.png", 2, TypeError, r"resize: image must be a numpy array"),
        (np.zeros((4, 4)), 0, ValueError, r"resize: size must be a positive int or a pair"),
        (np.zeros((4, 4)), (2, 0), ValueError, r"resize: size must be a positive int or a pair"),
        (np.zeros((4, 4)), 2.5, TypeError, r"resize: size must be a positive int or a pair"),
        (np.zeros((4, 4)), (2, 3, 4), TypeError, r"resize: size must be a positive int"),
    ],
)
def test_resize_rejects_bad_arguments(image, size, error, message):
    with pytest.raises(error, match=message):
        resize(image, size)
