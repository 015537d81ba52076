"""Bad input gets a clear error at the public boundary, never a wrong answer.

``TypeError`` for a wrong type, ``ValueError`` for a wrong shape or value, and a
message that names the function and the argument and says what came. Each test
starts from a call that works (``VALID``) and breaks one argument.
"""

import re

import numpy as np
import pytest

import cnnlab


def _array(*shape):
    # Distinct, non-symmetric values; the content hardly matters for the checks.
    return np.random.default_rng(sum(shape)).standard_normal(shape)


# One call that works for every public function, by keyword. Shapes: a batch of
# 2 images with 3 channels of 7x5, 4 filters of 3x2, 5 rows of 4 logits.
VALID = {
    "output_size": dict(size=7, kernel_size=3, stride=2, padding=1),
    "correlate2d": dict(image=_array(7, 5), kernel=_array(2, 3), stride=1, padding=0),
    "conv2d": dict(x=_array(2, 3, 7, 5), weight=_array(4, 3, 3, 2), bias=_array(4)),
    "relu": dict(x=_array(2, 3, 7, 5)),
    "max_pool2d": dict(x=_array(2, 3, 7, 5), kernel_size=2, stride=None),
    "avg_pool2d": dict(x=_array(2, 3, 7, 5), kernel_size=2, stride=None),
    "flatten": dict(x=_array(2, 3, 7, 5)),
    "dense": dict(x=_array(5, 7), weight=_array(7, 3), bias=_array(3)),
    "softmax": dict(logits=_array(5, 4), axis=-1),
    "log_softmax": dict(logits=_array(5, 4), axis=-1),
    "cross_entropy": dict(logits=_array(5, 4), labels=np.array([0, 3, 1, 2, 2])),
    "relu_backward": dict(dout=_array(2, 3, 7, 5), x=_array(2, 3, 7, 5)),
    "max_pool2d_backward": dict(dout=_array(2, 3, 3, 2), x=_array(2, 3, 7, 5), kernel_size=2),
    "avg_pool2d_backward": dict(dout=_array(2, 3, 3, 2), x=_array(2, 3, 7, 5), kernel_size=2),
    "conv2d_backward": dict(
        dout=_array(2, 4, 5, 4), x=_array(2, 3, 7, 5), weight=_array(4, 3, 3, 2)
    ),
    "dense_backward": dict(dout=_array(5, 3), x=_array(5, 7), weight=_array(7, 3)),
    "cross_entropy_backward": dict(logits=_array(5, 4), labels=np.array([0, 3, 1, 2, 2])),
    "numerical_gradient": dict(f=np.sum, x=_array(3)),
    "rel_error": dict(a=_array(3), b=_array(3)),
}

ARRAY_ARGUMENTS = [
    (func, name)
    for func, kwargs in VALID.items()
    for name, value in kwargs.items()
    if isinstance(value, np.ndarray)
]

WINDOWED = ["correlate2d", "conv2d", "max_pool2d", "avg_pool2d", "conv2d_backward"]
WINDOWED += ["max_pool2d_backward", "avg_pool2d_backward"]
PADDED = ["correlate2d", "conv2d", "conv2d_backward"]
LABELLED = ["cross_entropy", "cross_entropy_backward"]
BACKWARD = [func for func in VALID if func.endswith("_backward")]


def short_id(value):
    """A test id that reads well: names, shapes and values; a whole message becomes "message"."""
    if isinstance(value, str):
        return value if " " not in value and "\\" not in value else "message"
    if isinstance(value, dict):
        return ",".join(
            f"{k}{v.shape}" if isinstance(v, np.ndarray) else f"{k}={v!r}" for k, v in value.items()
        ).replace(" ", "")
    if isinstance(value, type):
        return value.__name__
    return repr(value).replace(" ", "")


def call(func, **changes):
    """Call ``cnnlab.<func>`` with its valid arguments, some of them replaced."""
    return getattr(cnnlab, func)(**{**VALID[func], **changes})


@pytest.mark.parametrize("func", VALID)
def test_the_valid_calls_work(func):
    """The starting point of every other test here must not raise by itself."""
    call(func)


# ------------------------------------------------------------------------ types


@pytest.mark.parametrize(("func", "name"), ARRAY_ARGUMENTS, ids="-".join)
def test_a_string_instead_of_an_array(func, name):
    with pytest.raises(TypeError, match=rf"^{func}: {name} must be .*the string 'abc'"):
        call(func, **{name: "abc"})


@pytest.mark.parametrize(("func", "name"), ARRAY_ARGUMENTS, ids="-".join)
def test_complex_numbers_instead_of_real_ones(func, name):
    value = VALID[func][name].astype(np.complex128)
    with pytest.raises(TypeError, match=rf"^{func}: {name} must .*complex128"):
        call(func, **{name: value})


@pytest.mark.parametrize("func", ["relu", "conv2d", "softmax", "flatten"])
def test_a_ragged_list(func):
    name = next(iter(VALID[func]))
    with pytest.raises(TypeError, match=rf"^{func}: {name} must be a numpy array of numbers"):
        call(func, **{name: [[1.0, 2.0], [3.0]]})


# ------------------------------------------------------------- number of dimensions


@pytest.mark.parametrize(
    ("func", "name", "shape", "needs"),
    [
        ("correlate2d", "image", (1, 7, 5), "2 dimensions (H, W)"),
        ("correlate2d", "kernel", (3,), "2 dimensions (KH, KW)"),
        ("conv2d", "x", (3, 7, 5), "4 dimensions (N, C, H, W)"),
        ("conv2d", "weight", (4, 3, 3), "4 dimensions (F, C, KH, KW)"),
        ("conv2d", "bias", (4, 1), "1 dimensions (F,)"),
        ("max_pool2d", "x", (3, 7, 5), "4 dimensions (N, C, H, W)"),
        ("avg_pool2d", "x", (7, 5), "4 dimensions (N, C, H, W)"),
        ("dense", "x", (7,), "2 dimensions (N, in_features)"),
        ("dense", "weight", (7, 3, 1), "2 dimensions (in_features, out_features)"),
        ("dense", "bias", (3, 1), "1 dimensions (out_features,)"),
        ("cross_entropy", "logits", (5,), "2 dimensions (N, K)"),
        ("max_pool2d_backward", "x", (3, 7, 5), "4 dimensions (N, C, H, W)"),
        ("avg_pool2d_backward", "x", (3, 7, 5), "4 dimensions (N, C, H, W)"),
        ("conv2d_backward", "x", (2, 3, 7, 5, 1), "4 dimensions (N, C, H, W)"),
        ("conv2d_backward", "weight", (4, 3, 3), "4 dimensions (F, C, KH, KW)"),
        ("dense_backward", "x", (5, 7, 1), "2 dimensions (N, in_features)"),
        ("dense_backward", "weight", (7,), "2 dimensions (in_features, out_features)"),
        ("cross_entropy_backward", "logits", (1, 5, 4), "2 dimensions (N, K)"),
    ],
    ids=short_id,
)
def test_wrong_number_of_dimensions(func, name, shape, needs):
    got = f"got {len(shape)} (shape {shape})"
    with pytest.raises(ValueError, match=re.escape(f"{func}: {name} must have {needs}, {got}")):
        call(func, **{name: _array(*shape)})


def test_flatten_needs_a_batch_axis():
    with pytest.raises(ValueError, match=r"^flatten: x must have a batch axis .*got shape \(5,\)"):
        cnnlab.flatten(_array(5))


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
def test_softmax_of_a_scalar(func):
    with pytest.raises(ValueError, match=rf"^{func}: axis -1 is out of range .*shape \(\)"):
        call(func, logits=np.float64(1.0))


# ------------------------------------------------------------------ matching shapes


@pytest.mark.parametrize("func", ["conv2d", "conv2d_backward"])
def test_channel_mismatch(func):
    """The example of COURSE.md, word for word."""
    x, weight = _array(2, 3, 5, 5), _array(8, 1, 3, 3)
    expected = f"{func}: x has 3 channels but weight expects 1 (x shape (2, 3, 5, 5), "
    expected += "weight shape (8, 1, 3, 3))"
    with pytest.raises(ValueError, match=re.escape(expected)):
        call(func, x=x, weight=weight)


@pytest.mark.parametrize("func", ["dense", "dense_backward"])
def test_feature_mismatch(func):
    with pytest.raises(ValueError, match=rf"^{func}: x has 6 features but weight expects 7"):
        call(func, x=_array(5, 6))


@pytest.mark.parametrize(
    ("func", "length", "needs"),
    [("conv2d", 3, "(4,) (one value per filter"), ("dense", 4, "(3,) (one value per output")],
)
def test_bias_of_the_wrong_length(func, length, needs):
    expected = f"{func}: bias must have shape {needs}"
    with pytest.raises(ValueError, match=re.escape(expected) + rf".*got \({length},\)"):
        call(func, bias=_array(length))


@pytest.mark.parametrize(
    ("func", "changes", "what"),
    [
        (
            "conv2d",
            dict(weight=_array(4, 3, 8, 2)),
            "of size 8 is larger than the padded input height 7 + 2*0 = 7; "
            "use a smaller kernel or more padding",
        ),
        ("conv2d", dict(weight=_array(4, 3, 3, 6)), "input width 5 + 2*0 = 5"),
        ("conv2d", dict(weight=_array(4, 3, 3, 8), padding=1), "input width 5 + 2*1 = 7"),
        ("conv2d_backward", dict(weight=_array(4, 3, 3, 6)), "input width 5 + 2*0 = 5"),
        ("correlate2d", dict(kernel=_array(8, 1)), "input height 7 + 2*0 = 7"),
        ("correlate2d", dict(kernel=_array(1, 6)), "input width 5 + 2*0 = 5"),
        ("max_pool2d", dict(kernel_size=8), "input height 7 + 2*0 = 7"),
        ("avg_pool2d", dict(kernel_size=(2, 6)), "input width 5 + 2*0 = 5"),
        ("max_pool2d_backward", dict(kernel_size=6), "input width 5 + 2*0 = 5"),
        ("avg_pool2d_backward", dict(kernel_size=(8, 1)), "input height 7 + 2*0 = 7"),
        ("output_size", dict(size=3, kernel_size=6, padding=1), "size 3 + 2*1 = 5"),
    ],
    ids=short_id,
)
def test_kernel_larger_than_the_padded_input(func, changes, what):
    with pytest.raises(ValueError, match=rf"^{func}: kernel .*" + re.escape(what)):
        call(func, **changes)


@pytest.mark.parametrize("func", ["conv2d", "correlate2d"])
def test_padding_can_make_room_for_a_large_kernel(func):
    """The padded size is what counts: a 6-wide kernel fits a 5-wide input padded by 1."""
    if func == "conv2d":
        out = call(func, weight=_array(4, 3, 3, 6), padding=(0, 1))
    else:
        out = call(func, kernel=_array(3, 6), padding=(0, 1))
    assert out.shape[-1] == 2


# ------------------------------------------------------------------ strides, padding


@pytest.mark.parametrize("stride", [0, -1, (1, 0), (-2, 1)], ids=str)
@pytest.mark.parametrize("func", WINDOWED)
def test_stride_below_one(func, stride):
    expected = rf"^{func}: stride must be a positive int or a pair of positive ints, got "
    with pytest.raises(ValueError, match=expected + re.escape(repr(stride))):
        call(func, stride=stride)


@pytest.mark.parametrize("stride", [1.5, "2", True, (2, 1.5), (1, 2, 3), [1], 2.0], ids=repr)
@pytest.mark.parametrize("func", WINDOWED)
def test_stride_that_is_not_an_int(func, stride):
    with pytest.raises(TypeError, match=rf"^{func}: stride must be a positive int"):
        call(func, stride=stride)


@pytest.mark.parametrize("func", ["conv2d", "correlate2d"])
def test_stride_none_is_not_a_default_for_convolution(func):
    with pytest.raises(TypeError, match=rf"^{func}: stride must be .*got NoneType None"):
        call(func, stride=None)


@pytest.mark.parametrize("padding", [-1, (0, -1), (-2, 3)], ids=str)
@pytest.mark.parametrize("func", PADDED)
def test_negative_padding(func, padding):
    expected = rf"^{func}: padding must be a non-negative int or a pair of non-negative ints, "
    with pytest.raises(ValueError, match=expected + "got " + re.escape(repr(padding))):
        call(func, padding=padding)


@pytest.mark.parametrize("padding", [0.5, "1", False, (1, 1.0), None], ids=repr)
@pytest.mark.parametrize("func", PADDED)
def test_padding_that_is_not_an_int(func, padding):
    with pytest.raises(TypeError, match=rf"^{func}: padding must be a non-negative int"):
        call(func, padding=padding)


@pytest.mark.parametrize("kernel_size", [0, -2, (2, 0)], ids=str)
@pytest.mark.parametrize("func", ["max_pool2d", "avg_pool2d", "max_pool2d_backward"])
def test_pool_kernel_size_below_one(func, kernel_size):
    with pytest.raises(ValueError, match=rf"^{func}: kernel_size must be a positive int"):
        call(func, kernel_size=kernel_size)


@pytest.mark.parametrize("kernel_size", [2.0, "2", None, True], ids=repr)
@pytest.mark.parametrize("func", ["max_pool2d", "avg_pool2d", "avg_pool2d_backward"])
def test_pool_kernel_size_that_is_not_an_int(func, kernel_size):
    with pytest.raises(TypeError, match=rf"^{func}: kernel_size must be a positive int"):
        call(func, kernel_size=kernel_size)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        (dict(size=0), ValueError, "size must be a positive int, got 0"),
        (dict(kernel_size=0), ValueError, "kernel_size must be a positive int, got 0"),
        (dict(stride=0), ValueError, "stride must be a positive int, got 0"),
        (dict(stride=-2), ValueError, "stride must be a positive int, got -2"),
        (dict(padding=-1), ValueError, "padding must be a non-negative int, got -1"),
        (dict(size=7.0), TypeError, "size must be a positive int, got float 7.0"),
        (dict(stride=1.5), TypeError, "stride must be a positive int, got float 1.5"),
        (dict(stride="2"), TypeError, "stride must be a positive int, got the string '2'"),
        (dict(stride=True), TypeError, "stride must be a positive int, got bool True"),
        (dict(kernel_size=(3, 3)), TypeError, "kernel_size must be a positive int, got tuple"),
        (dict(padding=None), TypeError, "padding must be a non-negative int, got NoneType"),
    ],
    ids=short_id,
)
def test_output_size(changes, error, message):
    with pytest.raises(error, match=re.escape(f"output_size: {message}")):
        call("output_size", **changes)


# ------------------------------------------------------------------------ labels


@pytest.mark.parametrize(
    ("labels", "error", "pattern"),
    [
        ([0, 4, 1, 2, 2], ValueError, r"labels must lie in \[0, 4\) for 4 classes, got \[4\]"),
        ([0, 3, 1, 9, 2], ValueError, r"labels must lie in \[0, 4\) for 4 classes, got \[9\]"),
        ([0, 3, -1, 2, 2], ValueError, r"labels must lie in \[0, 4\) .*got \[-1\]"),
        ([0, 2.5, 1, 2, 2], ValueError, r"labels must be whole class indices.*2\.5"),
        ([0, 3, 1, 2, np.nan], ValueError, r"labels must be whole class indices.*nan"),
        ([0, 3, 1, 2, np.inf], ValueError, r"labels must be whole class indices.*inf"),
        ([0, 3, 1, 2], ValueError, r"labels must have shape \(5,\).*got shape \(4,\)"),
        ([0, 3, 1, 2, 2, 0], ValueError, r"labels must have shape \(5,\).*got shape \(6,\)"),
        ([[0], [3], [1], [2], [2]], ValueError, r"labels must have shape \(5,\).*\(5, 1\)"),
        (3, ValueError, r"labels must have shape \(5,\).*got shape \(\)"),
        ([True, False, True, True, False], TypeError, r"labels must be integer .*dtype bool"),
        (list("abcde"), TypeError, r"labels must be integer class indices"),
        ("01232", TypeError, r"labels must be an array of class indices, got the string"),
        (None, TypeError, r"labels must be an array of class indices, got NoneType"),
    ],
    ids=short_id,
)
@pytest.mark.parametrize("func", LABELLED)
def test_bad_labels(func, labels, error, pattern):
    with pytest.raises(error, match=rf"^{func}: " + pattern):
        call(func, labels=labels)


@pytest.mark.parametrize("func", LABELLED)
def test_an_empty_batch(func):
    with pytest.raises(ValueError, match=rf"^{func}: logits must hold at least one example"):
        call(func, logits=np.zeros((0, 4)), labels=np.zeros(0, dtype=int))


# ------------------------------------------------------------ upstream gradients


@pytest.mark.parametrize(
    ("func", "bad_shape", "good_shape", "forward"),
    [
        ("relu_backward", (2, 3, 7, 4), (2, 3, 7, 5), "relu(x)"),
        ("relu_backward", (3, 2, 7, 5), (2, 3, 7, 5), "relu(x)"),
        ("max_pool2d_backward", (2, 3, 3, 3), (2, 3, 3, 2), "max_pool2d(x)"),
        ("max_pool2d_backward", (2, 3, 7, 5), (2, 3, 3, 2), "max_pool2d(x)"),
        ("avg_pool2d_backward", (2, 3, 3), (2, 3, 3, 2), "avg_pool2d(x)"),
        ("avg_pool2d_backward", (1, 3, 3, 2), (2, 3, 3, 2), "avg_pool2d(x)"),
        ("conv2d_backward", (2, 4, 5, 5), (2, 4, 5, 4), "conv2d(x, weight)"),
        ("conv2d_backward", (2, 3, 5, 4), (2, 4, 5, 4), "conv2d(x, weight)"),
        ("dense_backward", (5, 4), (5, 3), "dense(x, weight)"),
        ("dense_backward", (3, 5), (5, 3), "dense(x, weight)"),
    ],
    ids=short_id,
)
def test_upstream_gradient_of_the_wrong_shape(func, bad_shape, good_shape, forward):
    expected = f"{func}: dout must have shape {good_shape} (the shape of the output of {forward})"
    expected += f", got {bad_shape}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        call(func, dout=_array(*bad_shape))


@pytest.mark.parametrize("func", BACKWARD)
def test_every_backward_checks_the_shape_of_dout(func):
    """Including a ``dout`` with too few dimensions to even index."""
    if func == "cross_entropy_backward":  # takes labels, not dout
        assert "dout" not in VALID[func]
    else:
        with pytest.raises(ValueError, match=rf"^{func}: dout must have shape"):
            call(func, dout=_array(1, 1))


# ------------------------------------------------------------------------- the rest


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
@pytest.mark.parametrize(
    ("axis", "error", "pattern"),
    [
        (2, ValueError, r"axis 2 is out of range for logits of shape \(5, 4\)"),
        (-3, ValueError, r"axis -3 is out of range"),
        ("1", TypeError, r"axis must be an int, got the string '1'"),
        (1.0, TypeError, r"axis must be an int, got float 1.0"),
        (True, TypeError, r"axis must be an int, got bool True"),
        (None, TypeError, r"axis must be an int, got NoneType None"),
    ],
    ids=short_id,
)
def test_softmax_axis(func, axis, error, pattern):
    with pytest.raises(error, match=rf"^{func}: " + pattern):
        call(func, axis=axis)


def test_numerical_gradient_needs_a_callable():
    with pytest.raises(TypeError, match=r"^numerical_gradient: f must be a callable, got an array"):
        call("numerical_gradient", f=np.ones(3))


@pytest.mark.parametrize("h", [0, -1e-5, 0.0])
def test_numerical_gradient_step_must_be_positive(h):
    with pytest.raises(ValueError, match=r"^numerical_gradient: h must be a positive number"):
        call("numerical_gradient", h=h)


def test_numerical_gradient_step_of_the_wrong_type():
    """A string is a wrong type, not a wrong value: TypeError, as for every other argument."""
    with pytest.raises(TypeError, match=r"^numerical_gradient: h must be a positive number"):
        call("numerical_gradient", h="1e-5")


def test_numerical_gradient_of_a_function_that_is_not_scalar():
    """f must return one number; an array should be reported by name, not by numpy."""
    with pytest.raises((TypeError, ValueError), match=r"^numerical_gradient: f must return"):
        call("numerical_gradient", f=lambda v: v * 2)


def test_rel_error_needs_equal_shapes():
    with pytest.raises(ValueError, match=r"^rel_error: a and b must have the same shape"):
        cnnlab.rel_error(np.ones(3), np.ones((3, 1)))


# ------------------------------------------------------------------ empty sizes


@pytest.mark.parametrize(
    ("func", "changes"),
    [
        ("conv2d", dict(weight=_array(4, 3, 0, 2))),
        ("conv2d", dict(weight=_array(4, 3, 3, 0))),
        ("correlate2d", dict(kernel=_array(0, 3))),
        ("conv2d_backward", dict(weight=_array(4, 3, 0, 2))),
    ],
    ids=["conv2d-no-rows", "conv2d-no-columns", "correlate2d-no-rows", "conv2d_backward-no-rows"],
)
def test_an_empty_kernel(func, changes):
    """A kernel with no rows or columns has no window to slide; it must not give zeros."""
    with pytest.raises(ValueError, match=rf"^{func}: (weight|kernel)"):
        call(func, **changes)


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
def test_no_classes(func):
    """Probabilities over zero classes cannot sum to 1: a clear error, not numpy's."""
    with pytest.raises(ValueError, match=rf"^{func}: logits"):
        call(func, logits=np.zeros((5, 0)))


def test_no_filters():
    """A bank of zero filters may give zero maps or a named error, not numpy's reshape error."""
    try:
        out = call("conv2d", weight=_array(0, 3, 3, 2), bias=None)
    except ValueError as error:
        assert str(error).startswith("conv2d: weight"), str(error)
    else:
        assert out.shape == (2, 0, 5, 4)
