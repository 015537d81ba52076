"""Tests of cnnlab.data: the 3 x 3 line images, the 8 x 8 digits, and the IDX/MNIST reader."""

import gzip
import struct

import numpy as np
import pytest

from cnnlab.data import (
    VALIDATION_SIZE,
    digits_split,
    load_digits,
    load_mnist,
    make_line_images,
    read_idx,
)
from cnnlab.templates import LINE_TEMPLATE, is_match

IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array):
    """The IDX encoding of ``array``, written out field by field from the format's spec."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    sizes = b"".join(struct.pack(">i", size) for size in array.shape)
    return header + sizes + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, *, compress=False):
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# ---------------------------------------------------------------- make_line_images


def test_make_line_images_shapes_dtypes_and_binary_values():
    images, labels = make_line_images(500)
    assert images.shape == (500, 3, 3)
    assert labels.shape == (500,)
    assert images.dtype == np.float64
    assert labels.dtype == np.float64
    assert set(np.unique(images)) == {0.0, 1.0}
    assert set(np.unique(labels)) == {0.0, 1.0}


def test_make_line_images_labels_come_from_the_match_rule():
    images, labels = make_line_images(300, rng=4)
    expected = [float(is_match(image, LINE_TEMPLATE)) for image in images]
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(labels, np.all(images[:, :, 1] == 1, axis=1))


def test_make_line_images_are_about_one_eighth_matches():
    images, labels = make_line_images(8000, rng=1)
    assert labels.mean() == pytest.approx(1 / 8, abs=0.015)
    assert images.mean() == pytest.approx(0.5, abs=0.01)  # each pixel lit half the time


def test_make_line_images_is_reproducible_and_seeded():
    first, again, other = (
        make_line_images(50),
        make_line_images(50, rng=0),
        make_line_images(50, rng=1),
    )
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize(
    ("fraction", "n", "positives"), [(0.5, 400, 200), (0.3, 101, 30), (0.0, 50, 0), (1.0, 50, 50)]
)
def test_make_line_images_positive_fraction(fraction, n, positives):
    images, labels = make_line_images(n, rng=2, positive_fraction=fraction)
    assert images.shape == (n, 3, 3)
    assert labels.sum() == positives
    # still labelled by the oracle, never by fiat
    expected = [float(is_match(image, LINE_TEMPLATE)) for image in images]
    np.testing.assert_array_equal(labels, expected)


def test_balanced_line_images_are_shuffled_and_random_outside_the_line():
    images, labels = make_line_images(2000, rng=5, positive_fraction=0.5)
    # shuffled: matches are not all at the front
    assert 0.4 < labels[:1000].mean() < 0.6
    # the pixels the oracle ignores stay random, in matches and non-matches alike
    outer = images[:, :, [0, 2]]
    assert outer[labels == 1].mean() == pytest.approx(0.5, abs=0.03)
    assert outer[labels == 0].mean() == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((0,), {}, ValueError, r"make_line_images: n must be a positive int, got 0"),
        ((2.5,), {}, TypeError, r"make_line_images: n must be a positive int, got float 2\.5"),
        ((10,), {"rng": -1}, ValueError, r"make_line_images: rng must be a non-negative int"),
        ((10,), {"rng": 1.5}, TypeError, r"make_line_images: rng must be None, an int seed or a"),
        (
            (10,),
            {"positive_fraction": 1.5},
            ValueError,
            r"make_line_images: positive_fraction must be a finite number in \[0, 1\], got 1\.5",
        ),
        (
            (10,),
            {"positive_fraction": "half"},
            TypeError,
            r"make_line_images: positive_fraction must be a number, got the string 'half'",
        ),
        ((10,), {"positive_fraction": True}, TypeError, r"positive_fraction must be a number"),
    ],
)
def test_make_line_images_rejects_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        make_line_images(*args, **kwargs)


def test_make_line_images_seed_is_keyword_only():
    with pytest.raises(TypeError):
        make_line_images(10, 3)


# --------------------------------------------------------------------- load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_load_digits_default_split_sizes_shapes_and_dtypes(digits):
    x_train, y_train, x_test, y_test = digits
    assert x_train.shape == (1347, 1, 8, 8)
    assert x_test.shape == (450, 1, 8, 8)
    assert y_train.shape == (1347,)
    assert y_test.shape == (450,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64


def test_load_digits_values_lie_in_zero_one(digits):
    x_train, y_train, x_test, y_test = digits
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0  # raw 0 and 16
        np.testing.assert_array_equal(x * 16, np.round(x * 16))  # multiples of 1/16
    assert set(np.unique(y_train)) == set(np.unique(y_test)) == set(range(10))


def test_load_digits_is_sklearns_data_set_split_without_loss():
    from sklearn.datasets import load_digits as sklearn_digits

    raw = sklearn_digits()
    x_train, y_train, x_test, y_test = load_digits(dtype=np.float64)
    ours = np.concatenate([x_train, x_test]).reshape(-1, 64) * 16
    # same multiset of (image, label) rows: sort both the same way and compare
    theirs = np.column_stack([raw.data, raw.target])
    mine = np.column_stack([ours, np.concatenate([y_train, y_test])])
    np.testing.assert_array_equal(np.unique(mine, axis=0), np.unique(theirs, axis=0))
    assert len(mine) == len(theirs) == 1797


def test_load_digits_split_is_stratified(digits):
    _, y_train, _, y_test = digits
    overall = np.bincount(np.concatenate([y_train, y_test]), minlength=10) / 1797
    np.testing.assert_allclose(
        np.bincount(y_train, minlength=10) / len(y_train), overall, atol=0.02
    )
    np.testing.assert_allclose(np.bincount(y_test, minlength=10) / len(y_test), overall, atol=0.02)


def test_load_digits_is_fixed_and_returns_fresh_copies(digits):
    x_train, y_train, _, _ = load_digits()
    x_train[:] = -1
    y_train[:] = -1
    again = load_digits()
    for kept, now in zip(digits, again, strict=True):
        np.testing.assert_array_equal(kept, now)
    assert again[0].min() == 0.0


def test_load_digits_seed_and_test_size(digits):
    other = load_digits(rng=1)
    assert not np.array_equal(other[1], digits[1])
    half = load_digits(test_size=0.5)
    assert len(half[1]) + len(half[3]) == 1797
    assert len(half[3]) == 899  # sklearn rounds the test part up
    assert len(load_digits(test_size=100)[3]) == 100


def test_load_digits_rng_takes_an_int_a_generator_or_none(digits):
    """An int seed is scikit-learn's random_state; None is the default seed 0; a
    Generator gives the seed by drawing one int, so the same Generator state gives
    the same split."""
    np.testing.assert_array_equal(load_digits(rng=None)[1], digits[1])
    np.testing.assert_array_equal(load_digits(rng=0)[1], digits[1])
    first = load_digits(rng=np.random.default_rng(5))[1]
    np.testing.assert_array_equal(load_digits(rng=np.random.default_rng(5))[1], first)
    assert len(first) == len(digits[1])


def test_load_digits_dtype(digits):
    x_train, _, x_test, _ = load_digits(dtype=np.float64)
    assert x_train.dtype == x_test.dtype == np.float64
    np.testing.assert_allclose(x_train, digits[0], rtol=1e-7)


def test_digits_split_sets_the_last_300_training_digits_aside():
    x_train, y_train, x_val, y_val, x_test, _ = digits_split()
    assert (x_train.shape, x_val.shape, x_test.shape) == (
        (1047, 1, 8, 8),
        (300, 1, 8, 8),
        (450, 1, 8, 8),
    )
    all_x, all_y, test_x, _ = load_digits()
    np.testing.assert_array_equal(np.concatenate([x_train, x_val]), all_x)
    np.testing.assert_array_equal(np.concatenate([y_train, y_val]), all_y)
    np.testing.assert_array_equal(x_test, test_x)
    assert VALIDATION_SIZE == 300


def test_digits_split_is_lesson_9s_1047_300_450_digits_in_a_fixed_order():
    """Pinned outputs of lessons 9 and 10 and the check of lesson 9 depend on this order."""
    x_train, y_train, x_val, y_val, x_test, y_test = digits_split()
    assert (len(x_train), len(x_val), len(x_test)) == (1047, 300, 450)
    assert np.bincount(y_val).tolist() == [37, 27, 37, 27, 26, 25, 33, 38, 24, 26]
    assert x_train.dtype == x_val.dtype == x_test.dtype == np.float32
    again = digits_split()
    for kept, now in zip((x_train, y_train, x_val, y_val, x_test, y_test), again, strict=True):
        np.testing.assert_array_equal(kept, now)
        assert not np.shares_memory(kept, now)  # fresh arrays every call


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"test_size": 1.5},
            ValueError,
            r"load_digits: test_size must be a fraction in \(0, 1\), got 1\.5",
        ),
        ({"test_size": 0.0}, ValueError, r"load_digits: test_size must be a fraction in \(0, 1\)"),
        (
            {"test_size": "25%"},
            TypeError,
            r"load_digits: test_size must be a fraction .* the string '25%'",
        ),
        ({"test_size": 5}, ValueError, r"load_digits: cannot split with test_size=5: .*"),
        ({"rng": -1}, ValueError, r"load_digits: rng must be a non-negative int, got -1"),
        ({"rng": "one"}, TypeError, r"load_digits: rng must be None, an int seed or a numpy"),
        ({"dtype": np.int64}, ValueError, r"load_digits: dtype must be a float dtype .* got int64"),
        ({"dtype": "pixels"}, TypeError, r"load_digits: dtype must be a numpy float dtype"),
    ],
)
def test_load_digits_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_digits(**kwargs)


# ------------------------------------------------------------------------ read_idx


def test_read_idx_hand_made_bytes(tmp_path):
    # magic 00 00 08 01 (unsigned bytes, 1 dimension), size 3, then the values 7 8 9
    path = tmp_path / "three.idx"
    path.write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]))
    out = read_idx(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [7, 8, 9])


def test_read_idx_big_endian_int16_by_hand(tmp_path):
    # 0x0102 = 258 and 0xFFFE = -2, stored big-endian in a 1 x 2 array
    path = tmp_path / "short.idx"
    path.write_bytes(bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE]))
    out = read_idx(str(path))
    assert out.shape == (1, 2)
    np.testing.assert_array_equal(out, [[258, -2]])
    assert out.dtype.isnative


@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_every_type(tmp_path, dtype, compress):
    rng = np.random.default_rng(7)
    array = (rng.normal(size=(4, 3, 5)) * 50).astype(dtype)
    path = write_idx(tmp_path / "data-idx3", array, compress=compress)
    out = read_idx(path)
    assert out.dtype == dtype
    assert out.dtype.isnative
    assert out.shape == (4, 3, 5)
    np.testing.assert_array_equal(out, array)
    assert out.flags.writeable


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    hidden = write_idx(tmp_path / "no-extension", array, compress=True)
    plain = write_idx(tmp_path / "misnamed.gz", array, compress=False)
    np.testing.assert_array_equal(read_idx(hidden), array)
    np.testing.assert_array_equal(read_idx(plain), array)


def test_read_idx_reads_an_empty_array(tmp_path):
    out = read_idx(write_idx(tmp_path / "empty", np.zeros((0, 28, 28), dtype=np.uint8)))
    assert out.shape == (0, 28, 28)


def test_read_idx_missing_file_says_what_was_expected(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=r"read_idx: no file .*nothing-here.* IDX file "
        r".*train-images-idx3-ubyte\.gz.*never downloads",
    ):
        read_idx(tmp_path / "nothing-here")


def test_read_idx_directory_points_to_load_mnist(tmp_path):
    with pytest.raises(ValueError, match=r"read_idx: .* is a directory; .*load_mnist\(directory\)"):
        read_idx(tmp_path)


def test_read_idx_rejects_a_path_of_the_wrong_type():
    with pytest.raises(
        TypeError, match=r"read_idx: path must be a path \(str or pathlib\.Path\), got int 3"
    ):
        read_idx(3)


GOOD = idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3))  # 4 + 8 header bytes, 6 data bytes


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x00\x00", r"it has 2 bytes, fewer than the 4 of the magic number"),
        (
            b"\x01\x02" + GOOD[2:],
            r"the magic number must start with two zero bytes, got 01 02 08 02",
        ),
        (
            GOOD[:2] + b"\x0a" + GOOD[3:],
            r"unknown type code 0x0A \(known: 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E\)",
        ),
        (b"\x00\x00\x08\x00\x05", r"the magic number announces 0 dimensions"),
        (GOOD[:9], r"the header is cut short: 2 sizes need 12 bytes, got 9"),
        (GOOD[:-1], r"truncated: shape \(2, 3\) of uint8 needs 6 data bytes, got 5"),
        (GOOD + b"\x00\x00", r"2 trailing bytes after the 6 data bytes of shape \(2, 3\)"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_rejects_a_malformed_file(tmp_path, raw, message, compress):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    with pytest.raises(
        ValueError, match=r"read_idx: '.*bad-idx1-ubyte' is not a valid IDX file: " + message
    ):
        read_idx(path)


def test_read_idx_rejects_a_broken_gzip_file(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(GOOD)[:-6])  # cut off inside the gzip stream
    with pytest.raises(ValueError, match=r"read_idx: '.*broken\.gz' is a broken gzip file"):
        read_idx(path)


# ---------------------------------------------------------------------- load_mnist


def make_mnist_folder(folder, *, n_train=5, n_test=3, compress=True):
    """A tiny fake MNIST: random 28 x 28 uint8 images and their labels."""
    rng = np.random.default_rng(8)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress=compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress=compress)
        arrays[prefix] = images, labels
    return arrays


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize(("kind", "prefix"), [("train", "train"), ("test", "t10k")])
def test_load_mnist_reads_and_scales(tmp_path, compress, kind, prefix):
    arrays = make_mnist_folder(tmp_path, compress=compress)
    x, y = load_mnist(tmp_path, kind)
    images, labels = arrays[prefix]
    assert x.shape == (len(images), 1, 28, 28)
    assert x.dtype == np.float32
    assert y.dtype == np.int64
    assert x.min() >= 0.0
    assert x.max() <= 1.0
    np.testing.assert_allclose(x[:, 0] * 255, images, atol=1e-4)
    np.testing.assert_array_equal(y, labels)


def test_load_mnist_default_kind_and_float64(tmp_path):
    make_mnist_folder(tmp_path)
    x, y = load_mnist(str(tmp_path), dtype=np.float64)
    assert x.dtype == np.float64
    assert len(x) == len(y) == 5


def test_load_mnist_finds_the_dotted_file_names(tmp_path):
    images = np.full((2, 4, 4), 255, dtype=np.uint8)
    write_idx(tmp_path / "t10k-images.idx3-ubyte", images)
    write_idx(tmp_path / "t10k-labels.idx1-ubyte", np.array([3, 1], dtype=np.uint8))
    x, y = load_mnist(tmp_path, "test")
    assert x.shape == (2, 1, 4, 4)
    assert x.max() == 1.0
    np.testing.assert_array_equal(y, [3, 1])


def test_load_mnist_missing_directory(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"load_mnist: no directory .*nope.*train-images-idx3-ubyte\.gz"
    ):
        load_mnist(tmp_path / "nope")


def test_load_mnist_missing_labels_file(tmp_path):
    make_mnist_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"load_mnist: no file t10k-labels-idx1-ubyte\[\.gz\]"
    ):
        load_mnist(tmp_path, "test")


def test_load_mnist_counts_must_agree(tmp_path):
    make_mnist_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4, dtype=np.uint8), compress=True)
    with pytest.raises(
        ValueError, match=r"load_mnist: 5 images in .* but 4 labels in .*do not belong together"
    ):
        load_mnist(tmp_path)


def test_load_mnist_rejects_files_that_are_not_images_and_labels(tmp_path):
    make_mnist_folder(tmp_path)
    write_idx(
        tmp_path / "train-images-idx3-ubyte.gz", np.zeros((5, 784), dtype=np.uint8), compress=True
    )
    with pytest.raises(
        ValueError,
        match=r"must hold uint8 images of shape \(N, H, W\), got uint8 of shape \(5, 784\)",
    ):
        load_mnist(tmp_path)
    make_mnist_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(5, dtype=np.float32), compress=True)
    with pytest.raises(ValueError, match=r"must hold integer labels of shape \(N,\), got float32"):
        load_mnist(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"kind": "valid"},
            ValueError,
            r"load_mnist: kind must be 'train' or 'test', got the string 'valid'",
        ),
        ({"dtype": np.uint8}, ValueError, r"load_mnist: dtype must be a float dtype"),
    ],
)
def test_load_mnist_rejects_bad_arguments(tmp_path, kwargs, error, message):
    make_mnist_folder(tmp_path)
    with pytest.raises(error, match=message):
        load_mnist(tmp_path, **kwargs)


def test_load_mnist_rejects_a_directory_of_the_wrong_type():
    with pytest.raises(TypeError, match=r"load_mnist: directory must be a path"):
        load_mnist(None)
