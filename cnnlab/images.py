"""Images as arrays of numbers: the sample photos, grayscale, normalising, layouts.

A colour photograph is a grid of pixels, each holding three numbers from 0 to
255: how much red, green and blue it emits. numpy, matplotlib and Pillow store
it *height first, channels last*, ``(H, W, 3)`` ("HWC"); deep-learning
frameworks want the channels first, ``(3, H, W)`` ("CHW"), and batches as
``(N, C, H, W)``. This module moves between the two and prepares photos for the
lessons: :func:`load_photo` (an espresso cup shipped inside cnnlab, or
Grace Hopper shipped with matplotlib, nothing is downloaded), :func:`to_grayscale`,
:func:`normalize` (0-255 to 0-1) and :func:`resize`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from cnnlab._validation import as_array, as_float_array, as_int, describe, int_pair

__all__ = [
    "LUMA_WEIGHTS",
    "PHOTO_NAMES",
    "chw_to_hwc",
    "hwc_to_chw",
    "load_photo",
    "normalize",
    "resize",
    "to_grayscale",
]

#: How much red, green and blue contribute to perceived brightness (ITU-R BT.601).
#: Green counts most because the eye is most sensitive to it; the weights sum to 1,
#: so a grey pixel ``(v, v, v)`` keeps its value ``v``.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
LUMA_WEIGHTS.flags.writeable = False

#: The photos :func:`load_photo` knows, all shipped inside installed packages.
PHOTO_NAMES = ("coffee", "grace_hopper")

#: Where cnnlab keeps its own photo files (their origin and licence: README.md there).
PHOTO_DIR = Path(__file__).parent / "photos"


# ------------------------------------------------------------------------ sample photos


@functools.cache
def _decoded_photo(name: str) -> np.ndarray:
    """Decode a bundled photo once; read-only so that the cached copy cannot be spoiled."""
    from PIL import Image

    if name == "coffee":
        path = PHOTO_DIR / "coffee.png"
    else:
        from matplotlib import cbook

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as file:
        photo = np.array(file.convert("RGB"), dtype=np.uint8)
    photo.flags.writeable = False
    return photo


def load_photo(name="coffee", size=64) -> np.ndarray:
    """A real colour photograph as an ``(H, W, 3)`` array of 8-bit pixel values.

    Both photos ship inside installed packages, so nothing is downloaded:

    - ``"coffee"``: a cup of espresso on a saucer, 400 x 600 pixels (height x width),
      shipped inside cnnlab (scikit-image's ``data.coffee()`` sample, CC0);
    - ``"grace_hopper"``: a portrait of the computer scientist Grace Hopper,
      600 x 512 pixels (height x width), from matplotlib's sample data.

    With a ``size``, the largest centred square is cut out of the photo and
    resized to ``size x size`` pixels with a Lanczos filter (see :func:`resize`).

    Parameters
    ----------
    name : {"coffee", "grace_hopper"}, default "coffee"
        Which photo.
    size : int or None, default 64
        Side of the square result in pixels; ``None`` returns the whole photo,
        neither cropped nor resized.

    Returns
    -------
    ndarray of shape (size, size, 3) and dtype uint8
        Channels last (red, green, blue), values 0 to 255. With ``size=None``
        the shape is the photo's own, e.g. (400, 600, 3) for "coffee". A fresh
        array on every call: changing it changes nothing else.

    Examples
    --------
    >>> photo = load_photo()
    >>> photo.shape, photo.dtype
    ((64, 64, 3), dtype('uint8'))
    """
    if not isinstance(name, str):
        raise TypeError(
            f"load_photo: name must be a string, one of {PHOTO_NAMES}, got {describe(name)}"
        )
    if name not in PHOTO_NAMES:
        raise ValueError(f"load_photo: unknown photo {name!r}; choose one of {PHOTO_NAMES}")
    if size is not None:
        size = as_int("load_photo", "size", size, minimum=1)
    photo = _decoded_photo(name)
    if size is None:
        return photo.copy()
    height, width = photo.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return resize(photo[top : top + side, left : left + side], size)


# -------------------------------------------------------------------- pixel values


def to_grayscale(image) -> np.ndarray:
    """Turn a colour image into one brightness value per pixel.

    ``gray = 0.299 * R + 0.587 * G + 0.114 * B`` (the ITU-R BT.601 luma
    weights, :data:`LUMA_WEIGHTS`), so the result stays on the input's scale:
    0-255 in, 0-255 out; 0-1 in, 0-1 out.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3)
        Channels last, in the order red, green, blue.

    Returns
    -------
    ndarray of shape (H, W)
        Float; a float input keeps its dtype, an integer one (e.g. uint8)
        gives float64, not rounded.

    Examples
    --------
    >>> to_grayscale(np.array([[[255, 0, 0]]], dtype=np.uint8))
    array([[76.245]])
    """
    image = as_float_array("to_grayscale", "image", image, ndim=3, layout="(H, W, 3)")
    if image.shape[2] != 3:
        hint = "; drop the alpha channel first: image[..., :3]" if image.shape[2] == 4 else ""
        if image.shape[0] == 3:
            hint = "; it looks channels-first, convert it with chw_to_hwc(image)"
        raise ValueError(
            f"to_grayscale: image must have 3 colour channels last (H, W, 3), "
            f"got shape {image.shape}{hint}"
        )
    return image @ LUMA_WEIGHTS.astype(image.dtype)


def normalize(image) -> np.ndarray:
    """Scale 8-bit pixel values from 0-255 to 0-1 by dividing by 255.

    Networks learn better from small inputs of similar size. The division is
    done whatever the values are, so an image that is already in [0, 1] would
    be scaled again (to at most 1/255): normalise once.

    Parameters
    ----------
    image : ndarray of any shape
        Pixel values in [0, 255], e.g. ``(H, W, 3)`` uint8.

    Returns
    -------
    ndarray of the same shape
        Values in [0, 1]. A float input keeps its dtype; an integer one gives
        float64.

    Raises
    ------
    ValueError
        If a value is below 0, above 255 or not finite: those are not 8-bit
        pixel intensities.

    Examples
    --------
    >>> normalize(np.array([0, 51, 255], dtype=np.uint8))
    array([0. , 0.2, 1. ])
    """
    image = as_float_array("normalize", "image", image)
    if image.size:
        if not np.all(np.isfinite(image)):
            raise ValueError("normalize: image must hold finite pixel values, got NaN or infinity")
        low, high = image.min(), image.max()
        if low < 0:
            raise ValueError(
                f"normalize: image values must lie in [0, 255] (8-bit pixel values), "
                f"got a minimum of {low}; was it already centred or standardised?"
            )
        if high > 255:
            raise ValueError(
                f"normalize: image values must lie in [0, 255] (8-bit pixel values), "
                f"got a maximum of {high}; is it a 16-bit or unscaled image?"
            )
    return image / image.dtype.type(255)


# -------------------------------------------------------------------------- layouts


def _move_channels(func: str, image, *, to_first: bool) -> np.ndarray:
    before, after = ("(H, W, C)", "(N, H, W, C)") if to_first else ("(C, H, W)", "(N, C, H, W)")
    image = as_array(func, "image", image)
    if image.ndim not in (3, 4):
        raise ValueError(
            f"{func}: image must have 3 dimensions {before} or 4 dimensions {after}, "
            f"got {image.ndim} (shape {image.shape})"
        )
    lead = image.ndim - 3  # 1 for a batch axis, else 0
    order = (lead + 2, lead, lead + 1) if to_first else (lead + 1, lead + 2, lead)
    # copy(): a transposed view would share memory with the caller's array
    return image.transpose(*range(lead), *order).copy()


def hwc_to_chw(image) -> np.ndarray:
    """Move the channel axis first: ``(H, W, C) -> (C, H, W)``, or per batch
    ``(N, H, W, C) -> (N, C, H, W)``.

    matplotlib and Pillow store images channels last; :func:`~cnnlab.ops.conv2d`
    (like PyTorch) wants them channels first.

    Parameters
    ----------
    image : ndarray of shape (H, W, C) or (N, H, W, C)

    Returns
    -------
    ndarray of shape (C, H, W) or (N, C, H, W)
        A new array of the same dtype; ``image`` is not changed or shared.

    Examples
    --------
    >>> hwc_to_chw(np.zeros((64, 48, 3))).shape
    (3, 64, 48)
    """
    return _move_channels("hwc_to_chw", image, to_first=True)


def chw_to_hwc(image) -> np.ndarray:
    """Move the channel axis last: ``(C, H, W) -> (H, W, C)``, or per batch
    ``(N, C, H, W) -> (N, H, W, C)``; the inverse of :func:`hwc_to_chw`.

    Use it to show a channels-first array with ``matplotlib.pyplot.imshow``.

    Parameters
    ----------
    image : ndarray of shape (C, H, W) or (N, C, H, W)

    Returns
    -------
    ndarray of shape (H, W, C) or (N, H, W, C)
        A new array of the same dtype; ``image`` is not changed or shared.

    Examples
    --------
    >>> chw_to_hwc(np.zeros((3, 64, 48))).shape
    (64, 48, 3)
    """
    return _move_channels("chw_to_hwc", image, to_first=False)


# --------------------------------------------------------------------------- resizing


def resize(image, size) -> np.ndarray:
    """Resize an image to ``size`` pixels with Pillow's Lanczos filter.

    When shrinking, the filter widens with the scale factor, so every output
    pixel is a weighted average of the input pixels it covers (no aliasing).
    Each channel is resized on its own, in Pillow's float32 arithmetic.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        Channels last, any number of channels.
    size : int or (int, int)
        The new size: ``s`` for ``s x s``, or ``(height, width)`` (numpy order,
        not Pillow's ``(width, height)``).

    Returns
    -------
    ndarray of shape (height, width) or (height, width, C)
        Same dtype as ``image``. Integer images are rounded and clipped to their
        dtype's range (0-255 for uint8), as Lanczos can overshoot a little at
        sharp edges. Float images are not clipped, and pass through float32.

    Examples
    --------
    >>> resize(np.zeros((400, 400, 3), dtype=np.uint8), 64).shape
    (64, 64, 3)
    >>> resize(np.zeros((10, 20)), (5, 8)).shape
    (5, 8)
    """
    from PIL import Image

    image = as_array("resize", "image", image)
    if image.dtype.kind == "b":
        raise TypeError(
            "resize: image must hold numbers, got dtype bool; convert it with image.astype(float)"
        )
    if image.ndim not in (2, 3):
        raise ValueError(
            f"resize: image must have 2 dimensions (H, W) or 3 dimensions (H, W, C), "
            f"got {image.ndim} (shape {image.shape})"
        )
    if min(image.shape) == 0:
        raise ValueError(f"resize: image must not be empty, got shape {image.shape}")
    height, width = int_pair("resize", "size", size, minimum=1)
    if (height, width) == image.shape[:2]:
        return image.copy()
    planes = image[..., None] if image.ndim == 2 else image
    out = np.empty((height, width, planes.shape[2]), dtype=np.float32)
    for c in range(planes.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(planes[..., c], dtype=np.float32))
        out[..., c] = np.asarray(plane.resize((width, height), Image.Resampling.LANCZOS))
    if image.ndim == 2:
        out = out[..., 0]
    if image.dtype.kind in "iu":
        limits = np.iinfo(image.dtype)
        out = np.clip(np.rint(out), limits.min, limits.max)
    return out.astype(image.dtype)
