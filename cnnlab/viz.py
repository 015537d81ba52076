"""Pictures of what a CNN computes, drawn with matplotlib.

Every function draws one idea: a matrix with its numbers written in the cells
(:func:`show_matrix`), the colour channels of a photo, a kernel sliding over an
image, kernels and feature maps, pooling, class probabilities, training curves,
a confusion matrix and the examples a model gets wrong.

Conventions
-----------
- Functions that draw on one set of axes take ``ax=None`` and return the
  ``Axes``; functions that lay out several panels take ``fig=None`` and return
  the ``Figure``. Passing ``ax`` or ``fig`` draws into it (``fig`` is cleared
  first), which is how :mod:`cnnlab.widgets` redraws. Nothing calls
  ``plt.show()``: end the notebook cell with ``;`` (or assign the result) so
  that Jupyter shows the figure once, not twice.
- Colours are readable by colour-blind people: unsigned values use ``viridis``
  (photos and inputs: ``gray``); signed values (gradients, activation maps
  before ReLU) use the diverging ``RdBu_r`` centred on zero, so that white
  means 0, red positive and blue negative.
- One convention for the two things every lesson draws: a **kernel** (or
  template, or weight) is always on ``RdBu_r`` centred on zero, even when none
  of its values is negative (``centred=True``), so a blur kernel and an edge
  kernel read alike; a **ReLU map** (any map with no negative value) is on
  ``viridis`` starting at 0, so 0 is always the darkest purple.
- Figures have an opaque white background, whatever the front end or its
  theme: on JupyterLab's dark theme a transparent figure would show black
  labels on black.
- Cells that hold ``NaN`` are drawn blank, over a light hatching: "not computed yet".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.patches import Rectangle

from cnnlab import ops
from cnnlab._draw import (
    ACCENT,
    BACKGROUND,
    DIVERGING,
    HIGHLIGHT,
    IMAGE,
    MAX_VALUE_SIDE,
    MIN_FONTSIZE,
    MUTED,
    SECOND,
    SEQUENTIAL,
    TIMES,
    CellText,
    auto_fmt,
    cell_fontsize,
    draw_matrix,
    format_value,
    highlight,
    shape_text,
    style,
)
from cnnlab._validation import (
    as_class_names,
    as_float_array,
    as_int,
    as_labels,
    as_matching_matrices,
    describe,
    int_pair,
)

__all__ = [
    "ACCENT",
    "BACKGROUND",
    "DIVERGING",
    "HIGHLIGHT",
    "IMAGE",
    "MAX_VALUE_SIDE",
    "MIN_FONTSIZE",
    "MUTED",
    "SECOND",
    "SEQUENTIAL",
    "ConvolutionStep",
    "compare_images",
    "convolution_step",
    "plot_history",
    "show_backprop",
    "show_channels",
    "show_confusion_matrix",
    "show_convolution_step",
    "show_feature_maps",
    "show_kernels",
    "show_matrix",
    "show_misclassified",
    "show_pooling",
    "show_probabilities",
    "show_template_match",
]

# Figures the lessons make with plt.subplots get the same background as cnnlab's own.
mpl.rcParams["figure.facecolor"] = BACKGROUND
mpl.rcParams["savefig.facecolor"] = BACKGROUND


# ---------------------------------------------------------------------------- helpers


def _figure(func: str, fig, figsize):
    """A fresh pyplot figure, or ``fig`` cleared for redrawing."""
    if fig is None:
        return plt.figure(figsize=figsize, layout="constrained", facecolor=BACKGROUND)
    if not isinstance(fig, mpl.figure.Figure):
        raise TypeError(f"{func}: fig must be a matplotlib Figure, got {describe(fig)}")
    fig.clear()
    fig.set_facecolor(BACKGROUND)
    return fig


def _axes(func: str, ax, figsize):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained", facecolor=BACKGROUND)
    elif not isinstance(ax, mpl.axes.Axes):
        raise TypeError(f"{func}: ax must be a matplotlib Axes, got {describe(ax)}")
    return ax


def _grid(fig, n: int, ncols: int = 8):
    """``n`` axes in rows of at most ``ncols``; the unused slots are removed."""
    ncols = max(1, min(n, ncols))
    nrows = math.ceil(n / ncols)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for extra in axes[n:]:
        fig.delaxes(extra)
    return list(axes[:n])


def _check_matrix(func: str, name: str, a) -> np.ndarray:
    a = as_float_array(func, name, a, ndim=(2, 3), layout="(H, W) or (H, W, 3)")
    if a.ndim == 3 and a.shape[2] not in (3, 4):
        raise ValueError(
            f"{func}: {name} must be (H, W) or a colour image (H, W, 3), got shape {a.shape}; "
            f"for channels-first arrays use cnnlab.images.chw_to_hwc"
        )
    if 0 in a.shape:
        raise ValueError(f"{func}: {name} must not be empty, got shape {a.shape}")
    return a


# ----------------------------------------------------------------------- matrices


def show_matrix(
    a,
    *,
    ax=None,
    values=None,
    fmt=None,
    title=None,
    cmap=None,
    vmin=None,
    vmax=None,
    centred=False,
):
    """Draw an image or a small matrix, with each value written in its cell.

    Unsigned values get :data:`SEQUENTIAL` (viridis); values with negatives
    get :data:`DIVERGING` centred on 0, so that 0 is white whatever the range.

    Parameters
    ----------
    a : ndarray of shape (H, W) or (H, W, 3)
        A matrix, a grayscale image, or a colour image (drawn in colour, without values).
        ``NaN`` cells are left blank.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    values : bool, optional
        Write the values in the cells. By default, when neither side exceeds
        :data:`MAX_VALUE_SIDE` (16).
    fmt : str, optional
        Format spec of the values, e.g. ``".2f"``; by default whole numbers for
        whole-number matrices and two decimals otherwise.
    title : str, optional
    cmap : str or Colormap, optional
        Overrides the automatic choice, e.g. ``"gray"`` for a photo. A signed
        matrix keeps its norm centred on 0.
    vmin, vmax : float, optional
        Fix the colour range, e.g. ``vmin=0, vmax=1`` for a normalised image;
        by default it spans the data (a binary matrix is always drawn on 0..1).
    centred : bool, default False
        Draw on :data:`DIVERGING` centred on 0 even without negative values:
        the convention for kernels, templates and weights, so that a blur
        kernel reads like an edge kernel (white 0, red positive).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = show_matrix(np.arange(9).reshape(3, 3), title="a 3 x 3 image")
    >>> [t.get_text() for t in ax.texts][:3]
    ['0', '1', '2']
    """
    func = "show_matrix"
    a = _check_matrix(func, "a", a)
    side = 0.45 * max(a.shape[:2])
    ax = _axes(func, ax, (float(np.clip(side, 3.0, 6.0)),) * 2)
    norm = None
    if a.ndim == 2 and (centred or vmin is not None or vmax is not None):
        cmap, norm = style(a, cmap, SEQUENTIAL, vmin, vmax, centred and vmin is None)
    draw_matrix(ax, a, values=values, fmt=fmt, cmap=cmap, norm=norm)
    if title is not None:
        ax.set_title(title)
    return ax


def compare_images(
    images, titles=None, *, cmap=None, values=False, fig=None, vmin=None, vmax=None, centred=False
):
    """Draw images side by side in one row, e.g. a photo before and after a filter.

    Parameters
    ----------
    images : sequence of ndarray of shape (H, W) or (H, W, 3)
        The images may differ in size.
    titles : sequence of str, optional
        One per image.
    cmap : str, optional
        For 2-D images; by default :data:`IMAGE` (gray), or :data:`DIVERGING`
        centred on 0 for signed ones.
    values : bool or None, default False
        Write pixel values in the cells (``None``: when the image is small).
    fig : matplotlib Figure, optional
    vmin, vmax : float, optional
        One fixed colour range for every 2-D image, e.g. ``0`` and ``1`` so
        that the images can be compared by eye; by default each spans its own.
    centred : bool or sequence of bool, default False
        Draw on :data:`DIVERGING` centred on 0 whatever the signs (kernels,
        gradients); one flag for all images, or one per image.

    Returns
    -------
    matplotlib Figure
    """
    func = "compare_images"
    if isinstance(images, np.ndarray):  # one image, or a batch (N, H, W) / (N, H, W, 3)
        one = images.ndim == 2 or (images.ndim == 3 and images.shape[-1] in (3, 4))
        images = [images] if one else list(images)
    if not isinstance(images, list | tuple) or len(images) == 0:
        raise ValueError(
            f"{func}: images must be a non-empty list of images, got {describe(images)}"
        )
    arrays = [_check_matrix(func, f"images[{k}]", image) for k, image in enumerate(images)]
    if titles is not None:
        titles = [titles] if isinstance(titles, str) else list(titles)
        if len(titles) != len(arrays):
            raise ValueError(
                f"{func}: titles must have one entry per image ({len(arrays)}), got {len(titles)}"
            )
    flags = [centred] * len(arrays) if isinstance(centred, bool) else list(centred)
    if len(flags) != len(arrays):
        raise ValueError(
            f"{func}: centred must be one bool, or one per image ({len(arrays)}), got {len(flags)}"
        )
    fig = _figure(func, fig, (3.2 * len(arrays), 3.4))
    for k, (ax, a) in enumerate(
        zip(fig.subplots(1, len(arrays), squeeze=False)[0], arrays, strict=True)
    ):
        colours, norm = cmap, None
        if a.ndim == 2 and (flags[k] or vmin is not None or vmax is not None):
            colours, norm = style(a, cmap, IMAGE, vmin, vmax, flags[k] and vmin is None)
        draw_matrix(ax, a, values=values, cmap=colours, norm=norm, default=IMAGE, grid=False)
        ax.set_title(titles[k] if titles is not None else shape_text(a.shape))
    return fig


def show_channels(image, *, fig=None):
    """A colour photo and its red, green and blue channels side by side.

    Each channel is drawn in its own single-hue map (white = 0 to full colour
    = maximum), on the same scale: 0-255 for 8-bit images, 0-1 otherwise.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3)
        Channels last (red, green, blue), values 0-255 or 0-1.
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib Figure
        Four axes: the photo, then red, green and blue.
    """
    func = "show_channels"
    raw = np.asarray(image) if not isinstance(image, str | bytes) else image
    a = as_float_array(func, "image", image, ndim=3, layout="(H, W, 3)")
    if a.shape[2] != 3:
        hint = "; it looks channels-first, use cnnlab.images.chw_to_hwc" if a.shape[0] == 3 else ""
        raise ValueError(
            f"{func}: image must have 3 colour channels last (H, W, 3), got shape {a.shape}{hint}"
        )
    top = 255.0 if raw.dtype.kind in "iu" or np.nanmax(a) > 1.0 else 1.0
    fig = _figure(func, fig, (13, 4.0))
    axes = fig.subplots(1, 4)
    draw_matrix(axes[0], a)
    axes[0].set_title(f"photo, {shape_text(a.shape)}")
    for c, (ax, name, cmap) in enumerate(
        zip(axes[1:], ("red", "green", "blue"), ("Reds", "Greens", "Blues"), strict=True)
    ):
        draw_matrix(ax, a[..., c], cmap=cmap, norm=Normalize(0.0, top))
        ax.set_title(f"{name} channel, {shape_text(a.shape[:2])}")
    fig.suptitle(f"every pixel holds 3 numbers from 0 to {top:g}: red, green, blue")
    return fig


def show_template_match(image, template, *, fig=None):
    """Template matching in one picture: image times template, element-wise, then the sum.

    Parameters
    ----------
    image : ndarray of shape (h, w)
    template : ndarray of shape (h, w)
        Same shape as ``image``.
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib Figure
        Four axes: image, template, products, and the score. For a binary
        image and template the score panel also says whether it is a match
        (score = number of ones in the template).
    """
    func = "show_template_match"
    hint = "use show_convolution_step to slide a template"
    image, template = as_matching_matrices(func, ("image", "template"), image, template, hint=hint)
    products = image * template
    score = float(ops.correlate2d(image, template)[0, 0])
    fig = _figure(func, fig, (11, 3.2))
    axes = fig.subplots(1, 4)
    for ax, a, title in zip(
        axes[:3],
        (image, template, products),
        ("image", f"{TIMES} template", "= products"),
        strict=True,
    ):
        cmap, norm = style(a, centred=a is template)  # a template is drawn as a kernel
        draw_matrix(ax, a, cmap=cmap, norm=norm)
        ax.set_title(title)
    verdict = ""
    if all(np.isin(m, (0.0, 1.0)).all() for m in (image, template)) and template.any():
        ones = int(template.sum())
        verdict = f"\n{'match' if score == ones else 'no match'}\n(a match scores {ones})"
    axes[3].axis("off")
    axes[3].text(
        0.5,
        0.5,
        f"sum = {format_value(score, auto_fmt(products))}{verdict}",
        ha="center",
        va="center",
        fontsize=16,
        transform=axes[3].transAxes,
    )
    axes[3].set_title("score")
    return fig


# --------------------------------------------------------------------- convolution


@dataclass(frozen=True)
class ConvolutionStep:
    """Everything one position of a sliding kernel involves (see :func:`convolution_step`)."""

    padded: np.ndarray  #: (H + 2*ph, W + 2*pw) the input with its zero border
    window: np.ndarray  #: (KH, KW) the part of ``padded`` under the kernel
    products: np.ndarray  #: (KH, KW) window * kernel
    value: float  #: the sum of the products, = output[row, col]
    output: np.ndarray  #: (Ho, Wo) the whole map, from cnnlab.ops.correlate2d
    partial: np.ndarray  #: (Ho, Wo) the map up to (row, col) in reading order, NaN after
    row: int
    col: int
    top: int  #: first row of the window in ``padded``
    left: int  #: first column of the window in ``padded``


def convolution_step(image, kernel, row, col, *, stride=1, padding=0, func="convolution_step"):
    """The window, products and output of a sliding kernel at output cell ``(row, col)``.

    The output map comes from :func:`cnnlab.ops.correlate2d` (cross-correlation);
    the window and the element-wise products show how its cell ``(row, col)``
    is made. Cells are computed in reading order (row by row), so ``partial``
    holds the cells up to and including ``(row, col)`` and ``NaN`` after.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    kernel : ndarray of shape (KH, KW)
    row, col : int
        The output cell, ``0 <= row < Ho`` and ``0 <= col < Wo``; the window's
        top-left corner in the padded image is ``(row * sh, col * sw)``.
    stride, padding : int or (int, int)

    Returns
    -------
    ConvolutionStep
    """
    image = as_float_array(func, "image", image, ndim=2, layout="(H, W)")
    kernel = as_float_array(func, "kernel", kernel, ndim=2, layout="(KH, KW)")
    stride = int_pair(func, "stride", stride, minimum=1)
    padding = int_pair(func, "padding", padding, minimum=0)
    padded = np.pad(image, [(padding[0],) * 2, (padding[1],) * 2])
    if kernel.shape[0] > padded.shape[0] or kernel.shape[1] > padded.shape[1]:
        raise ValueError(
            f"{func}: kernel of shape {kernel.shape} does not fit in the image of shape "
            f"{image.shape} padded by {padding} to {padded.shape}"
        )
    output = ops.correlate2d(image, kernel, stride=stride, padding=padding)
    row = as_int(func, "row", row, minimum=0)
    col = as_int(func, "col", col, minimum=0)
    if row >= output.shape[0] or col >= output.shape[1]:
        raise ValueError(
            f"{func}: (row, col) must be a cell of the output, of shape {output.shape}, "
            f"got ({row}, {col})"
        )
    top, left = row * stride[0], col * stride[1]
    window = padded[top : top + kernel.shape[0], left : left + kernel.shape[1]]
    partial = output.astype(np.float64)
    partial.flat[row * output.shape[1] + col + 1 :] = np.nan
    products = window * kernel
    return ConvolutionStep(
        padded, window, products, float(output[row, col]), output, partial, row, col, top, left
    )


def show_convolution_step(image, kernel, row, col, *, stride=1, padding=0, fig=None, cmap=None):
    """One position of a kernel sliding over an image, and the map it is filling in.

    Five panels: the (padded) input with the window outlined; the window; the
    kernel; their element-wise products, whose sum is the output value; and the
    output map so far (cells not yet computed are blank) with the current cell
    outlined. The output is :func:`cnnlab.ops.correlate2d`, i.e. a
    cross-correlation, as in every deep-learning framework.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    kernel : ndarray of shape (KH, KW)
    row, col : int
        The output cell being computed; the window starts at row ``row * stride``
        and column ``col * stride`` of the padded input.
    stride, padding : int or (int, int)
    fig : matplotlib Figure, optional
    cmap : str, optional
        Colour map of the input, :data:`IMAGE` (gray) by default.

    Returns
    -------
    matplotlib Figure
        Axes in the order input, window, kernel, products, output.
    """
    func = "show_convolution_step"
    step = convolution_step(image, kernel, row, col, stride=stride, padding=padding, func=func)
    kh, kw = step.window.shape
    ph, pw = int_pair(func, "padding", padding, minimum=0)
    fig = _figure(func, fig, (16, 3.8))
    axes = fig.subplots(1, 5, width_ratios=[2, 1, 1, 1, 2])
    cmap_in, norm_in = style(step.padded, cmap, IMAGE)
    draw_matrix(axes[0], step.padded, cmap=cmap_in, norm=norm_in)
    if ph or pw:
        height, width = step.padded.shape
        highlight(
            axes[0],
            ph,
            pw,
            height - 2 * ph,
            width - 2 * pw,
            edgecolor=ACCENT,
            linewidth=1.5,
            linestyle="--",
            zorder=4,
        )
    highlight(axes[0], step.top, step.left, kh, kw)
    shape = shape_text(step.padded.shape[:2])
    padded_note = f", padded to {shape}" if (ph or pw) else ""
    axes[0].set_title(f"input {shape_text(np.shape(image))}{padded_note}")
    draw_matrix(axes[1], step.window, cmap=cmap_in, norm=norm_in)
    axes[1].set_title(f"window at ({step.top}, {step.left})")
    kernel_cmap, kernel_norm = style(np.asarray(kernel, dtype=float), centred=True)
    draw_matrix(axes[2], np.asarray(kernel, dtype=float), cmap=kernel_cmap, norm=kernel_norm)
    axes[2].set_title(f"{TIMES} kernel")
    draw_matrix(axes[3], step.products)
    axes[3].set_title(f"= products, sum {step.value:.3g}")
    cmap_out, norm_out = style(step.output)
    draw_matrix(axes[4], step.partial, cmap=cmap_out, norm=norm_out)
    highlight(axes[4], step.row, step.col, 1, 1)
    axes[4].set_title(
        f"output {shape_text(step.output.shape)}, cell ({step.row}, {step.col}) = {step.value:.3g}"
    )
    return fig


def show_kernels(weight, *, channel=0, fig=None, ncols=8):
    """A grid of convolution kernels, one panel per filter, on one shared scale.

    Parameters
    ----------
    weight : ndarray of shape (F, C, KH, KW)
        A bank of ``F`` filters, each with one kernel per input channel.
    channel : int or "mean", default 0
        Which input channel's kernel to draw, or the mean over the channels;
        the figure title says which.
    fig : matplotlib Figure, optional
    ncols : int, default 8
        Panels per row.

    Returns
    -------
    matplotlib Figure
        One axes per filter, titled ``filter f``.
    """
    func = "show_kernels"
    weight = as_float_array(func, "weight", weight, ndim=4, layout="(F, C, KH, KW)")
    n_filters, n_channels = weight.shape[:2]
    if n_filters == 0 or n_channels == 0:
        raise ValueError(f"{func}: weight must hold at least one kernel, got shape {weight.shape}")
    if channel == "mean":
        kernels = weight.mean(axis=1)
        which = f"mean over the {n_channels} input channels"
    else:
        channel = as_int(func, "channel", channel, minimum=0)
        if channel >= n_channels:
            raise ValueError(
                f"{func}: channel must be below the {n_channels} input channels of weight "
                f"{weight.shape}, or 'mean', got {channel}"
            )
        kernels = weight[:, channel]
        which = f"input channel {channel} of {n_channels}"
    ncols = as_int(func, "ncols", ncols, minimum=1)
    cmap, norm = style(kernels, centred=True)
    columns = min(n_filters, ncols)
    fig = _figure(func, fig, (1.6 * columns + 0.4, 1.7 * math.ceil(n_filters / columns) + 0.5))
    for f, ax in enumerate(_grid(fig, n_filters, ncols)):
        draw_matrix(ax, kernels[f], cmap=cmap, norm=norm)
        ax.set_title(f"filter {f}", fontsize=9)
    fig.suptitle(f"{n_filters} kernels of {shape_text(kernels.shape[1:])}, {which}")
    return fig


def _map_style(maps: np.ndarray):
    """Feature maps: centred on 0 when signed; from 0 on viridis when not (after a ReLU)."""
    finite = maps[np.isfinite(maps)]
    if finite.size and finite.min() >= 0:
        return SEQUENTIAL, Normalize(0.0, float(finite.max()) or 1.0)
    return style(maps)


def show_feature_maps(maps, *, index=0, fig=None, ncols=8, max_maps=64, shared_scale=True):
    """A grid of feature (activation) maps of one example, on one shared scale.

    Parameters
    ----------
    maps : ndarray of shape (C, H, W) or (N, C, H, W)
        The output of a convolution or pooling layer.
    index : int, default 0
        Which example of a batch to draw.
    fig : matplotlib Figure, optional
    ncols : int, default 8
    max_maps : int, default 64
        Draw at most this many maps.
    shared_scale : bool, default True
        One colour scale for all maps, so that their strengths compare; with
        ``False`` each map spans its own range, which shows the pattern of a
        weak map next to a strong one.

    Returns
    -------
    matplotlib Figure
        One axes per map, titled ``map c``.
    """
    func = "show_feature_maps"
    maps = as_float_array(func, "maps", maps, ndim=(3, 4), layout="(C, H, W) or (N, C, H, W)")
    example = ""
    if maps.ndim == 4:
        index = as_int(func, "index", index, minimum=0)
        if index >= maps.shape[0]:
            raise ValueError(
                f"{func}: index must be below the batch size {maps.shape[0]}, got {index}"
            )
        maps, example = maps[index], f" of example {index}"
    if 0 in maps.shape:
        raise ValueError(f"{func}: maps must not be empty, got shape {maps.shape}")
    shown = maps[: as_int(func, "max_maps", max_maps, minimum=1)]
    cmap, norm = _map_style(shown)
    columns = min(len(shown), as_int(func, "ncols", ncols, minimum=1))
    fig = _figure(func, fig, (1.7 * columns + 0.4, 1.8 * math.ceil(len(shown) / columns) + 0.5))
    for c, ax in enumerate(_grid(fig, len(shown), columns)):
        if not shared_scale:
            cmap, norm = _map_style(shown[c])
        draw_matrix(ax, shown[c], cmap=cmap, norm=norm, grid=False)
        ax.set_title(f"map {c}", fontsize=9)
    more = f" (first {len(shown)} shown)" if len(shown) < len(maps) else ""
    fig.suptitle(f"{len(maps)} feature maps of {shape_text(maps.shape[1:])}{example}{more}")
    return fig


# ------------------------------------------------------------------------- pooling


def show_pooling(x, kernel_size=2, stride=None, *, mode="max", row=0, col=0, fig=None):
    """A feature map with one pooling window outlined, and the pooled map.

    Parameters
    ----------
    x : ndarray of shape (H, W)
        One feature map.
    kernel_size : int or (int, int), default 2
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    mode : {"max", "avg"}, default "max"
        :func:`cnnlab.ops.max_pool2d` or :func:`cnnlab.ops.avg_pool2d`
        (``"average"`` is accepted too).
    row, col : int, default 0
        The output cell whose window is outlined.
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib Figure
        Two axes: the input (window outlined; for max pooling the winning cell
        dotted) and the output (the cell outlined).
    """
    func = "show_pooling"
    x = as_float_array(func, "x", x, ndim=2, layout="(H, W)")
    kernel = int_pair(func, "kernel_size", kernel_size, minimum=1)
    step = kernel if stride is None else int_pair(func, "stride", stride, minimum=1)
    if mode not in ("max", "avg", "average"):
        raise ValueError(f"{func}: mode must be 'max' or 'avg', got {describe(mode)}")
    if kernel[0] > x.shape[0] or kernel[1] > x.shape[1]:
        raise ValueError(f"{func}: kernel_size {kernel} is larger than the feature map {x.shape}")
    pool = ops.max_pool2d if mode == "max" else ops.avg_pool2d
    out = pool(x[None, None], kernel, step)[0, 0]
    row, col = as_int(func, "row", row, minimum=0), as_int(func, "col", col, minimum=0)
    if row >= out.shape[0] or col >= out.shape[1]:
        raise ValueError(
            f"{func}: (row, col) must be a cell of the output, of shape {out.shape}, "
            f"got ({row}, {col})"
        )
    top, left = row * step[0], col * step[1]
    fig = _figure(func, fig, (9, 4.2))
    axes = fig.subplots(1, 2, width_ratios=[x.shape[1], max(out.shape[1], x.shape[1] / 2)])
    cmap, norm = style(x)
    draw_matrix(axes[0], x, cmap=cmap, norm=norm)
    highlight(axes[0], top, left, *kernel)
    if mode == "max":
        window = x[top : top + kernel[0], left : left + kernel[1]]
        i, j = np.unravel_index(np.argmax(window), window.shape)
        highlight(axes[0], top + i, left + j, 1, 1, linewidth=2, linestyle=":", edgecolor="black")
    axes[0].set_title(f"input {shape_text(x.shape)}, window at ({top}, {left})")
    draw_matrix(axes[1], out, cmap=cmap, norm=norm)
    highlight(axes[1], row, col, 1, 1)
    name = "max" if mode == "max" else "average"
    axes[1].set_title(
        f"{name} pool {shape_text(kernel)}, stride {step[0] if step[0] == step[1] else step}"
        f"\n→ {shape_text(out.shape)}, cell ({row}, {col}) = {out[row, col]:.3g}"
    )
    return fig


# ---------------------------------------------------------------------- prediction


def show_probabilities(probs, class_names=None, *, ax=None, title=None):
    """A bar chart of class probabilities, the most probable class highlighted.

    Parameters
    ----------
    probs : ndarray of shape (K,)
        Probabilities in [0, 1], e.g. one row of :func:`cnnlab.ops.softmax`.
    class_names : sequence of str, optional
        One per class; ``0 .. K-1`` by default.
    ax : matplotlib Axes, optional
    title : str, optional
        By default, the predicted class and its probability.

    Returns
    -------
    matplotlib Axes
        The bars are ``ax.patches``, in class order.
    """
    func = "show_probabilities"
    probs = as_float_array(func, "probs", probs, ndim=1, layout="(K,)")
    if probs.size == 0:
        raise ValueError(f"{func}: probs must hold at least one class, got shape (0,)")
    if not np.all(np.isfinite(probs)) or probs.min() < 0 or probs.max() > 1 + 1e-9:
        raise ValueError(
            f"{func}: probs must lie in [0, 1], got values from {probs.min():g} to "
            f"{probs.max():g}; pass softmax(logits), not the logits"
        )
    names = as_class_names(func, class_names, probs.size)
    best = int(np.argmax(probs))
    ax = _axes(func, ax, (max(4.0, 0.6 * probs.size + 1.5), 3.2))
    colours = [ACCENT if k == best else MUTED for k in range(probs.size)]
    bars = ax.bar(range(probs.size), probs, color=colours, edgecolor="black", linewidth=0.5)
    for bar, p in zip(bars, probs, strict=True):
        ax.add_artist(_BarLabel(bar, f"{p:.2f}", fontsize=9 if probs.size <= 12 else 7))
    ax.set_xticks(range(probs.size), names)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("probability")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title if title is not None else f"prediction: {names[best]} ({probs[best]:.0%})")
    return ax


class _BarLabel(mpl.text.Text):
    """A bar's value written above it; turned upright when the bars are too narrow.

    How wide a bar is on screen is only known once the figure is laid out, so
    the choice is made when the label is drawn: side by side, labels of narrow
    bars (ten classes in a small panel) would run into each other. An upright
    label on a tall bar goes inside it, so that it stays below the title.
    """

    def __init__(self, bar, text, **kwargs):
        self._bar = bar
        super().__init__(0, 0, text, ha="center", va="bottom", **kwargs)
        self.set_in_layout(False)

    def draw(self, renderer):
        bar, ax = self._bar, self.axes
        x = bar.get_x() + bar.get_width() / 2
        height = bar.get_height()
        left, right = ax.transData.transform([(bar.get_x(), 0), (bar.get_x() + bar.get_width(), 0)])
        width_pt = (right[0] - left[0]) * 72.0 / self.figure.dpi
        wide_enough = 0.6 * self.get_fontsize() * len(self.get_text()) <= 1.05 * width_pt
        self.set_rotation(0 if wide_enough else 90)
        inside = not wide_enough and height > 0.55
        self.set_position((x, height - 0.02 if inside else height + 0.02))
        self.set_verticalalignment("top" if inside else "bottom")
        face = bar.get_facecolor()
        dark = 0.2126 * face[0] + 0.7152 * face[1] + 0.0722 * face[2] < 0.5
        self.set_color("white" if inside and dark else "black")
        super().draw(renderer)


def show_confusion_matrix(y_true, y_pred, class_names=None, *, num_classes=None, ax=None):
    """Count how often each true class is predicted as each class.

    Row ``i``, column ``j`` holds the number of examples of class ``i``
    predicted as ``j``: the diagonal is right, everything else a confusion.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (N,)
        Class indices.
    class_names : sequence of str, optional
    num_classes : int, optional
        By default ``len(class_names)``, or the largest class seen plus one.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        The counts are written in the cells (``ax.texts``, row by row). The
        mistakes stand out: right answers (the diagonal) are grey, a mistake
        is red, darker the more often it happens, and a confusion that never
        happens is white, its 0 in grey.
    """
    func = "show_confusion_matrix"
    y_true, y_pred = as_labels(func, y_true, name="y_true"), as_labels(func, y_pred, name="y_pred")
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(
            f"{func}: y_true and y_pred must be non-empty and of the same length, "
            f"got shapes {y_true.shape} and {y_pred.shape}"
        )
    seen = int(max(y_true.max(), y_pred.max())) + 1
    if num_classes is None:
        num_classes = len(class_names) if class_names is not None else seen
    num_classes = as_int(func, "num_classes", num_classes, minimum=1)
    if seen > num_classes:
        raise ValueError(f"{func}: found class {seen - 1}, but there are {num_classes} classes")
    names = as_class_names(func, class_names, num_classes)
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2)
    counts = counts.reshape(num_classes, num_classes)
    ax = _axes(func, ax, (float(np.clip(0.5 * num_classes + 2, 3.5, 8)),) * 2)
    _draw_confusions(ax, counts)
    ax.set_xticks(range(num_classes), names)
    ax.set_yticks(range(num_classes), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / y_true.size
    mistakes = y_true.size - int(np.trace(counts))
    ax.set_title(
        f"confusion matrix, accuracy {accuracy:.1%} of {y_true.size}; "
        f"{mistakes} mistake{'' if mistakes == 1 else 's'} in red"
    )
    return ax


def _draw_confusions(ax, counts: np.ndarray) -> None:
    """The counts, with every mistake on its own scale so that even a single one shows.

    On one scale for all cells, a 1 next to a diagonal of 45 is as dark as a 0.
    """
    k = counts.shape[0]
    off = counts.astype(float)
    np.fill_diagonal(off, 0.0)
    top = max(1.0, float(off.max()))
    norm = Normalize(-top / 3, top)  # even a single mistake is clearly red
    colours = mpl.colormaps["Reds"]
    ax.imshow(np.ma.masked_where(off == 0, off), cmap=colours, norm=norm, interpolation="nearest")
    for i in range(k):
        ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, facecolor="#E3E3E3", edgecolor="none"))
    ax.set_xlim(-0.5, k - 0.5)
    ax.set_ylim(k - 0.5, -0.5)
    ax.set_xticks(np.arange(-0.5, k), minor=True)
    ax.set_yticks(np.arange(-0.5, k), minor=True)
    ax.grid(which="minor", color=MUTED, linewidth=0.6)
    ax.tick_params(which="both", length=0)
    longest = len(str(int(counts.max())))
    size = cell_fontsize(ax, counts.shape, longest)
    for (i, j), count in np.ndenumerate(counts):
        if i != j and count:
            red, green, blue, _ = colours(norm(count))
            dark = 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.5
            colour = "white" if dark else "black"
        else:
            colour = "black" if i == j else "#909090"  # a 0 off the diagonal: nothing to see
        ax.add_artist(
            CellText(j, i, str(int(count)), shape=counts.shape, longest=longest, fontsize=size,
                      color=colour)
        )  # fmt: skip


def show_misclassified(images, y_true, y_pred, *, max_images=16, fig=None, ncols=8):
    """A gallery of the examples the model got wrong, titled ``pred 3 / true 8``.

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, 1, H, W)
        The inputs, e.g. the test digits.
    y_true, y_pred : ndarray of shape (N,)
        Class indices.
    max_images : int, default 16
        Draw at most this many, in data order.
    fig : matplotlib Figure, optional
    ncols : int, default 8

    Returns
    -------
    matplotlib Figure
        One axes per misclassified example shown (a single, empty one saying
        so when there is none).
    """
    func = "show_misclassified"
    images = as_float_array(func, "images", images, ndim=(3, 4), layout="(N, H, W) or (N, 1, H, W)")
    if images.ndim == 4:
        if images.shape[1] != 1:
            raise ValueError(
                f"{func}: images must have one channel, (N, 1, H, W), got shape {images.shape}"
            )
        images = images[:, 0]
    y_true, y_pred = as_labels(func, y_true, name="y_true"), as_labels(func, y_pred, name="y_pred")
    if not len(images) == y_true.size == y_pred.size:
        raise ValueError(
            f"{func}: images, y_true and y_pred must have the same length, got "
            f"{len(images)}, {y_true.size} and {y_pred.size}"
        )
    wrong = np.flatnonzero(y_true != y_pred)
    shown = wrong[: as_int(func, "max_images", max_images, minimum=1)]
    if shown.size == 0:
        fig = _figure(func, fig, (4, 1.5))
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            f"no misclassified images among {len(images)}",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        return fig
    columns = min(shown.size, as_int(func, "ncols", ncols, minimum=1))
    fig = _figure(func, fig, (1.5 * columns + 0.3, 1.7 * math.ceil(shown.size / columns) + 0.5))
    for ax, n in zip(_grid(fig, shown.size, columns), shown, strict=True):
        draw_matrix(ax, images[n], cmap=IMAGE, values=False, grid=False)
        ax.set_title(f"pred {y_pred[n]} / true {y_true[n]}", fontsize=9)
    more = f", first {shown.size} shown" if shown.size < wrong.size else ""
    fig.suptitle(f"{wrong.size} of {len(images)} misclassified{more}")
    return fig


# ----------------------------------------------------------------- backpropagation


def show_backprop(names, shapes, operations, *, weights=None, ax=None):
    """The forward pass as a chain of arrays, and the backward pass that runs under it.

    The top row holds the arrays of the forward pass, from the input to the
    loss, joined by the operations that compute them (blue arrows, left to
    right); the bottom row holds the gradient of the loss with respect to each
    of them, computed from the loss back to the input (red arrows, right to
    left), each by the backward step of the operation above it (``flatten``'s
    is a reshape). Weights feed their operation from above; their gradients
    come out of the backward step below.

    Parameters
    ----------
    names : sequence of str, length K + 1
        The arrays, from the input to the loss, e.g. ``["x", "z1", ..., "L"]``.
        The last one is the loss, a number: its own gradient is 1.
    shapes : sequence of tuple or str, length K
        The shape of every array but the loss, e.g. ``x.shape``.
    operations : sequence of str, length K
        The operation from each array to the next, e.g. ``"conv2d"``.
    weights : mapping of int to mapping of str to tuple, optional
        The weights of operation ``k``, by name and shape, e.g.
        ``{0: {"weight": (4, 1, 3, 3), "bias": (4,)}}``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        The boxes are its texts: the arrays first, each followed by its gradient.

    Examples
    --------
    >>> ax = show_backprop(["x", "z", "L"], [(2, 3), (2, 4)], ["dense", "cross_entropy"])
    >>> [t.get_text() for t in ax.texts][:4]
    ['x\\n(2, 3)', 'dx\\n(2, 3)', 'z\\n(2, 4)', 'dz\\n(2, 4)']
    """
    func = "show_backprop"
    names, shapes, operations = (
        _texts(func, "names", names),
        _texts(func, "shapes", shapes, strings_only=False),
        _texts(func, "operations", operations),
    )
    steps = len(operations)
    if steps == 0 or len(names) != steps + 1 or len(shapes) != steps:
        raise ValueError(
            f"{func}: give K + 1 names (the input to the loss), K shapes and K operations, "
            f"K >= 1; got {len(names)} names, {len(shapes)} shapes, {len(operations)} operations"
        )
    weights = {} if weights is None else weights
    if not isinstance(weights, Mapping) or not all(
        isinstance(k, int) and 0 <= k < steps and isinstance(v, Mapping) for k, v in weights.items()
    ):
        raise TypeError(
            f"{func}: weights must map an operation's index (0 to {steps - 1}) to its weights "
            f"by name and shape, e.g. {{0: {{'weight': (4, 1, 3, 3)}}}}, got {describe(weights)}"
        )
    loss = names[-1]
    ax = _axes(func, ax, (1.85 * len(names) + 0.05, 4.4))
    ax.set_xlim(-1.25, steps + 0.55)
    ax.set_ylim(-1.8, 2.5)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.3", "fc": "white", "ec": MUTED}
    forward_arrow = {"arrowstyle": "-|>", "color": ACCENT, "lw": 1.8}
    backward_arrow = {"arrowstyle": "-|>", "color": SECOND, "lw": 1.8}
    for k, (name, shape) in enumerate(zip(names, [*shapes, "(a number)"], strict=True)):
        ax.text(k, 1, f"{name}\n{shape}", ha="center", va="center", bbox=box)
        label = f"d{loss}/d{loss} = 1" if k == steps else f"d{name}\n{shape}"
        ax.text(k, -0.6, label, ha="center", va="center", color=SECOND, bbox=box)
    for k, operation in enumerate(operations):
        ax.annotate("", (k + 0.64, 1), (k + 0.36, 1), arrowprops=forward_arrow)
        ax.text(k + 0.5, 1.28, operation, ha="center", fontsize=9, color=ACCENT)
        ax.annotate("", (k + 0.36, -0.6), (k + 0.64, -0.6), arrowprops=backward_arrow)
        back = "reshape" if operation == "flatten" else operation
        ax.text(k + 0.5, -0.32, back, ha="center", fontsize=9, color=SECOND)
    for k, named in sorted(weights.items()):
        lines = [f"{name} {shape}" for name, shape in named.items()]
        ax.text(k + 0.5, 2.15, "\n".join(lines), ha="center", va="center",
                bbox={**box, "ec": HIGHLIGHT})  # fmt: skip
        ax.annotate("", (k + 0.5, 1.55), (k + 0.5, 1.85), arrowprops={"arrowstyle": "-|>"})
        ax.text(k + 0.5, -1.5, "\n".join("d" + line for line in lines), ha="center",
                va="center", color=SECOND, bbox={**box, "ec": HIGHLIGHT})  # fmt: skip
        ax.annotate("", (k + 0.5, -1.17), (k + 0.5, -0.78), arrowprops=backward_arrow)
    ax.text(-1.2, 1, "forward", va="center", color=ACCENT, fontsize=12, weight="bold")
    ax.text(-1.2, -0.6, "backward", va="center", color=SECOND, fontsize=12, weight="bold")
    return ax


def _texts(func: str, name: str, values, *, strings_only: bool = True) -> list[str]:
    """A list of labels as strings; ``strings_only=False`` admits tuples such as shapes."""
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise TypeError(f"{func}: {name} must be a list, got {describe(values)}")
    if strings_only and not all(isinstance(v, str) for v in values):
        raise TypeError(f"{func}: {name} must be a list of strings, got {describe(values)}")
    return [str(v) for v in values]


# ------------------------------------------------------------------------ training


def plot_history(history, *, fig=None):
    """Loss and accuracy per epoch, on the training and (if present) validation data.

    Parameters
    ----------
    history : mapping
        Lists of one number per epoch under ``train_loss`` (required),
        ``train_accuracy``, ``val_loss`` and ``val_accuracy`` (optional,
        missing, ``None`` or empty when not measured). An object with a
        ``history`` mapping attribute works too.
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib Figure
        Two axes: loss, then accuracy.
    """
    func = "plot_history"
    if not isinstance(history, Mapping) and isinstance(getattr(history, "history", None), Mapping):
        history = history.history
    if not isinstance(history, Mapping):
        raise TypeError(f"{func}: history must be a dict of lists, got {describe(history)}")
    curves = {}
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        value = history.get(key)
        if value is not None and len(value):
            curves[key] = as_float_array(func, f"history[{key!r}]", value, ndim=1)
    if "train_loss" not in curves:
        raise ValueError(
            f"{func}: history must hold a non-empty 'train_loss' list, got keys {sorted(history)}"
        )
    fig = _figure(func, fig, (10, 3.6))
    axes = fig.subplots(1, 2)
    styles = {
        "train": {"color": ACCENT, "marker": "o", "linestyle": "-"},
        "val": {"color": SECOND, "marker": "s", "linestyle": "--"},
    }
    names = {"train": "training", "val": "validation"}
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for split in ("train", "val"):
            y = curves.get(f"{split}_{metric}")
            if y is not None:
                epochs = np.arange(1, y.size + 1)
                ax.plot(epochs, y, label=names[split], markersize=4, **styles[split])
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.lines:
            ax.legend()
        else:
            ax.text(
                0.5,
                0.5,
                f"no {metric} recorded",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="gray",
            )
    return fig
