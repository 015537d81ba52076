"""Data sets of the course, all available offline.

- :func:`make_line_images`: random binary 3 x 3 images, labelled by an oracle
  that knows the line template (lessons 1 and 7);
- :func:`load_digits`: scikit-learn's bundled 8 x 8 handwritten digits, as
  ``(N, 1, 8, 8)`` images in [0, 1] with a fixed, stratified train/test split
  (lesson 8 onwards), and :func:`digits_split`, the same with a validation set
  set aside (lessons 9 and 10, and the check of lesson 9);
- :func:`read_idx` and :func:`load_mnist`: readers for MNIST files in the IDX
  format that a user already has on disk. Nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from cnnlab._validation import (
    as_float_dtype,
    as_generator,
    as_int,
    as_real,
    as_seed,
    describe,
)
from cnnlab.templates import LINE_TEMPLATE

__all__ = [
    "VALIDATION_SIZE",
    "digits_split",
    "load_digits",
    "load_mnist",
    "make_line_images",
    "read_idx",
]

#: IDX type codes (third byte of the magic number) and the big-endian dtypes they stand for.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_MNIST_NAMES = (
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (or the same without .gz)"
)


# ------------------------------------------------------------------ 3 x 3 line images


def make_line_images(n, *, rng=0, positive_fraction=None) -> tuple[np.ndarray, np.ndarray]:
    """Random binary 3 x 3 images, labelled 1 when they contain the vertical middle line.

    Every pixel is 0 or 1 with probability 1/2. An oracle labels each image:
    1 if :func:`cnnlab.templates.is_match` with
    :data:`~cnnlab.templates.LINE_TEMPLATE` holds (the three middle-column
    pixels are all lit, whatever the others are), else 0. By chance that
    happens to one image in 8; ``positive_fraction`` asks for more matches, to
    train on balanced data.

    Parameters
    ----------
    n : int
        Number of images, at least 1.
    rng : int, numpy.random.Generator or None, default 0
        Seed of the random generator (``None`` means 0): the same seed gives the
        same images. A Generator is drawn from directly.
    positive_fraction : float in [0, 1], optional
        If given, ``round(positive_fraction * n)`` images are matches and the
        rest are not (each drawn uniformly among the images of its kind), in
        random order. If ``None``, the images are simply random and about 1/8
        are matches.

    Returns
    -------
    images : ndarray of shape (n, 3, 3), float64
        Only 0s and 1s.
    labels : ndarray of shape (n,), float64
        1.0 for a match, 0.0 otherwise.

    Examples
    --------
    >>> images, labels = make_line_images(1000)
    >>> images.shape, labels.shape
    ((1000, 3, 3), (1000,))
    """
    func = "make_line_images"
    n = as_int(func, "n", n, minimum=1)
    if positive_fraction is not None:
        positive_fraction = as_real(
            func, "positive_fraction", positive_fraction, at_least=0, at_most=1
        )
    rng = as_generator(func, "rng", rng)
    if positive_fraction is None:
        images = rng.integers(0, 2, size=(n, 3, 3)).astype(np.float64)
    else:
        images = _balanced_line_images(n, positive_fraction, rng)
    labels = _line_oracle(images)
    return images, labels


def _line_oracle(images: np.ndarray) -> np.ndarray:
    """``is_match(image, LINE_TEMPLATE)`` for every image at once, as 0.0 / 1.0."""
    scores = np.einsum("nij,ij->n", images, LINE_TEMPLATE)
    return (scores == LINE_TEMPLATE.sum()).astype(np.float64)


def _balanced_line_images(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    n_pos = round(fraction * n)
    # A match is a random image with its middle column lit: uniform among matches.
    positives = rng.integers(0, 2, size=(n_pos, 3, 3)).astype(np.float64)
    positives[:, LINE_TEMPLATE == 1] = 1.0
    # A non-match: draw random images and keep those the oracle rejects (7 in 8).
    negatives = np.empty((0, 3, 3))
    while len(negatives) < n - n_pos:
        draw = rng.integers(0, 2, size=(2 * (n - n_pos) + 8, 3, 3)).astype(np.float64)
        negatives = np.concatenate([negatives, draw[_line_oracle(draw) == 0]])
    images = np.concatenate([positives, negatives[: n - n_pos]])
    return images[rng.permutation(n)]


# ---------------------------------------------------------------------- 8 x 8 digits


@functools.cache
def _digits_split(test_size, seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    x = (bunch.images / 16.0)[:, None, :, :]  # raw values are 0..16
    y = bunch.target.astype(np.int64)
    try:
        parts = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    except ValueError as error:
        raise ValueError(
            f"load_digits: cannot split with test_size={test_size!r}: {error}"
        ) from None
    for part in parts:
        part.flags.writeable = False
    return tuple(parts)


def load_digits(*, test_size=0.25, rng=0, dtype=np.float32):
    """scikit-learn's 1797 handwritten 8 x 8 digits, split into training and test sets.

    The images ship inside scikit-learn (nothing is downloaded). Pixel values,
    0 to 16 in the original, are divided by 16. The split is stratified (each
    digit is equally common in both parts) and fixed by ``rng``.

    Parameters
    ----------
    test_size : float in (0, 1) or int, default 0.25
        The fraction (or the number) of images in the test set.
    rng : int, numpy.random.Generator or None, default 0
        Seed of the shuffle before the split (scikit-learn's ``random_state``;
        ``None`` means 0). A Generator gives the seed by drawing one int.
    dtype : float dtype, default np.float32
        dtype of the images.

    Returns
    -------
    x_train : ndarray of shape (N_train, 1, 8, 8)
        Values in [0, 1]; 1347 images with the defaults.
    y_train : ndarray of shape (N_train,), int64
        The digit shown, 0 to 9.
    x_test : ndarray of shape (N_test, 1, 8, 8)
        450 images with the defaults.
    y_test : ndarray of shape (N_test,), int64

    Every call returns fresh arrays.
    """
    func = "load_digits"
    if isinstance(test_size, bool) or not isinstance(test_size, int | float | np.number):
        raise TypeError(
            f"{func}: test_size must be a fraction in (0, 1) or a number of images, "
            f"got {describe(test_size)}"
        )
    if isinstance(test_size, float | np.floating) and not 0 < test_size < 1:
        raise ValueError(f"{func}: test_size must be a fraction in (0, 1), got {test_size!r}")
    seed = as_seed(func, "rng", rng)
    dtype = as_float_dtype(func, dtype)
    x_train, x_test, y_train, y_test = _digits_split(test_size, seed)
    return x_train.astype(dtype), y_train.copy(), x_test.astype(dtype), y_test.copy()


#: How many of :func:`load_digits`'s training images :func:`digits_split` sets aside.
VALIDATION_SIZE = 300


def digits_split():
    """The digits of lessons 9 and 10: training, validation and test sets.

    :func:`load_digits` with its defaults gives 1347 training and 450 test
    images, shuffled and stratified; the last :data:`VALIDATION_SIZE` (300)
    training images are set aside for validation (a random sample, since the
    split shuffled them), leaving 1047 to train on. The check of lesson 9
    trains on exactly these.

    Returns
    -------
    x_train : ndarray of shape (1047, 1, 8, 8), float32
        Values in [0, 1].
    y_train : ndarray of shape (1047,), int64
    x_val : ndarray of shape (300, 1, 8, 8), float32
    y_val : ndarray of shape (300,), int64
    x_test : ndarray of shape (450, 1, 8, 8), float32
    y_test : ndarray of shape (450,), int64

    Every call returns fresh arrays.

    Examples
    --------
    >>> x_train, y_train, x_val, y_val, x_test, y_test = digits_split()
    >>> len(x_train), len(x_val), len(x_test)
    (1047, 300, 450)
    """
    x_train, y_train, x_test, y_test = load_digits()
    cut = len(x_train) - VALIDATION_SIZE
    return x_train[:cut], y_train[:cut], x_train[cut:], y_train[cut:], x_test, y_test


# ------------------------------------------------------------------------ IDX / MNIST


def _as_path(func: str, name: str, value) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise TypeError(
            f"{func}: {name} must be a path (str or pathlib.Path), got {describe(value)}"
        )
    return Path(value)


def read_idx(path) -> np.ndarray:
    """Read an array stored in the IDX format of the MNIST files, plain or gzipped.

    An IDX file is a 4-byte magic number (two zero bytes, a type code, the
    number of dimensions ``d``), then ``d`` sizes as big-endian 32-bit
    integers, then the values in C order, big-endian. Type codes: 0x08
    unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32,
    0x0E float64. A gzipped file is recognised by its first two bytes
    (``1f 8b``), whatever its name.

    Parameters
    ----------
    path : str or os.PathLike
        E.g. ``"train-images-idx3-ubyte.gz"``.

    Returns
    -------
    ndarray of shape (size_1, ..., size_d)
        In native byte order; e.g. (60000, 28, 28) uint8 for MNIST's training
        images and (60000,) uint8 for its labels.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a valid IDX file: wrong magic number, unknown type
        code, data shorter or longer than the sizes announce, broken gzip.
    """
    path = _as_path("read_idx", "path", path)
    if not path.exists():
        raise FileNotFoundError(
            f"read_idx: no file {str(path)!r}; expected an MNIST-style IDX file such as "
            f"{_MNIST_NAMES}. cnnlab never downloads it: get it yourself and pass its path"
        )
    if path.is_dir():
        raise ValueError(
            f"read_idx: {str(path)!r} is a directory; pass one IDX file, "
            f"or use load_mnist(directory) to read a whole MNIST folder"
        )
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"read_idx: {str(path)!r} is a broken gzip file ({error})") from None
    return _parse_idx(raw, str(path))


def _parse_idx(raw: bytes, where: str) -> np.ndarray:
    def bad(what: str) -> ValueError:
        return ValueError(f"read_idx: {where!r} is not a valid IDX file: {what}")

    if len(raw) < 4:
        raise bad(f"it has {len(raw)} bytes, fewer than the 4 of the magic number")
    if raw[0] != 0 or raw[1] != 0:
        raise bad(f"the magic number must start with two zero bytes, got {raw[:4].hex(' ')}")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise bad(f"unknown type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise bad("the magic number announces 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise bad(f"the header is cut short: {ndim} sizes need {header} bytes, got {len(raw)}")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    actual = len(raw) - header
    if actual < expected:
        raise bad(
            f"truncated: shape {shape} of {dtype.name} needs {expected} data bytes, got {actual}"
        )
    if actual > expected:
        raise bad(
            f"{actual - expected} trailing bytes after the {expected} data bytes of shape {shape}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find(directory: Path, stems: list[str]) -> Path:
    for stem in stems:
        for candidate in (directory / f"{stem}.gz", directory / stem):
            if candidate.is_file():
                return candidate
    tried = ", ".join(f"{s}[.gz]" for s in stems)
    raise FileNotFoundError(
        f"load_mnist: no file {tried} in {str(directory)!r}; expected the MNIST files "
        f"{_MNIST_NAMES}. cnnlab never downloads them: put them there yourself"
    )


def load_mnist(directory, kind="train", *, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST (or a look-alike such as Fashion-MNIST) from IDX files on disk.

    Looks in ``directory`` for ``{prefix}-images-idx3-ubyte`` and
    ``{prefix}-labels-idx1-ubyte``, gzipped (``.gz``) or not, where the prefix
    is ``train`` for ``kind="train"`` and ``t10k`` for ``kind="test"``. The
    variant spelling ``train-images.idx3-ubyte`` is found too.

    Parameters
    ----------
    directory : str or os.PathLike
        The folder holding the files.
    kind : {"train", "test"}, default "train"
    dtype : float dtype, default np.float32
        dtype of the images.

    Returns
    -------
    x : ndarray of shape (N, 1, H, W)
        Pixel values divided by 255, in [0, 1]; (60000, 1, 28, 28) for MNIST's
        training set, (10000, 1, 28, 28) for its test set.
    y : ndarray of shape (N,), int64
        The labels, 0 to 9.
    """
    func = "load_mnist"
    directory = _as_path(func, "directory", directory)
    if kind not in ("train", "test"):
        raise ValueError(f"{func}: kind must be 'train' or 'test', got {describe(kind)}")
    dtype = as_float_dtype(func, dtype)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"{func}: no directory {str(directory)!r}; expected a folder holding {_MNIST_NAMES}"
        )
    prefix = "train" if kind == "train" else "t10k"
    image_path = _find(directory, [f"{prefix}-images-idx3-ubyte", f"{prefix}-images.idx3-ubyte"])
    label_path = _find(directory, [f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels.idx1-ubyte"])
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{func}: {str(image_path)!r} must hold uint8 images of shape (N, H, W), "
            f"got {images.dtype} of shape {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{func}: {str(label_path)!r} must hold integer labels of shape (N,), "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{func}: {images.shape[0]} images in {str(image_path)!r} but "
            f"{labels.shape[0]} labels in {str(label_path)!r}; the files do not belong together"
        )
    x = (images[:, None, :, :] / dtype.type(255)).astype(dtype, copy=False)
    return x, labels.astype(np.int64)
