"""Laws the ops obey for every input, checked on inputs hypothesis draws.

The examples are small (at most 2 images of 3 channels of 8x8), so each
property runs in well under a second; the profile in ``conftest.py`` makes
the draws the same on every run.
"""

import math

import numpy as np
import oracle
import tolerance
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal
from tolerance import assert_close

from cnnlab import grads, ops

# Bounded, finite values; subnormals only add noise to tolerance arithmetic.
VALUES = st.floats(-10, 10, allow_nan=False, allow_infinity=False, allow_subnormal=False)
SCALARS = st.floats(-3, 3, allow_nan=False, allow_infinity=False, allow_subnormal=False)


F64 = np.float64


def arrays(shape, elements=VALUES):
    return hnp.arrays(np.float64, shape, elements=elements)


def int_or_pair(low, high):
    single = st.integers(low, high)
    return single | st.tuples(single, single)


def pair(value):
    return value if isinstance(value, tuple) else (value, value)


@st.composite
def conv_setups(draw):
    """Shapes and settings of a valid convolution: (x shape, weight shape, stride, padding)."""
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    stride, padding = draw(int_or_pair(1, 3)), draw(int_or_pair(0, 2))
    (ph, pw) = pair(padding)
    kh = draw(st.integers(1, min(4, h + 2 * ph)))
    kw = draw(st.integers(1, min(4, w + 2 * pw)))
    return (n, c, h, w), (f, c, kh, kw), stride, padding


@st.composite
def pool_setups(draw):
    """(x shape, kernel_size, stride) with a kernel that fits the input."""
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kernel = (draw(st.integers(1, h)), draw(st.integers(1, w)))
    kernel_size = kernel[0] if kernel[0] == kernel[1] and draw(st.booleans()) else kernel
    stride = draw(st.none() | int_or_pair(1, 3))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w), kernel_size, stride


def magnitude(x, weight, stride, padding):
    """The largest sum of |x| * |weight| over a window: what rounding errors scale with."""
    return float(ops.conv2d(np.abs(x), np.abs(weight), stride=stride, padding=padding).max())


# ---------------------------------------------------------------------- convolution


@given(setup=conv_setups(), data=st.data(), a=SCALARS, b=SCALARS)
def test_conv2d_is_linear_in_the_input(setup, data, a, b):
    """conv(a*x1 + b*x2, w) == a*conv(x1, w) + b*conv(x2, w)."""
    x_shape, w_shape, stride, padding = setup
    x1, x2 = data.draw(arrays(x_shape)), data.draw(arrays(x_shape))
    weight = data.draw(arrays(w_shape))
    left = ops.conv2d(a * x1 + b * x2, weight, stride=stride, padding=padding)
    right = a * ops.conv2d(x1, weight, stride=stride, padding=padding)
    right += b * ops.conv2d(x2, weight, stride=stride, padding=padding)
    size = magnitude(abs(a) * np.abs(x1) + abs(b) * np.abs(x2), weight, stride, padding)
    assert_allclose(left, right, rtol=1e-9, atol=1e-13 * size)


@given(setup=conv_setups(), data=st.data(), a=SCALARS, b=SCALARS)
def test_conv2d_is_linear_in_the_kernel(setup, data, a, b):
    """conv(x, a*w1 + b*w2) == a*conv(x, w1) + b*conv(x, w2)."""
    x_shape, w_shape, stride, padding = setup
    x = data.draw(arrays(x_shape))
    w1, w2 = data.draw(arrays(w_shape)), data.draw(arrays(w_shape))
    left = ops.conv2d(x, a * w1 + b * w2, stride=stride, padding=padding)
    right = a * ops.conv2d(x, w1, stride=stride, padding=padding)
    right += b * ops.conv2d(x, w2, stride=stride, padding=padding)
    size = magnitude(x, abs(a) * np.abs(w1) + abs(b) * np.abs(w2), stride, padding)
    assert_allclose(left, right, rtol=1e-9, atol=1e-13 * size)


@given(setup=conv_setups(), data=st.data())
def test_bias_shifts_every_map_by_its_value(setup, data):
    x_shape, w_shape, stride, padding = setup
    x, weight = data.draw(arrays(x_shape)), data.draw(arrays(w_shape))
    bias = data.draw(arrays((w_shape[0],)))
    with_bias = ops.conv2d(x, weight, bias, stride=stride, padding=padding)
    without = ops.conv2d(x, weight, stride=stride, padding=padding)
    size = magnitude(x, weight, stride, padding) + 10
    assert_allclose(with_bias, without + bias[:, None, None], rtol=1e-12, atol=1e-13 * size)


@given(setup=conv_setups(), data=st.data())
def test_conv2d_and_its_backward_match_the_oracle_on_any_valid_setup(setup, data):
    """Edge shapes the seeded tests do not pick: 1-pixel images, kernels wider than the image."""
    x_shape, w_shape, stride, padding = setup
    x, weight = data.draw(arrays(x_shape)), data.draw(arrays(w_shape))
    bias = data.draw(arrays((w_shape[0],)))
    out = ops.conv2d(x, weight, bias, stride=stride, padding=padding)
    bound = tolerance.conv2d_bound(x, weight, bias, stride, padding, F64)
    assert_close(out, oracle.conv2d(x, weight, bias, stride, padding), bound, F64)
    dout = data.draw(arrays(out.shape))
    ours = grads.conv2d_backward(dout, x, weight, stride=stride, padding=padding)
    theirs = oracle.conv2d_backward(dout, x, weight, stride, padding)
    bounds = tolerance.conv2d_backward_bounds(dout, x, weight, stride, padding, F64)
    for got, expected, bound in zip(ours, theirs, bounds, strict=True):
        assert_close(got, expected, bound, F64)


@given(setup=pool_setups(), data=st.data())
def test_pooling_and_its_backward_match_the_oracle_on_any_valid_setup(setup, data):
    x_shape, kernel_size, stride = setup
    x = data.draw(arrays(x_shape))
    for name in ["max_pool2d", "avg_pool2d"]:
        out = getattr(ops, name)(x, kernel_size, stride)
        bound = tolerance.pool_bound(name, x, kernel_size, stride, F64)
        assert_close(out, getattr(oracle, name)(x, kernel_size, stride), bound, F64)
        dout = data.draw(arrays(out.shape))
        backward = name + "_backward"
        expected = getattr(oracle, backward)(dout, x, kernel_size, stride)
        got = getattr(grads, backward)(dout, x, kernel_size, stride)
        bound = tolerance.pool_backward_bound(name, dout, x, kernel_size, stride, F64)
        assert_close(got, expected, bound, F64)


@given(setup=conv_setups())
def test_output_size_agrees_with_the_conv2d_output(setup):
    x_shape, w_shape, stride, padding = setup
    out = ops.conv2d(np.ones(x_shape), np.ones(w_shape), stride=stride, padding=padding)
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    expected_h = ops.output_size(x_shape[2], w_shape[2], sh, ph)
    expected_w = ops.output_size(x_shape[3], w_shape[3], sw, pw)
    assert out.shape == (x_shape[0], w_shape[0], expected_h, expected_w)
    assert expected_h == oracle.output_size(x_shape[2], w_shape[2], sh, ph)
    assert expected_w == oracle.output_size(x_shape[3], w_shape[3], sw, pw)


@given(setup=conv_setups(), data=st.data())
def test_conv2d_backward_is_the_adjoint(setup, data):
    """conv2d is linear in x and in weight, so <conv(x, w), dout> = <x, dx> = <w, dweight>."""
    x_shape, w_shape, stride, padding = setup
    x, weight = data.draw(arrays(x_shape)), data.draw(arrays(w_shape))
    out = ops.conv2d(x, weight, stride=stride, padding=padding)
    dout = data.draw(arrays(out.shape))
    dx, dweight, dbias = grads.conv2d_backward(dout, x, weight, stride=stride, padding=padding)
    inner = np.sum(out * dout)
    # Every term of the three sums is a product x * weight * dout; bound their total.
    terms = np.sum(
        ops.conv2d(np.abs(x), np.abs(weight), stride=stride, padding=padding) * np.abs(dout)
    )
    assert math.isclose(np.sum(x * dx), inner, abs_tol=1e-13 * terms)
    assert math.isclose(np.sum(weight * dweight), inner, abs_tol=1e-13 * terms)
    assert_allclose(dbias, dout.sum(axis=(0, 2, 3)), atol=1e-13 * np.abs(dout).sum())


# ------------------------------------------------------------------ softmax, loss


LOGITS = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6).flatmap(
    lambda shape: arrays(shape, st.floats(-50, 50, allow_nan=False, allow_subnormal=False))
)


@given(logits=LOGITS)
def test_softmax_rows_are_probabilities(logits):
    p = ops.softmax(logits)
    assert p.shape == logits.shape
    assert np.all(p >= 0)
    assert np.all(p <= 1)
    assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)


@given(logits=LOGITS, data=st.data())
def test_softmax_sums_to_one_along_any_axis(logits, data):
    axis = data.draw(st.integers(-logits.ndim, logits.ndim - 1))
    assert_allclose(ops.softmax(logits, axis=axis).sum(axis=axis), 1.0, rtol=1e-12)


@given(logits=LOGITS, shift=st.floats(-100, 100, allow_subnormal=False))
def test_softmax_ignores_a_constant_added_to_every_logit(logits, shift):
    assert_allclose(ops.softmax(logits + shift), ops.softmax(logits), rtol=1e-9, atol=1e-12)
    assert_allclose(ops.log_softmax(logits + shift), ops.log_softmax(logits), atol=1e-11)


@given(
    logits=hnp.array_shapes(min_dims=2, max_dims=2, max_side=6).flatmap(
        lambda shape: arrays(shape, st.floats(-1e4, 1e4, allow_subnormal=False))
    )
)
def test_softmax_stays_finite_for_huge_logits(logits):
    p, log_p = ops.softmax(logits), ops.log_softmax(logits)
    assert np.all(np.isfinite(p))
    assert np.all(np.isfinite(log_p))
    assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    # The most likely class has probability between 1/K (a K-way tie) and 1.
    assert np.all(log_p.max(axis=-1) <= 0)
    assert np.all(log_p.max(axis=-1) >= -math.log(logits.shape[-1]) - 1e-12)


@given(logits=LOGITS)
def test_log_softmax_is_the_log_of_softmax(logits):
    assert_allclose(np.exp(ops.log_softmax(logits)), ops.softmax(logits), rtol=1e-9, atol=1e-15)
    assert np.all(ops.log_softmax(logits) <= 0)


@st.composite
def logits_and_labels(draw):
    n, k = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    logits = draw(arrays((n, k), st.floats(-50, 50, allow_nan=False, allow_subnormal=False)))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return logits, labels


@given(case=logits_and_labels())
def test_cross_entropy_is_never_negative(case):
    logits, labels = case
    loss = ops.cross_entropy(logits, labels)
    assert loss >= 0
    assert math.isfinite(loss)
    expected = -np.mean(ops.log_softmax(logits)[np.arange(len(labels)), labels])
    assert math.isclose(loss, expected, rel_tol=1e-12, abs_tol=1e-12)


@given(case=logits_and_labels())
def test_cross_entropy_gradient_rows_sum_to_zero(case):
    """softmax sums to 1 and the one-hot too, so each row of the gradient sums to 0."""
    logits, labels = case
    dlogits = grads.cross_entropy_backward(logits, labels)
    assert_allclose(dlogits.sum(axis=1), 0.0, atol=1e-12)
    assert np.all(dlogits[np.arange(len(labels)), labels] <= 0)


# ------------------------------------------------------------------------- pooling


@given(setup=pool_setups(), data=st.data())
def test_max_pooling_never_exceeds_the_input_maximum(setup, data):
    x_shape, kernel_size, stride = setup
    x = data.draw(arrays(x_shape))
    pooled = ops.max_pool2d(x, kernel_size, stride)
    assert pooled.max() <= x.max()
    assert np.all(np.isin(pooled, x)), "max pooling returned a value that is not in the input"


@given(setup=pool_setups(), data=st.data())
def test_average_lies_between_the_window_min_and_max(setup, data):
    x_shape, kernel_size, stride = setup
    x = data.draw(arrays(x_shape))
    average = ops.avg_pool2d(x, kernel_size, stride)
    biggest = ops.max_pool2d(x, kernel_size, stride)
    smallest = -ops.max_pool2d(-x, kernel_size, stride)
    slack = 1e-12 * max(1.0, float(np.abs(x).max()))
    assert np.all(smallest - slack <= average)
    assert np.all(average <= biggest + slack)


@given(setup=pool_setups())
def test_pool_output_shape_agrees_with_output_size(setup):
    x_shape, kernel_size, stride = setup
    (kh, kw) = pair(kernel_size)
    (sh, sw) = pair(kernel_size if stride is None else stride)
    expected = (
        *x_shape[:2],
        ops.output_size(x_shape[2], kh, sh),
        ops.output_size(x_shape[3], kw, sw),
    )
    assert ops.max_pool2d(np.ones(x_shape), kernel_size, stride).shape == expected
    assert ops.avg_pool2d(np.ones(x_shape), kernel_size, stride).shape == expected


@given(setup=pool_setups(), data=st.data())
def test_max_pool_backward_hands_out_exactly_dout(setup, data):
    """Every window gives its whole gradient to one input: the totals match."""
    x_shape, kernel_size, stride = setup
    x = data.draw(arrays(x_shape))
    dout = data.draw(arrays(ops.max_pool2d(x, kernel_size, stride).shape))
    dx = grads.max_pool2d_backward(dout, x, kernel_size, stride)
    assert math.isclose(dx.sum(), dout.sum(), abs_tol=1e-9)
    assert np.count_nonzero(dx) <= np.count_nonzero(dout)


@given(setup=pool_setups(), data=st.data())
def test_avg_pool_backward_hands_out_exactly_dout(setup, data):
    """Each window shares its gradient among its inputs: nothing is lost or created."""
    x_shape, kernel_size, stride = setup
    x = data.draw(arrays(x_shape))
    dout = data.draw(arrays(ops.avg_pool2d(x, kernel_size, stride).shape))
    dx = grads.avg_pool2d_backward(dout, x, kernel_size, stride)
    assert math.isclose(dx.sum(), dout.sum(), abs_tol=1e-9)


# ---------------------------------------------------------------- relu and flatten


@given(x=hnp.arrays(np.float64, hnp.array_shapes(max_dims=4, max_side=5), elements=VALUES))
def test_relu_is_idempotent_and_non_negative(x):
    once = ops.relu(x)
    assert_array_equal(ops.relu(once), once)
    assert np.all(once >= 0)
    assert_array_equal(once - ops.relu(-x), x)  # relu(x) - relu(-x) == x


@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, max_side=5)))
def test_flatten_round_trips_through_reshape(x):
    flat = ops.flatten(x)
    assert flat.shape == (x.shape[0], math.prod(x.shape[1:]))
    assert_array_equal(flat.reshape(x.shape), x)
