"""How cnnlab draws a matrix: the colours, the numbers in the cells, the outlines.

Shared by :mod:`cnnlab.viz` (whose pictures are built from these pieces) and
:mod:`cnnlab.widgets` (which composes its own panels from them); not part of
the public API. The colour conventions are explained in :mod:`cnnlab.viz`,
which re-exports the constants.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.colors import CenteredNorm, Normalize
from matplotlib.patches import Rectangle

#: Colour map for unsigned values (feature maps after ReLU, counts, probabilities).
SEQUENTIAL = "viridis"
#: Colour map for signed values, always used with a norm centred on 0.
DIVERGING = "RdBu_r"
#: Colour map for images a learner should recognise (photos, digits, inputs).
IMAGE = "gray"

# Okabe-Ito colours, distinguishable with every common colour-vision deficiency.
HIGHLIGHT = "#E69F00"  # orange: the current window, the current cell
ACCENT = "#0072B2"  # blue: the winning bar, the training curve
SECOND = "#D55E00"  # vermillion: the validation curve
MUTED = "#BBBBBB"  # grey: everything else

#: The sign between the sides of a shape, as in "8 by 8".
TIMES = "\N{MULTIPLICATION SIGN}"
#: The background of every figure: opaque, so that a dark theme does not show through.
BACKGROUND = "white"

#: Largest matrix side whose values are written in the cells by default.
MAX_VALUE_SIDE = 16
#: Values are not written by default when they would need a smaller font than this.
MIN_FONTSIZE = 6.0


def style(a: np.ndarray, cmap=None, default: str = SEQUENTIAL, vmin=None, vmax=None, centred=False):
    """Pick a colour map and norm: diverging and centred on 0 when ``a`` has negatives.

    ``vmin``/``vmax`` fix the range (the other end comes from the data). A
    binary matrix is always drawn on 0..1, so an all-ones image looks "on".
    ``centred`` draws on :data:`DIVERGING` centred on 0 whatever the signs, as
    every kernel is drawn.
    """
    finite = a[np.isfinite(a)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if centred:
        return cmap or DIVERGING, CenteredNorm(vcenter=0.0, halfrange=max(-low, high) or 1.0)
    if vmin is not None or vmax is not None:
        low = low if vmin is None else float(vmin)
        high = high if vmax is None else float(vmax)
        if not low < high:
            raise ValueError(f"vmin must be below vmax, got vmin={low} and vmax={high}")
        return cmap or (DIVERGING if low < 0 < high else default), Normalize(low, high)
    if finite.size and np.isin(finite, (0.0, 1.0)).all():
        return cmap or default, Normalize(vmin=0.0, vmax=1.0)
    if low < 0:
        return cmap or DIVERGING, CenteredNorm(vcenter=0.0, halfrange=max(-low, high) or 1.0)
    if high == low:  # a constant matrix: keep it mid-scale rather than divide by zero
        low, high = low - 1.0, high + 1.0
    return cmap or default, Normalize(vmin=low, vmax=high)


def auto_fmt(a: np.ndarray) -> str:
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return "g"
    biggest = float(np.abs(finite).max())
    if np.all(finite == np.round(finite)) and biggest < 1e6:
        return ".0f"
    return ".2f" if biggest < 10 else ".1f" if biggest < 1000 else ".0f"


def fitting_fontsize(width_pt: float, height_pt: float, shape, longest: int) -> float:
    """A font size that lets ``longest`` characters fit in one cell of a matrix."""
    cell = min(width_pt / shape[1], height_pt / shape[0])
    return float(np.clip(min(0.35 * cell, 0.8 * cell / (0.65 * max(longest, 2))), 4.0, 14.0))


def cell_fontsize(ax, shape, longest: int) -> float:
    """The font size of :func:`fitting_fontsize`, estimated before the figure is laid out."""
    fig = ax.get_figure()
    box = ax.get_position()
    return fitting_fontsize(
        box.width * fig.get_figwidth() * 72, box.height * fig.get_figheight() * 72, shape, longest
    )


class CellText(mpl.text.Text):
    """A value written in a matrix cell, whose font follows the cell's final size.

    The size of an axes is only known once the figure is laid out (constrained
    layout, fixed aspect), so the font size is settled when the text is drawn.
    """

    def __init__(self, x, y, text, *, shape, longest, **kwargs):
        super().__init__(x, y, text, ha="center", va="center", **kwargs)
        self._shape, self._longest = shape, longest
        self.set_in_layout(False)

    def draw(self, renderer):
        box = self.axes.get_window_extent(renderer)
        to_pt = 72.0 / self.figure.dpi
        size = fitting_fontsize(box.width * to_pt, box.height * to_pt, self._shape, self._longest)
        if abs(size - self.get_fontsize()) > 0.05:  # no change, no stale figure, no redraw loop
            self.set_fontsize(size)
        super().draw(renderer)


def format_value(value: float, fmt: str, *, trim: bool = False) -> str:
    """``value`` formatted; ``trim`` drops trailing zeros ("0.50" -> "0.5", "1.00" -> "1")."""
    text = format(float(value) + 0.0, fmt)  # + 0.0 turns -0.0 into 0.0
    if trim and "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def rgb(a: np.ndarray) -> np.ndarray:
    """A colour image as floats in [0, 1] for imshow (0-255 values are scaled)."""
    return np.clip(a / 255.0 if np.nanmax(a) > 1.0 else a, 0.0, 1.0)


def draw_matrix(
    ax, a, *, values=None, fmt=None, cmap=None, norm=None, default=SEQUENTIAL, grid=None
):
    """Draw a 2-D array on ``ax`` cell by cell, optionally with its values written in.

    Returns the ``AxesImage``. Text is black or white, whichever contrasts
    with the colour of its cell.
    """
    if a.ndim == 3:
        image = ax.imshow(rgb(a[..., :3]), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        return image
    if norm is None:
        cmap, norm = style(a, cmap, default)
    colours = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    colours = colours.with_extremes(bad=(0.0, 0.0, 0.0, 0.0))  # NaN cells see-through
    height, width = a.shape
    if np.isnan(a).any():
        ax.add_patch(
            # under the image (zorder -1): it shows only through the see-through NaN cells
            Rectangle(
                (-0.5, -0.5), width, height, fill=False, hatch="///", ec=MUTED, lw=0, zorder=-1
            )
        )
    image = ax.imshow(np.ma.masked_invalid(a), cmap=colours, norm=norm, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if grid is None:
        grid = max(height, width) <= MAX_VALUE_SIDE
    if grid:
        ax.set_xticks(np.arange(-0.5, width), minor=True)
        ax.set_yticks(np.arange(-0.5, height), minor=True)
        ax.grid(which="minor", color="white", linewidth=1)
        ax.tick_params(which="both", length=0)
    if values or (values is None and max(height, width) <= MAX_VALUE_SIDE):
        trim = fmt is None
        fmt = fmt or auto_fmt(a)
        texts = {
            ij: format_value(v, fmt, trim=trim) for ij, v in np.ndenumerate(a) if np.isfinite(v)
        }
        longest = max((len(t) for t in texts.values()), default=1)
        size = cell_fontsize(ax, a.shape, longest)
        if values is None and size < MIN_FONTSIZE:  # unreadable: better no numbers at all
            texts = {}
        for (i, j), text in texts.items():
            red, green, blue, _ = colours(norm(a[i, j]))
            luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
            colour = "black" if luminance > 0.5 else "white"
            ax.add_artist(
                CellText(j, i, text, shape=a.shape, longest=longest, fontsize=size, color=colour)
            )
    return image


def highlight(ax, top: float, left: float, height: float, width: float, **patch):
    """Outline ``height x width`` cells starting at ``(top, left)``; returns the Rectangle.

    ``patch`` overrides the look (``edgecolor``, ``linewidth``, ``linestyle``, ...).
    """
    options = {"edgecolor": HIGHLIGHT, "linewidth": 3, "fill": False, "zorder": 5}
    options.update(patch)
    return ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, **options))


def shape_text(shape) -> str:
    return f" {TIMES} ".join(str(s) for s in shape)
