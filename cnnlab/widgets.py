"""Interactive explorers for the lessons, in the spirit of CNN Explainer.

Each explorer is one line in a notebook, and shows itself when it is the last
expression of a cell::

    from cnnlab.widgets import convolution_explorer
    convolution_explorer()

Move a slider and the picture and the numbers follow. The maths is not
re-implemented here: every number comes from :mod:`cnnlab.ops` (or
:mod:`cnnlab.templates`) and every picture from :mod:`cnnlab.viz`.

Every explorer keeps its controls as attributes (``explorer.stride``,
``explorer.position``, ...) and what it shows as plain data
(``explorer.output``, ``explorer.text``, ...), so it can also be driven from
code: set ``explorer.stride.value = 2`` and read ``explorer.output``. The
figure is rendered to PNG into an ``ipywidgets.Output`` (``explorer.plot``),
which works with or without a Jupyter front end.
"""

from __future__ import annotations

import base64
import functools
import html
import io

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import CenteredNorm, Normalize
from matplotlib.figure import Figure

from cnnlab import _draw, ops, viz
from cnnlab._validation import (
    as_class_names,
    as_float_array,
    as_int,
    as_real,
    as_seed,
    describe,
)

__all__ = [
    "ACTIVATIONS",
    "KERNELS",
    "activation_explorer",
    "convolution_explorer",
    "gradient_descent_explorer",
    "pooling_explorer",
    "softmax_explorer",
]


def _frozen(rows, scale=1.0) -> np.ndarray:
    array = np.array(rows, dtype=np.float64) * scale
    array.flags.writeable = False
    return array


#: Hand-made 3 x 3 kernels. "horizontal edge" (Sobel) responds where brightness
#: changes from top to bottom, i.e. along horizontal edges; "vertical edge" where
#: it changes from left to right.
KERNELS = {
    "identity": _frozen([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "box blur": _frozen(np.ones((3, 3)), 1 / 9),
    "gaussian blur": _frozen([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 1 / 16),
    "sharpen": _frozen([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "horizontal edge": _frozen([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "vertical edge": _frozen([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "outline": _frozen([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
}
_KERNEL_LABELS = {
    "horizontal edge": "horizontal edge (Sobel)",
    "vertical edge": "vertical edge (Sobel)",
}
_IMAGE_ALIASES = {"photo": "espresso", "coffee": "espresso", "line": "vertical"}
_KERNEL_ALIASES = {"edge": "vertical edge", "blur": "gaussian blur", "sobel": "vertical edge"}

#: A hand-drawn 8 x 8 digit 7, the size of scikit-learn's digits.
DIGIT = _frozen(
    [
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 1, 0],
        [0, 0, 0, 0, 0, 1, 0.5, 0],
        [0, 0, 0, 0, 1, 0.5, 0, 0],
        [0, 0, 0, 0.5, 1, 0, 0, 0],
        [0, 0, 0, 1, 0.5, 0, 0, 0],
        [0, 0, 0.5, 1, 0, 0, 0, 0],
        [0, 0, 1, 0.5, 0, 0, 0, 0],
    ]
)
#: The 3 x 3 binary image of lesson 1: a vertical line down the middle column.
LINE = _frozen([[0, 1, 0], [0, 1, 0], [0, 1, 0]])

#: Side of the photo the explorers use, in pixels (as in lesson 0).
PHOTO_SIZE = 64
#: Resolution of the rendered figures.
DPI = 90


@functools.lru_cache(maxsize=1)
def _photo() -> np.ndarray:
    """The espresso cup, grayscale, normalised to [0, 1], read-only."""
    from cnnlab import images

    gray = images.normalize(images.to_grayscale(images.load_photo("coffee", size=PHOTO_SIZE)))
    gray.flags.writeable = False
    return gray


def _size(shape) -> str:
    return _draw.shape_text(shape)


def _sample_images() -> dict[str, np.ndarray]:
    return {
        f"espresso cup, grayscale 0-1 ({_size((PHOTO_SIZE, PHOTO_SIZE))})": _photo(),
        f"digit 7 ({_size(DIGIT.shape)})": DIGIT,
        f"vertical line ({_size(LINE.shape)})": LINE,
    }


def _kernel_name(func: str, name) -> str:
    key = _KERNEL_ALIASES.get(name, name)
    if key not in KERNELS:
        raise ValueError(
            f"{func}: kernel must be a 3 x 3 array or one of {sorted(KERNELS)} "
            f"(or 'edge'), got {describe(name)}"
        )
    return key


def _term(value: float) -> str:
    text = f"{value + 0.0:.3g}"
    return f"({text})" if value < 0 else text


# ---------------------------------------------------------------------------- base


class _Explorer:
    """Holds the controls, the state, the text and the figure.

    Subclasses build their controls and ``self._box``, then implement
    ``_compute`` (state from the controls, returning the lines of text) and
    ``_draw`` (the figure from the state). The figure is drawn only once the
    explorer has been displayed (``widget`` asked for): a picture nobody sees is
    not worth the few tenths of a second it takes, which keeps driving an
    explorer from code fast.
    """

    figsize = (10, 3.5)

    def __init__(self):
        self.figure = Figure(figsize=self.figsize, layout="constrained", facecolor=_draw.BACKGROUND)
        self.plot = widgets.Output()
        self.html = widgets.HTML()
        self.text = ""
        self._box = None
        self._live = False  # True once displayed: from then on every change redraws
        self._busy = False  # True while the explorer itself moves its controls

    @property
    def widget(self) -> widgets.Box:
        """The ipywidgets Box to display; from now on every change redraws the figure."""
        if not self._live:
            self._live = True
            self._redraw()
        return self._box

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _observe(self, *controls):
        for control in controls:
            control.observe(self._changed, names="value")

    def _changed(self, _change=None):
        if not self._busy:
            self.update()

    def update(self):
        """Recompute from the controls, rewrite the text and (once displayed) redraw."""
        lines = self._compute()
        self.text = "\n".join(lines)
        style = "font-family: monospace; white-space: pre-wrap; line-height: 1.5"
        self.html.value = f"<div style='{style}'>{html.escape(self.text)}</div>"
        if self._live:
            self._redraw()

    def _compute(self) -> list[str]:
        raise NotImplementedError

    def _draw(self) -> None:
        raise NotImplementedError

    def _redraw(self):
        """Draw the figure and publish it as a PNG, which needs no front end to be made."""
        self._draw()
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=DPI)
        png = base64.b64encode(buffer.getvalue()).decode("ascii")
        self.plot.outputs = (
            {
                "output_type": "display_data",
                "data": {"image/png": png, "text/plain": f"<{type(self).__name__} figure>"},
                "metadata": {},
            },
        )


def _position_controls(explorer, description: str):
    """A position slider, a play button linked to it, and back / step buttons."""
    # continuous_update=False: a redraw takes a few tenths of a second, dragging would queue many
    explorer.position = widgets.IntSlider(
        0, min=0, max=0, description=description, continuous_update=False
    )
    explorer.play = widgets.Play(0, min=0, max=0, interval=400, description="slide")
    widgets.link((explorer.play, "value"), (explorer.position, "value"))
    widgets.link((explorer.play, "max"), (explorer.position, "max"))
    explorer.back_button = widgets.Button(description="◀ back", layout={"width": "80px"})
    explorer.step_button = widgets.Button(description="step ▶", layout={"width": "80px"})

    def move(delta):
        count = explorer.position.max + 1
        explorer.position.value = (explorer.position.value + delta) % count

    explorer.back_button.on_click(lambda _: move(-1))
    explorer.step_button.on_click(lambda _: move(+1))
    return widgets.HBox(
        [explorer.position, explorer.play, explorer.back_button, explorer.step_button]
    )


def _set_positions(explorer, rows: int, cols: int) -> tuple[int, int]:
    """Let the position slider run over ``rows x cols`` cells, keeping its value if it fits.

    The explorer does not react to its own move; returns the ``(row, col)`` it is on.
    """
    count = rows * cols
    explorer._busy = True
    try:
        explorer.position.max = max(count - 1, explorer.position.value)  # never clamp silently
        explorer.position.value = min(explorer.position.value, count - 1)
        explorer.position.max = count - 1
    finally:
        explorer._busy = False
    return divmod(explorer.position.value, cols)


# ---------------------------------------------------------------------- convolution


class ConvolutionExplorer(_Explorer):
    """A 3 x 3 kernel sliding over an image; see :func:`convolution_explorer`."""

    figsize = (15, 3.6)

    def __init__(self, image=None, kernel="edge"):
        super().__init__()
        func = "convolution_explorer"
        self.images = _sample_images()
        start = next(iter(self.images))
        if isinstance(image, str):
            image = _IMAGE_ALIASES.get(image, image)
            matches = [label for label in self.images if label.startswith(image)]
            if not matches:
                raise ValueError(
                    f"{func}: image must be an array (H, W) or one of "
                    f"{[label.split(' ')[0] for label in self.images]}, got {describe(image)}"
                )
            start = matches[0]
        elif image is not None:
            array = as_float_array(func, "image", image, ndim=2, layout="(H, W)")
            if min(array.shape) < 3:
                raise ValueError(
                    f"{func}: image must be at least 3 x 3 for a 3 x 3 kernel, got {array.shape}"
                )
            start = f"your image ({_size(array.shape)})"
            self.images = {start: array, **self.images}
        if isinstance(kernel, str):
            preset, values = _kernel_name(func, kernel), KERNELS[_kernel_name(func, kernel)]
        else:
            values = as_float_array(func, "kernel", kernel, ndim=2, layout="(3, 3)")
            if values.shape != (3, 3):
                raise ValueError(f"{func}: kernel must have shape (3, 3), got {values.shape}")
            preset = "custom"

        # As wide as its longest label: at the default width a browser cuts off the size.
        self.image_choice = widgets.Dropdown(
            options=list(self.images),
            value=start,
            description="image",
            layout={"width": "max-content"},
        )
        options = [(_KERNEL_LABELS.get(k, k), k) for k in KERNELS] + [("custom", "custom")]
        self.kernel_choice = widgets.Dropdown(options=options, value=preset, description="kernel")
        self.kernel_cells = [
            widgets.FloatText(value=float(v), step=0.1, layout={"width": "72px"})
            for v in values.ravel()
        ]
        self.stride = widgets.IntSlider(1, min=1, max=3, description="stride")
        self.padding = widgets.IntSlider(0, min=0, max=2, description="padding")
        positions = _position_controls(self, "position")

        self._observe(self.image_choice, self.stride, self.padding, self.position)
        self.kernel_choice.observe(self._preset_chosen, names="value")
        for cell in self.kernel_cells:
            cell.observe(self._cell_edited, names="value")

        grid = widgets.GridBox(
            self.kernel_cells, layout={"grid_template_columns": "repeat(3, 76px)"}
        )
        self._box = widgets.VBox(
            [
                widgets.HBox(
                    [
                        widgets.VBox(
                            [self.image_choice, self.kernel_choice, self.stride, self.padding]
                        ),
                        widgets.VBox([widgets.Label("kernel (edit any number)"), grid]),
                    ]
                ),
                positions,
                self.html,
                self.plot,
            ]
        )
        self.update()

    @property
    def kernel(self) -> np.ndarray:
        """The 3 x 3 kernel in the nine boxes."""
        return np.array([cell.value for cell in self.kernel_cells], dtype=np.float64).reshape(3, 3)

    @property
    def image(self) -> np.ndarray:
        """The image chosen in the dropdown."""
        return self.images[self.image_choice.value]

    def _preset_chosen(self, change):
        if self._busy or change["new"] == "custom":
            return
        self._busy = True
        try:
            for cell, value in zip(self.kernel_cells, KERNELS[change["new"]].ravel(), strict=True):
                cell.value = float(value)
        finally:
            self._busy = False
        self.update()

    def _cell_edited(self, _change):
        if self._busy:
            return
        self._busy = True
        try:
            self.kernel_choice.value = "custom"
        finally:
            self._busy = False
        self.update()

    def _compute(self):
        image, kernel = self.image, self.kernel
        stride, padding = self.stride.value, self.padding.value
        height, width = image.shape
        rows = ops.output_size(height, 3, stride, padding)
        cols = ops.output_size(width, 3, stride, padding)
        self.row, self.col = _set_positions(self, rows, cols)
        step = viz.convolution_step(
            image, kernel, self.row, self.col, stride=stride, padding=padding
        )
        self.step = step
        self.window, self.products, self.value = step.window, step.products, step.value
        self.full_output, self.output = step.output, step.partial
        terms = " + ".join(
            f"{_term(w)}*{_term(k)}"
            for w, k in zip(step.window.ravel(), kernel.ravel(), strict=True)
        )
        return [
            f"output[{self.row}, {self.col}] = sum(window * kernel)",
            f"  = {terms}",
            f"  = {self.value + 0.0:.4g}",
            f"output size: ({height} + 2*{padding} - 3) // {stride} + 1 = {rows} rows, "
            f"({width} + 2*{padding} - 3) // {stride} + 1 = {cols} columns; "
            f"{self.position.value + 1} of {rows * cols} cells computed",
        ]

    def _draw(self):
        viz.show_convolution_step(
            self.image,
            self.kernel,
            self.row,
            self.col,
            stride=self.stride.value,
            padding=self.padding.value,
            fig=self.figure,
        )


def convolution_explorer(image=None, kernel="edge") -> ConvolutionExplorer:
    """Slide a 3 x 3 kernel over an image, one multiply-and-sum at a time.

    Choose the image (the espresso cup in grayscale, normalised to 0-1; a small
    digit; the 3 x 3 line image of lesson 1), a preset kernel or your own (edit
    the nine numbers), the stride and the padding; then step the window with the
    buttons, drag the position slider or press play. The figure shows the window
    on the input, the kernel, their products and the activation map growing cell
    by cell (blank cells are not computed yet); the text writes the sum out.

    Parameters
    ----------
    image : ndarray of shape (H, W) or str, optional
        Your own image (at least 3 x 3), or a sample: "photo" (the espresso
        cup, the default), "digit" or "line".
    kernel : str or ndarray of shape (3, 3), default "edge"
        A key of :data:`KERNELS` ("edge" is the vertical Sobel edge detector),
        or your own numbers.

    Returns
    -------
    ConvolutionExplorer
        Controls: ``image_choice``, ``kernel_choice``, ``kernel_cells`` (9),
        ``stride``, ``padding``, ``position``, ``play``, ``step_button``,
        ``back_button``. State: ``row``, ``col``, ``window``, ``products``,
        ``value``, ``output`` (NaN where not computed yet), ``full_output``
        (:func:`cnnlab.ops.correlate2d`), ``text``.
    """
    return ConvolutionExplorer(image, kernel)


# ----------------------------------------------------------------------- activation


def _leaky_relu(x, slope):
    return np.where(x > 0, x, slope * x)


def _sigmoid(x, _slope=None):
    return np.exp(-np.logaddexp(0.0, -x))  # 1 / (1 + exp(-x)) without overflow


#: The activation functions to compare; only ReLU is part of :mod:`cnnlab.ops`.
ACTIVATIONS = {
    "ReLU": lambda x, _slope=None: ops.relu(x),
    "leaky ReLU": _leaky_relu,
    "sigmoid": _sigmoid,
    "tanh": lambda x, _slope=None: np.tanh(x),
}


class ActivationExplorer(_Explorer):
    """An activation function applied to an activation map; see :func:`activation_explorer`."""

    figsize = (15, 3.8)

    def __init__(self, x=None, function="ReLU", bias=0.0):
        super().__init__()
        func = "activation_explorer"
        if x is None:
            x = ops.correlate2d(_photo(), KERNELS["vertical edge"])
            source = "the espresso cup * vertical-edge kernel"
        else:
            source = "your map"
        self.x = as_float_array(func, "x", x, ndim=2, layout="(H, W)")
        if self.x.size == 0 or not np.all(np.isfinite(self.x)):
            raise ValueError(f"{func}: x must be a non-empty map of finite numbers")
        if function not in ACTIVATIONS:
            raise ValueError(
                f"{func}: function must be one of {list(ACTIVATIONS)}, got {describe(function)}"
            )
        self.source = source
        reach = float(np.ceil(np.abs(self.x).max() * 10) / 10) or 1.0
        bias = as_real(func, "bias", bias)
        self.function = widgets.ToggleButtons(
            options=list(ACTIVATIONS), value=function, description="function"
        )
        self.bias = widgets.FloatSlider(
            float(np.clip(bias, -reach, reach)),
            min=-reach,
            max=reach,
            step=reach / 100,
            description="bias",
            continuous_update=False,
        )
        self.slope = widgets.FloatSlider(
            0.1, min=0.01, max=0.5, step=0.01, description="leak slope", continuous_update=False
        )
        self._observe(self.function, self.bias, self.slope)
        self._box = widgets.VBox(
            [self.function, widgets.HBox([self.bias, self.slope]), self.html, self.plot]
        )
        self.update()

    def _compute(self):
        name, slope = self.function.value, self.slope.value
        self.slope.disabled = name != "leaky ReLU"
        self.pre_activation = self.x + self.bias.value
        self.result = ACTIVATIONS[name](self.pre_activation, slope)
        self.zeroed = self.result == 0
        self.fraction_zeroed = float(self.zeroed.mean())
        count, total = int(self.zeroed.sum()), self.x.size
        negatives = float((self.pre_activation < 0).mean())
        what = {
            "ReLU": "every negative value becomes 0, positive values pass unchanged",
            "leaky ReLU": f"negative values are multiplied by {slope:g} instead of zeroed",
            "sigmoid": "everything is squashed into (0, 1); nothing becomes exactly 0",
            "tanh": "everything is squashed into (-1, 1); the sign is kept",
        }[name]
        return [
            f"{name}(map + bias), bias = {self.bias.value:+.2f}: {what}.",
            f"{100 * negatives:.1f} % of map + bias is negative; "
            f"{name} sets {count} of {total} values ({100 * self.fraction_zeroed:.1f} %) to 0.",
        ]

    def _draw(self):
        name, slope = self.function.value, self.slope.value
        fig = self.figure
        fig.clear()
        axes = fig.subplots(1, 4)
        cmap, norm = _draw.style(self.pre_activation)
        _draw.draw_matrix(axes[0], self.pre_activation, cmap=cmap, norm=norm, values=False)
        axes[0].set_title(f"map + bias ({self.source})", fontsize=9)
        if name == "ReLU":  # a ReLU map, as every lesson draws one: viridis from 0
            result_cmap, result_norm = _draw.SEQUENTIAL, Normalize(0.0, norm.vmax)
        elif name == "leaky ReLU":  # still signed: the scale of its input
            result_cmap, result_norm = cmap, norm
        else:
            result_cmap, result_norm = None, None
        _draw.draw_matrix(axes[1], self.result, cmap=result_cmap, norm=result_norm, values=False)
        axes[1].set_title(f"after {name}")
        _draw.draw_matrix(
            axes[2], self.zeroed.astype(float), cmap="gray_r", norm=Normalize(0, 1), values=False
        )
        axes[2].set_title(f"zeroed (black): {100 * self.fraction_zeroed:.1f} %")
        reach = max(float(np.abs(self.pre_activation).max()), 1.0)
        z = np.linspace(-reach, reach, 401)
        axes[3].hist(
            self.pre_activation.ravel(),
            bins=41,
            range=(-reach, reach),
            color=_draw.MUTED,
            density=True,
            label="values of map + bias",
        )
        curve = axes[3].twinx()
        curve.plot(z, ACTIVATIONS[name](z, slope), color=_draw.ACCENT, linewidth=2.5, label=name)
        curve.axhline(0, color="black", linewidth=0.6)
        axes[3].axvline(0, color="black", linewidth=0.6)
        axes[3].set_yticks([])
        axes[3].set_xlabel("input value")
        curve.set_ylabel(f"{name}(input)")
        axes[3].set_title(f"{name} and the histogram of inputs", fontsize=9)


def activation_explorer(x=None, function="ReLU", bias=0.0) -> ActivationExplorer:
    """Apply ReLU (or leaky ReLU, sigmoid, tanh) to an activation map and see what is zeroed.

    The map defaults to the espresso cup convolved with the vertical-edge
    kernel (no padding, so 62 x 62): positive where the image gets brighter to the right,
    negative where it gets darker. The bias slider shifts the map before the
    activation, like a convolution's bias, and so moves the threshold: the
    panels show the map, the result, which cells became 0, and the function
    over a histogram of its inputs.

    Parameters
    ----------
    x : ndarray of shape (H, W), optional
        Your own activation map.
    function : {"ReLU", "leaky ReLU", "sigmoid", "tanh"}, default "ReLU"
    bias : float, default 0.0

    Returns
    -------
    ActivationExplorer
        Controls: ``function``, ``bias``, ``slope``. State: ``x``,
        ``pre_activation`` (x + bias), ``result``, ``zeroed`` (bool mask),
        ``fraction_zeroed``, ``text``.
    """
    return ActivationExplorer(x, function, bias)


# -------------------------------------------------------------------------- pooling


class PoolingExplorer(_Explorer):
    """Max or average pooling of a feature map; see :func:`pooling_explorer`."""

    figsize = (10, 4.4)

    def __init__(self, x=None, kernel_size=2, stride=2, mode="max"):
        super().__init__()
        func = "pooling_explorer"
        edge = KERNELS["vertical edge"]
        self.maps = {
            f"digit 7, vertical edges ({_size(DIGIT.shape)})": ops.relu(
                ops.correlate2d(DIGIT, edge, padding=1)
            ),
            f"espresso cup, vertical edges ({_size((PHOTO_SIZE - 2,) * 2)})": ops.relu(
                ops.correlate2d(_photo(), edge)
            ),
        }
        start = next(iter(self.maps))
        if x is not None:
            x = as_float_array(func, "x", x, ndim=2, layout="(H, W)")
            if min(x.shape) < 1:
                raise ValueError(f"{func}: x must not be empty, got shape {x.shape}")
            start = f"your map ({_size(x.shape)})"
            self.maps = {start: x, **self.maps}
        if mode not in ("max", "average", "avg"):
            raise ValueError(f"{func}: mode must be 'max' or 'average', got {describe(mode)}")
        self.map_choice = widgets.Dropdown(
            options=list(self.maps), value=start, description="feature map"
        )
        self.kernel_size = widgets.IntSlider(kernel_size, min=1, max=4, description="kernel")
        self.stride = widgets.IntSlider(stride, min=1, max=4, description="stride")
        self.mode = widgets.ToggleButtons(
            options=["max", "average"],
            value="average" if mode == "avg" else mode,
            description="pooling",
        )
        positions = _position_controls(self, "window")
        self._observe(self.map_choice, self.kernel_size, self.stride, self.mode, self.position)
        self._box = widgets.VBox(
            [
                widgets.HBox(
                    [
                        widgets.VBox([self.map_choice, self.mode]),
                        widgets.VBox([self.kernel_size, self.stride]),
                    ]
                ),
                positions,
                self.html,
                self.plot,
            ]
        )
        self.update()

    def _compute(self):
        x = self.input = self.maps[self.map_choice.value]
        k, s = self.kernel_size.value, self.stride.value
        if k > min(x.shape):  # the window must fit in the map
            self._busy = True
            try:
                self.kernel_size.value = k = min(x.shape)
            finally:
                self._busy = False
        pool = ops.max_pool2d if self.mode.value == "max" else ops.avg_pool2d
        self.output = pool(x[None, None], k, s)[0, 0]
        rows, cols = self.output.shape
        self.row, self.col = _set_positions(self, rows, cols)
        top, left = self.row * s, self.col * s
        self.window = x[top : top + k, left : left + k]
        self.value = float(self.output[self.row, self.col])
        height, width = x.shape
        return [
            f"input {height} x {width} -> output {rows} x {cols}: "
            f"({height} - {k}) // {s} + 1 = {rows} rows, ({width} - {k}) // {s} + 1 = {cols} "
            f"columns",
            f"{self.mode.value} of the window at ({top}, {left}) = {self.value:.4g}; "
            f"{rows * cols} of {x.size} numbers kept ({rows * cols / x.size:.0%})",
        ]

    def _draw(self):
        mode = "max" if self.mode.value == "max" else "avg"
        k, s = self.kernel_size.value, self.stride.value
        viz.show_pooling(self.input, k, s, mode=mode, row=self.row, col=self.col, fig=self.figure)


def pooling_explorer(x=None, kernel_size=2, stride=2, mode="max") -> PoolingExplorer:
    """Max or average pooling on a feature map, with the window you choose.

    The default maps are ReLU'd vertical-edge activation maps of a digit and
    of the espresso cup. Change the kernel size and stride, switch between max
    and average, and move the window: the figure outlines the window and its
    output cell, the text gives the output size and the pooled value. Rows and
    columns that do not fill a whole window are dropped, as in PyTorch.

    Parameters
    ----------
    x : ndarray of shape (H, W), optional
        Your own feature map.
    kernel_size : int, default 2
    stride : int, default 2
    mode : {"max", "average"}, default "max"

    Returns
    -------
    PoolingExplorer
        Controls: ``map_choice``, ``kernel_size``, ``stride``, ``mode``,
        ``position``. State: ``input``, ``output`` (from
        :func:`cnnlab.ops.max_pool2d` / :func:`~cnnlab.ops.avg_pool2d`), ``row``,
        ``col``, ``window``, ``value``, ``text``.
    """
    return PoolingExplorer(x, kernel_size, stride, mode)


# -------------------------------------------------------------------------- softmax


class SoftmaxExplorer(_Explorer):
    """Logits in, probabilities out; see :func:`softmax_explorer`."""

    figsize = (10, 3.4)

    def __init__(self, logits=(2.0, 1.0, 0.1), temperature=1.0, class_names=None):
        super().__init__()
        func = "softmax_explorer"
        logits = as_float_array(func, "logits", logits, ndim=1, layout="(K,)")
        if not 2 <= logits.size <= 10 or not np.all(np.isfinite(logits)):
            raise ValueError(
                f"{func}: logits must hold 2 to 10 finite numbers, got {describe(logits)}"
            )
        temperature = as_real(func, "temperature", temperature, above=0)
        self.class_names = as_class_names(func, class_names, logits.size)
        low, high = min(-10.0, float(logits.min())), max(10.0, float(logits.max()))
        self.logit_sliders = [
            widgets.FloatSlider(float(z), min=low, max=high, step=0.1, description=name)
            for z, name in zip(logits, self.class_names, strict=True)
        ]
        self.temperature = widgets.FloatLogSlider(
            temperature, base=10, min=-1, max=1, step=0.01, description="temperature"
        )
        self.equal_button = widgets.Button(description="make all logits equal")
        self.equal_button.on_click(self._equalise)
        self._observe(self.temperature, *self.logit_sliders)
        self._box = widgets.VBox(
            [
                widgets.HBox(
                    [
                        widgets.VBox(self.logit_sliders),
                        widgets.VBox([self.temperature, self.equal_button]),
                    ]
                ),
                self.html,
                self.plot,
            ]
        )
        self.update()

    def _equalise(self, _button=None):
        self._busy = True
        try:
            for slider in self.logit_sliders:
                slider.value = 0.0
        finally:
            self._busy = False
        self.update()

    def _compute(self):
        self.logits = np.array([s.value for s in self.logit_sliders], dtype=np.float64)
        t = self.temperature.value
        self.probabilities = ops.softmax(self.logits / t)
        k_count = self.logits.size
        rows = [
            f"{name:>8}: logit {z:+6.2f}, logit/T {z / t:+7.2f}, probability {p:.4f}"
            for name, z, p in zip(self.class_names, self.logits, self.probabilities, strict=True)
        ]
        return [
            *rows,
            f"sum of the probabilities = {self.probabilities.sum():.6f} (always 1)",
            f"There is no 'I don't know': all of the probability is shared out among the "
            f"{k_count} classes; even equal logits only give each 1/{k_count} = "
            f"{1 / k_count:.3f}, and the prediction (the largest) still names a class. "
            f"A higher temperature flattens the bars, a lower one sharpens them.",
        ]

    def _draw(self):
        t = self.temperature.value
        fig = self.figure
        fig.clear()
        left, right = fig.subplots(1, 2)
        k = np.arange(self.logits.size)
        left.bar(k, self.logits, color=_draw.MUTED, edgecolor="black", linewidth=0.5)
        left.axhline(0, color="black", linewidth=0.6)
        reach = max(1.0, 1.15 * float(np.abs(self.logits).max()))
        left.set_ylim(-reach, reach)
        left.set_xticks(k, self.class_names)
        left.set_title("logits (any real numbers)")
        left.spines[["top", "right"]].set_visible(False)
        viz.show_probabilities(
            self.probabilities,
            self.class_names,
            ax=right,
            title=f"softmax(logits / {t:.2g}): probabilities",
        )


def softmax_explorer(logits=(2.0, 1.0, 0.1), temperature=1.0, class_names=None):
    """Turn logits into probabilities with :func:`cnnlab.ops.softmax`, live.

    One slider per logit and one for the temperature ``T`` (the logits are
    divided by it). The bars and the numbers always sum to 1: softmax has to
    share out all the probability among the classes, so a network built on it
    cannot answer "I don't know".

    Parameters
    ----------
    logits : sequence of float, default (2.0, 1.0, 0.1)
        2 to 10 class scores.
    temperature : float, default 1.0
        Positive; the slider covers 0.1 to 10.
    class_names : sequence of str, optional

    Returns
    -------
    SoftmaxExplorer
        Controls: ``logit_sliders``, ``temperature``, ``equal_button``.
        State: ``logits``, ``probabilities``, ``text``.
    """
    return SoftmaxExplorer(logits, temperature, class_names)


# ----------------------------------------------------------------- gradient descent


class GradientDescentExplorer(_Explorer):
    """Learning the 3 x 3 line template; see :func:`gradient_descent_explorer`."""

    figsize = (12, 3.6)

    def __init__(self, lr=1.0, steps=30, *, n_images=100, rng=0):
        super().__init__()
        from cnnlab import data, templates

        func = "gradient_descent_explorer"
        lr = as_real(func, "lr", lr, above=0)
        steps = as_int(func, "steps", steps, minimum=0)
        seed = as_seed(func, "rng", rng)  # one seed for the images, the same for the start
        self.images, self.labels = data.make_line_images(n_images, rng=seed, positive_fraction=0.5)
        self.oracle = templates.LINE_TEMPLATE
        self.start = np.random.default_rng(seed).standard_normal((3, 3))
        self.lr = widgets.FloatLogSlider(
            lr,
            base=10,
            min=-3,
            max=1,
            step=0.05,
            description="learning rate",
            continuous_update=False,
        )
        self.steps = widgets.IntSlider(
            int(steps),
            min=0,
            max=max(300, int(steps)),
            description="steps",
            continuous_update=False,
        )
        self.step_button = widgets.Button(description="step ▶", layout={"width": "90px"})
        self.run_button = widgets.Button(description="run 20 ▶▶", layout={"width": "90px"})
        self.reset_button = widgets.Button(description="reset", layout={"width": "90px"})
        self.step_button.on_click(lambda _: self._advance(1))
        self.run_button.on_click(lambda _: self._advance(20))
        self.reset_button.on_click(lambda _: setattr(self.steps, "value", 0))
        self._observe(self.lr, self.steps)
        self._box = widgets.VBox(
            [
                widgets.HBox([self.lr, self.steps]),
                widgets.HBox([self.step_button, self.run_button, self.reset_button]),
                self.html,
                self.plot,
            ]
        )
        self.update()

    def _advance(self, count):
        self.steps.max = max(self.steps.max, self.steps.value + count)
        self.steps.value += count

    def _compute(self):
        from cnnlab import templates

        lr = self.lr.value
        template = self.start
        losses = [templates.template_loss(template, self.images, self.labels)]
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(self.steps.value):
                grad = templates.template_loss_gradient(template, self.images, self.labels)
                template = templates.sgd_step(template, grad, lr)
                losses.append(templates.template_loss(template, self.images, self.labels))
                if not np.isfinite(losses[-1]) or losses[-1] > 1e12:
                    break  # diverged: the curve says so, no point going on
        self.template, self.losses = template, np.array(losses)
        self.diverged = diverged = len(losses) <= self.steps.value or not np.isfinite(losses[-1])
        predictions = templates.template_predict(template, self.images)
        self.accuracy = float(np.mean((predictions > 0.5) == (self.labels == 1)))
        lines = [
            f"step {len(losses) - 1}: loss {losses[-1]:.4g} (at the start {losses[0]:.4g}); "
            f"{100 * self.accuracy:.0f} % of the {len(self.labels)} images classified right "
            f"(prediction > 0.5 means 'line')",
        ]
        if diverged:
            lines.append(
                f"The loss blew up: learning rate {lr:.3g} is too large, try a smaller one."
            )
        else:
            lines.append("Each step: template = template - learning rate * gradient of the loss.")
        return lines

    def _draw(self):
        diverged = self.diverged
        fig = self.figure
        fig.clear()
        axes = fig.subplots(1, 3, width_ratios=[1, 1, 1.6])
        learned = np.where(np.isfinite(self.template), self.template, np.nan)
        reach = float(np.nanmax(np.abs(learned), initial=1.0))
        norm = CenteredNorm(vcenter=0.0, halfrange=max(reach, 1.0))  # one scale for both
        fmt = ".2f" if reach < 100 else ".1e"
        _draw.draw_matrix(axes[0], learned, cmap=_draw.DIVERGING, norm=norm, fmt=fmt)
        axes[0].set_title(f"learned template, step {len(self.losses) - 1}")
        _draw.draw_matrix(
            axes[1], np.asarray(self.oracle, dtype=float), cmap=_draw.DIVERGING, norm=norm
        )
        axes[1].set_title("the oracle's template")
        steps = np.arange(len(self.losses))
        axes[2].plot(
            steps,
            self.losses,
            color=_draw.ACCENT,
            marker="o" if len(steps) < 40 else "",
            markersize=3,
        )
        if diverged:  # a loss that blows up only fits a logarithmic axis; say so
            axes[2].set_yscale("log")
        axes[2].xaxis.get_major_locator().set_params(integer=True)
        axes[2].set_xlabel("step")
        scale = ", log scale" if diverged else ""
        axes[2].set_ylabel(f"loss (mean squared error{scale})")
        axes[2].set_title("loss, diverging" if diverged else "loss")
        axes[2].grid(alpha=0.3)
        axes[2].spines[["top", "right"]].set_visible(False)


def gradient_descent_explorer(lr=1.0, steps=30, *, n_images=100, rng=0):
    """Learn the 3 x 3 line template of lesson 1 by gradient descent, step by step.

    The data are ``n_images`` binary 3 x 3 images from
    :func:`cnnlab.data.make_line_images` (half of them lines), labelled by the
    oracle. Starting from a seeded random template, each step moves the
    template against the gradient of the mean squared error
    (:func:`cnnlab.templates.template_loss_gradient`, :func:`~cnnlab.templates.sgd_step`),
    using all the images. Change the learning rate and the number of steps (or
    press step / run) and watch the template come to resemble the oracle's and
    the loss fall, or blow up when the learning rate is too large.

    Parameters
    ----------
    lr : float, default 1.0
        Learning rate; the slider covers 0.001 to 10 (above about 4 the loss blows up).
    steps : int, default 30
    n_images : int, default 100
    rng : int, numpy.random.Generator or None, default 0
        Seed of the images and of the starting template (``None`` means 0; a
        Generator gives the seed by drawing one int).

    Returns
    -------
    GradientDescentExplorer
        Controls: ``lr``, ``steps``, ``step_button``, ``run_button``,
        ``reset_button``. State: ``template``, ``losses`` (one per step, the
        first before any step), ``accuracy``, ``oracle``, ``images``,
        ``labels``, ``text``.
    """
    return GradientDescentExplorer(lr, steps, n_images=n_images, rng=rng)
