"""Backward ops: worked numbers, the loop oracle, and gradient checks.

Tier 1: gradients small enough to work out by hand. Tier 2: every backward op
against the loop oracle over strides, paddings, kernels and dtypes. Tier 3:
every backward op against central differences in float64 (``rel_error < 1e-7``),
plus negative tests proving that the gradient check catches a wrong gradient,
and the numerical stability of softmax and cross-entropy.
"""

import itertools
import math

import numpy as np
import oracle
import pytest
import tolerance
from numpy.testing import assert_allclose, assert_array_equal
from tolerance import assert_close, exact

from cnnlab import grads, ops
from cnnlab.grads import numerical_gradient, rel_error

TOLERANCE = 1e-7  # the rel_error a correct float64 gradient must reach
# conv2d, dense and avg pooling are linear in each input, and relu and max pooling
# are linear between their kinks, so central differences are exact there for any
# step that does not cross a kink. A step of 1e-3 instead of 1e-5 makes the rounding
# error of the difference quotient 100 times smaller, so that gradient entries
# close to zero still reach the tolerance whatever the seed.
LINEAR_STEP = 1e-3
STRIDES = [1, 2, (2, 1), (3, 2)]  # (3, 2) with a (2, 3) kernel skips a row of every three
PADDINGS = [0, 1, (0, 2)]
KERNELS = [(3, 3), (2, 3)]
DTYPES = [np.float32, np.float64]
F64 = np.float64
POOL_CASES = [
    (2, None),
    (3, 1),  # overlapping windows: an input can win several of them
    (3, 2),  # overlapping, and 7 rows do not divide evenly
    ((2, 3), (2, 1)),
    (2, (1, 3)),  # stride larger than the kernel: some inputs get no gradient
]


def random(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def distinct(rng, shape):
    """Values in [-2, 2) that differ pairwise by 4 / size or more, far more than a step.

    No ties for max pooling, and no step changes which input of a window wins.
    """
    size = math.prod(shape)
    return (rng.permutation(size).reshape(shape) * (4 / size) - 2).astype(np.float64)


def away_from_zero(rng, shape):
    """Values with 0.1 <= |v| < 2, so a small step never crosses ReLU's kink at 0."""
    return rng.uniform(0.1, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def assert_gradient(f, x, analytic, h=1e-5):
    """``analytic`` agrees with the central-difference gradient of ``f`` at ``x``."""
    numeric = numerical_gradient(f, x, h=h)
    assert analytic.shape == x.shape
    error = rel_error(analytic, numeric)
    assert error < TOLERANCE, f"rel_error {error:.2e}"


# ================================================================ tier 1: worked numbers


class TestByHand:
    pool_x = np.array(
        [
            [1.0, 3.0, 2.0, 4.0],
            [5.0, 6.0, 1.0, 2.0],
            [7.0, 1.0, 0.0, 3.0],
            [2.0, 8.0, 4.0, 1.0],
        ]
    )[None, None]

    def test_relu_backward(self):
        """Gradient passes where x > 0; at exactly 0 it is blocked, as in PyTorch."""
        dx = grads.relu_backward([5.0, 6.0, 7.0, 8.0], [-1.0, 2.0, 0.0, 3.0])
        assert_array_equal(dx, [0, 6, 0, 8])

    def test_max_pool_backward_routes_to_each_window_maximum(self):
        """The maxima 6, 4, 8, 4 sit at (1,1), (0,3), (3,1), (3,2)."""
        dx = grads.max_pool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), self.pool_x)
        expected = [[0, 0, 0, 2], [0, 1, 0, 0], [0, 0, 0, 0], [0, 3, 4, 0]]
        assert_array_equal(dx[0, 0], expected)

    @pytest.mark.parametrize("hw", [(4, 4), (5, 4)], ids=["windows-tile-x", "a-row-left-over"])
    def test_max_pool_backward_losers_get_plus_zero(self, hw):
        """A negative gradient times a losing input is -0.0, which numpy prints as "-0.";
        the learner must see 0."""
        x = np.arange(math.prod(hw), dtype=np.float64).reshape(1, 1, *hw)
        dx = grads.max_pool2d_backward(-np.ones((1, 1, 2, 2)), x)
        losers = dx == 0
        assert losers.sum() == math.prod(hw) - 4
        assert not np.signbit(dx[losers]).any()

    def test_max_pool_backward_tie_goes_to_the_first_in_row_major_order(self):
        x = np.array([[[[0.0, 7.0], [7.0, 7.0]]]])
        dx = grads.max_pool2d_backward(np.array([[[[5.0]]]]), x)
        assert_array_equal(dx[0, 0], [[0, 5], [0, 0]])

    def test_max_pool_backward_adds_up_overlapping_wins(self):
        """The centre 9 is the maximum of all four 2x2 windows: it collects 1 + 2 + 3 + 4."""
        x = np.array([[[[1.0, 2.0, 1.0], [0.0, 9.0, 0.0], [1.0, 2.0, 1.0]]]])
        dx = grads.max_pool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), x, 2, stride=1)
        assert_array_equal(dx[0, 0], [[0, 0, 0], [0, 10, 0], [0, 0, 0]])

    def test_avg_pool_backward_shares_equally(self):
        """Each of the four inputs of a 2x2 window gets a quarter; the fifth row gets nothing."""
        x = np.zeros((1, 1, 5, 4))
        dx = grads.avg_pool2d_backward(np.array([[[[4.0, 8.0], [-4.0, 2.0]]]]), x)
        expected = [
            [1, 1, 2, 2],
            [1, 1, 2, 2],
            [-1, -1, 0.5, 0.5],
            [-1, -1, 0.5, 0.5],
            [0, 0, 0, 0],
        ]
        assert_array_equal(dx[0, 0], expected)

    def test_dense_backward(self):
        """dx = dout @ weight.T, dweight = x.T @ dout, dbias = dout summed over the batch."""
        x = np.array([[1.0, 2.0, 3.0]])
        weight = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        dx, dweight, dbias = grads.dense_backward(np.array([[1.0, -1.0]]), x, weight)
        assert_array_equal(dx, [[1, -1, 0]])
        assert_array_equal(dweight, [[1, -1], [2, -2], [3, -3]])
        assert_array_equal(dbias, [1, -1])

    def test_conv2d_backward_with_ones_upstream(self):
        """x = arange(9) as 3x3, kernel arange(4) as 2x2, dout all ones.

        dweight[a, b] sums the pixels the kernel entry (a, b) touched:
        0+1+3+4 = 8, 1+2+4+5 = 12, 3+4+6+7 = 20, 4+5+7+8 = 24.
        dx[r, s] sums the kernel entries that touched pixel (r, s); the centre
        was touched by all four: 0+1+2+3 = 6. dbias counts the 4 outputs.
        """
        x = np.arange(9.0).reshape(1, 1, 3, 3)
        weight = np.arange(4.0).reshape(1, 1, 2, 2)
        dx, dweight, dbias = grads.conv2d_backward(np.ones((1, 1, 2, 2)), x, weight)
        assert_array_equal(dweight[0, 0], [[8, 12], [20, 24]])
        assert_array_equal(dx[0, 0], [[0, 1, 1], [2, 6, 4], [2, 5, 3]])
        assert_array_equal(dbias, [4])

    def test_conv2d_backward_single_output_is_the_window(self):
        """Only the top-right output matters: dx is the kernel placed on its window, and
        dweight is that window of x."""
        x = np.arange(9.0).reshape(1, 1, 3, 3)
        weight = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
        dout = np.array([[[[0.0, 1.0], [0.0, 0.0]]]])
        dx, dweight, dbias = grads.conv2d_backward(dout, x, weight)
        assert_array_equal(dx[0, 0], [[0, 1, 2], [0, 3, 4], [0, 0, 0]])
        assert_array_equal(dweight[0, 0], [[1, 2], [4, 5]])
        assert_array_equal(dbias, [1])

    def test_conv2d_backward_cuts_off_the_padding(self):
        """With padding 1 a 1x1 image and a 3x3 kernel give one output; dx is the centre."""
        weight = np.arange(9.0).reshape(1, 1, 3, 3)
        x = np.full((1, 1, 1, 1), 2.0)
        dx, dweight, _ = grads.conv2d_backward(np.ones((1, 1, 1, 1)), x, weight, padding=1)
        assert_array_equal(dx, [[[[4.0]]]])
        expected = np.zeros((3, 3))
        expected[1, 1] = 2.0
        assert_array_equal(dweight[0, 0], expected)

    def test_cross_entropy_backward(self):
        """softmax([0, ln 2]) = [1/3, 2/3]; minus the one-hot of label 1; over N = 2 rows."""
        logits = np.array([[0.0, math.log(2)], [0.0, math.log(2)]])
        dlogits = grads.cross_entropy_backward(logits, np.array([1, 0]))
        assert_allclose(dlogits, [[1 / 6, -1 / 6], [-1 / 3, 1 / 3]], rtol=1e-14)

    def test_rel_error(self):
        assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
        assert rel_error(np.array([1.0]), np.array([1.1])) == pytest.approx(0.1 / 2.1)
        assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
        assert rel_error(np.array([1.0]), np.array([-1.0])) == 1.0
        # The largest element-wise error counts, not the mean: 1/3 here, not 1/12.
        assert rel_error(np.ones(4), np.array([1.0, 1.0, 1.0, 2.0])) == pytest.approx(1 / 3)

    def test_numerical_gradient_of_a_known_function(self):
        """d/dx sum(x**3) = 3 x**2; central differences are exact up to O(h**2) and rounding."""
        x = np.array([[0.5, -1.0, 2.0], [3.0, -0.25, 1.5]])
        grad = numerical_gradient(lambda v: np.sum(v**3), x)
        assert grad.shape == x.shape
        assert_allclose(grad, 3 * x**2, rtol=1e-8)

    def test_numerical_gradient_does_not_modify_x(self):
        x = np.array([1.0, 2.0, 3.0])
        seen = []
        numerical_gradient(lambda v: seen.append(v is x) or float(v @ v), x)
        assert_array_equal(x, [1, 2, 3])
        assert not any(seen), "f was called on x itself, not on a copy"


# ================================================================ tier 2: against the oracle


PARTS = ("dx", "dweight", "dbias")

# conv2d_backward picks a layout of the window columns by the size of the output
# maps and works on a cache-sized group of images at a time (ops._BATCH_LAST_BELOW,
# ops._GROUP_BYTES): the oracle tests and gradient checks run with every choice forced.
CONV_STRATEGIES = {
    "per-image": (0, None),
    "batch-last": (10**9, None),
    "per-image-one-image-groups": (0, 1),
    "batch-last-one-image-groups": (10**9, 1),
}


@pytest.fixture(params=list(CONV_STRATEGIES))
def conv_strategy(request, monkeypatch):
    """Force the layout (per image or batch last) and, optionally, groups of one image."""
    batch_last_below, group_bytes = CONV_STRATEGIES[request.param]
    monkeypatch.setattr(ops, "_BATCH_LAST_BELOW", batch_last_below)
    if group_bytes is not None:
        monkeypatch.setattr(ops, "_GROUP_BYTES", group_bytes)
    x, weight = np.zeros((2, 1, 4, 4)), np.zeros((1, 1, 3, 3))
    geometry = ops._geometry("test", x, weight, (1, 1), (0, 0))
    assert geometry.batch_last == request.param.startswith("batch-last")
    assert len(geometry.groups(x)) == (2 if group_bytes else 1)
    return request.param


def assert_conv2d_backward_exact(x, weight, dout, stride, padding, dtype):
    """Each of dx, dweight and dbias within its rounding bound of the float64 oracle."""
    ours = grads.conv2d_backward(dout, x, weight, stride=stride, padding=padding)
    assert len(ours) == 3
    theirs = exact(oracle.conv2d_backward, dout, x, weight, stride, padding)
    bounds = tolerance.conv2d_backward_bounds(dout, x, weight, stride, padding, dtype)
    for got, expected, bound, part in zip(ours, theirs, bounds, PARTS, strict=True):
        assert_close(got, expected, bound, dtype, part)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_shape", KERNELS)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("stride", STRIDES)
def test_conv2d_backward_matches_oracle(stride, padding, kernel_shape, dtype, conv_strategy):
    rng = np.random.default_rng(31)
    x = random(rng, (2, 3, 7, 5), dtype)
    weight = random(rng, (4, 3, *kernel_shape), dtype)
    dout = random(rng, ops.conv2d(x, weight, stride=stride, padding=padding).shape, dtype)
    assert_conv2d_backward_exact(x, weight, dout, stride, padding, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("stride", "padding"), [(1, 1), ((2, 1), (0, 2))], ids=str)
def test_conv2d_backward_on_large_maps_matches_oracle(stride, padding, dtype):
    """Maps of more than 1024 positions, in the layout conv2d picks itself for them."""
    rng = np.random.default_rng(30)
    x = random(rng, (1, 2, 70, 33), dtype)
    weight = random(rng, (3, 2, 3, 2), dtype)
    dout = random(rng, ops.conv2d(x, weight, stride=stride, padding=padding).shape, dtype)
    assert dout.shape[2] * dout.shape[3] > 1024
    pairs = ops._conv_args("test", x, weight, None, stride, padding)[3:]
    assert not ops._geometry("test", x, weight, *pairs).batch_last
    assert_conv2d_backward_exact(x, weight, dout, stride, padding, dtype)
    out = ops.conv2d(x, weight, stride=stride, padding=padding)
    bound = tolerance.conv2d_bound(x, weight, None, stride, padding, dtype)
    assert_close(out, exact(oracle.conv2d, x, weight, None, stride, padding), bound, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("kernel_size", "stride"), POOL_CASES, ids=str)
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pool_backward_matches_oracle(pool, kernel_size, stride, dtype):
    rng = np.random.default_rng(32)
    x = random(rng, (2, 3, 7, 5), dtype)
    dout = random(rng, getattr(ops, pool)(x, kernel_size, stride).shape, dtype)
    backward = pool + "_backward"
    expected = exact(getattr(oracle, backward), dout, x, kernel_size, stride)
    got = getattr(grads, backward)(dout, x, kernel_size=kernel_size, stride=stride)
    bound = tolerance.pool_backward_bound(pool, dout, x, kernel_size, stride, dtype)
    assert_close(got, expected, bound, dtype)


def test_max_pool_backward_ties_match_oracle():
    """Small integers make many ties; the first maximum in row-major order must win.
    On 7x5 no case's windows tile the input; on 8x6 those of (2, None) do, and
    every input has a window (max_pool2d_backward writes its dx without zeroing)."""
    rng = np.random.default_rng(33)
    for hw, (kernel_size, stride) in itertools.product([(7, 5), (8, 6)], POOL_CASES):
        x = rng.integers(0, 3, size=(2, 2, *hw)).astype(np.float64)
        dout = random(rng, ops.max_pool2d(x, kernel_size, stride).shape)
        expected = oracle.max_pool2d_backward(dout, x, kernel_size, stride)
        # Overlapping windows add gradients in another order than the loops: rounding
        # only, far below any misrouted gradient (values are of order 1).
        actual = grads.max_pool2d_backward(dout, x, kernel_size, stride)
        bound = tolerance.pool_backward_bound("max_pool2d", dout, x, kernel_size, stride, F64)
        assert_close(actual, expected, bound, F64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_backward_matches_oracle(dtype):
    rng = np.random.default_rng(34)
    x, weight = random(rng, (5, 7), dtype), random(rng, (7, 3), dtype)
    dout = random(rng, (5, 3), dtype)
    bounds = tolerance.dense_backward_bounds(dout, x, weight, dtype)
    for got, expected, bound, part in zip(
        grads.dense_backward(dout, x, weight),
        exact(oracle.dense_backward, dout, x, weight),
        bounds,
        PARTS,
        strict=True,
    ):
        assert_close(got, expected, bound, dtype, part)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backward_matches_oracle(dtype):
    rng = np.random.default_rng(35)
    x, dout = random(rng, (2, 3, 7, 5), dtype), random(rng, (2, 3, 7, 5), dtype)
    # dout passes or is blocked: no arithmetic, so exact.
    assert_close(grads.relu_backward(dout, x), oracle.relu_backward(dout, x), 0.0, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_backward_matches_oracle(dtype):
    rng = np.random.default_rng(36)
    logits, labels = 3 * random(rng, (6, 4), dtype), rng.integers(0, 4, size=6)
    assert_close(
        grads.cross_entropy_backward(logits, labels),
        exact(oracle.cross_entropy_backward, logits, labels),
        tolerance.cross_entropy_backward_bound(logits, labels, dtype),
        dtype,
    )


# ------------------------------------------------------------------ dtypes and inputs


def backward_calls(rng, dtype):
    """One call of every backward op on fresh arrays of ``dtype``: (name, function, args)."""

    def arr(*shape):
        if np.issubdtype(dtype, np.integer):
            return rng.integers(-9, 10, size=shape).astype(dtype)
        return (4 * rng.standard_normal(shape)).astype(dtype)

    labels = np.array([0, 3, 1, 2, 2])
    return [
        ("relu_backward", grads.relu_backward, (arr(2, 3, 7, 5), arr(2, 3, 7, 5))),
        ("max_pool2d_backward", grads.max_pool2d_backward, (arr(2, 3, 3, 2), arr(2, 3, 7, 5))),
        ("avg_pool2d_backward", grads.avg_pool2d_backward, (arr(2, 3, 3, 2), arr(2, 3, 7, 5))),
        (
            "conv2d_backward",
            grads.conv2d_backward,
            (arr(2, 4, 5, 4), arr(2, 3, 7, 5), arr(4, 3, 3, 2)),
        ),
        ("dense_backward", grads.dense_backward, (arr(5, 3), arr(5, 7), arr(7, 3))),
        ("cross_entropy_backward", grads.cross_entropy_backward, (arr(5, 4), labels)),
    ]


BACKWARD_NAMES = [name for name, _, _ in backward_calls(np.random.default_rng(0), np.float64)]


def as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("index", range(len(BACKWARD_NAMES)), ids=BACKWARD_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_keeps_float_dtype(index, dtype):
    _, func, args = backward_calls(np.random.default_rng(37), dtype)[index]
    for result in as_tuple(func(*args)):
        assert result.dtype == dtype


@pytest.mark.parametrize("index", range(len(BACKWARD_NAMES)), ids=BACKWARD_NAMES)
def test_backward_of_integer_input_is_float64(index):
    _, func, args = backward_calls(np.random.default_rng(38), np.int64)[index]
    for result in as_tuple(func(*args)):
        assert result.dtype == np.float64


@pytest.mark.parametrize("index", range(len(BACKWARD_NAMES)), ids=BACKWARD_NAMES)
def test_backward_does_not_modify_its_inputs(index):
    _, func, args = backward_calls(np.random.default_rng(39), np.float64)[index]
    before = [a.copy() for a in args]
    func(*args)
    for a, b in zip(args, before, strict=True):
        assert_array_equal(a, b)
    for a in args:
        a.flags.writeable = False
    func(*args)  # a write into a read-only input would raise here


# ================================================================ tier 3: gradient checks


@pytest.mark.parametrize("kernel_shape", KERNELS)
@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (2, 1), ((2, 1), (0, 2)), (1, (1, 0))])
def test_conv2d_gradients_are_numerically_right(stride, padding, kernel_shape, conv_strategy):
    rng = np.random.default_rng(41)
    x = random(rng, (2, 3, 7, 5))
    weight = random(rng, (4, 3, *kernel_shape))
    bias = random(rng, (4,))
    dout = random(rng, ops.conv2d(x, weight, bias, stride, padding).shape)
    dx, dweight, dbias = grads.conv2d_backward(dout, x, weight, stride=stride, padding=padding)

    def loss(x, weight, bias):
        return np.sum(ops.conv2d(x, weight, bias, stride, padding) * dout)

    assert_gradient(lambda v: loss(v, weight, bias), x, dx, h=LINEAR_STEP)
    assert_gradient(lambda v: loss(x, v, bias), weight, dweight, h=LINEAR_STEP)
    assert_gradient(lambda v: loss(x, weight, v), bias, dbias, h=LINEAR_STEP)


@pytest.mark.parametrize(("kernel_size", "stride"), POOL_CASES, ids=str)
def test_max_pool_gradient_is_numerically_right(kernel_size, stride):
    rng = np.random.default_rng(42)
    x = distinct(rng, (2, 3, 7, 5))
    dout = random(rng, ops.max_pool2d(x, kernel_size, stride).shape)
    dx = grads.max_pool2d_backward(dout, x, kernel_size, stride)
    assert_gradient(
        lambda v: np.sum(ops.max_pool2d(v, kernel_size, stride) * dout), x, dx, h=LINEAR_STEP
    )


@pytest.mark.parametrize(("kernel_size", "stride"), POOL_CASES, ids=str)
def test_avg_pool_gradient_is_numerically_right(kernel_size, stride):
    rng = np.random.default_rng(43)
    x = random(rng, (2, 3, 7, 5))
    dout = random(rng, ops.avg_pool2d(x, kernel_size, stride).shape)
    dx = grads.avg_pool2d_backward(dout, x, kernel_size, stride)
    assert_gradient(
        lambda v: np.sum(ops.avg_pool2d(v, kernel_size, stride) * dout), x, dx, h=LINEAR_STEP
    )


def test_dense_gradients_are_numerically_right():
    rng = np.random.default_rng(44)
    x, weight, bias = random(rng, (5, 7)), random(rng, (7, 3)), random(rng, (3,))
    dout = random(rng, (5, 3))
    dx, dweight, dbias = grads.dense_backward(dout, x, weight)

    def loss(x, weight, bias):
        return np.sum(ops.dense(x, weight, bias) * dout)

    assert_gradient(lambda v: loss(v, weight, bias), x, dx, h=LINEAR_STEP)
    assert_gradient(lambda v: loss(x, v, bias), weight, dweight, h=LINEAR_STEP)
    assert_gradient(lambda v: loss(x, weight, v), bias, dbias, h=LINEAR_STEP)


def test_relu_gradient_is_numerically_right():
    rng = np.random.default_rng(45)
    x = away_from_zero(rng, (2, 3, 7, 5))
    dout = random(rng, x.shape)
    dx = grads.relu_backward(dout, x)
    assert_gradient(lambda v: np.sum(ops.relu(v) * dout), x, dx, h=LINEAR_STEP)


@pytest.mark.parametrize("shape", [(1, 2), (6, 4), (3, 10)], ids=str)
def test_cross_entropy_gradient_is_numerically_right(shape):
    rng = np.random.default_rng(46)
    # Unit-scale logits keep every probability well above 1e-3: the gradient of a
    # class with probability 1e-6 is smaller than the rounding error of the
    # finite difference itself, whatever the backward op does.
    logits = random(rng, shape)
    labels = rng.integers(0, shape[1], size=shape[0])
    dlogits = grads.cross_entropy_backward(logits, labels)
    assert_gradient(lambda v: ops.cross_entropy(v, labels), logits, dlogits)


def test_backprop_through_a_whole_small_network():
    """conv -> relu -> max pool -> flatten -> dense -> cross-entropy, chained by hand.

    The chain rule, applied last layer first, gives the gradient of the loss
    with respect to the first layer's weights; central differences agree.
    """
    rng = np.random.default_rng(47)
    x = random(rng, (3, 2, 7, 5))
    conv_w, conv_b = random(rng, (4, 2, 3, 3)), random(rng, (4,))
    # Small dense weights keep the class probabilities moderate (see the cross-entropy test).
    dense_w, dense_b = random(rng, (4 * 3 * 2, 5)) / 10, random(rng, (5,)) / 10
    labels = np.array([0, 4, 2])

    def loss(cw, dw):
        z = ops.conv2d(x, cw, conv_b, padding=1)
        a = ops.relu(z)
        p = ops.max_pool2d(a)
        return ops.cross_entropy(ops.dense(ops.flatten(p), dw, dense_b), labels), (z, a, p)

    _, (z, a, p) = loss(conv_w, dense_w)
    dscores = grads.cross_entropy_backward(ops.dense(ops.flatten(p), dense_w, dense_b), labels)
    dflat, ddense_w, _ = grads.dense_backward(dscores, ops.flatten(p), dense_w)
    da = grads.max_pool2d_backward(dflat.reshape(p.shape), a)
    dz = grads.relu_backward(da, z)
    _, dconv_w, _ = grads.conv2d_backward(dz, x, conv_w, padding=1)

    assert_gradient(lambda v: loss(v, dense_w)[0], conv_w, dconv_w)
    assert_gradient(lambda v: loss(conv_w, v)[0], dense_w, ddense_w)


# ------------------------------------------------------------ the check itself can fail


class TestGradientCheckCanFail:
    """A gradient check that cannot fail proves nothing: wrong gradients must be caught."""

    rng = np.random.default_rng(48)
    x = random(rng, (2, 3, 7, 5))
    weight = random(rng, (4, 3, 3, 2))
    dout = random(rng, (2, 4, 5, 4))

    def numeric_dx(self):
        return numerical_gradient(
            lambda v: np.sum(ops.conv2d(v, self.weight) * self.dout), self.x, h=LINEAR_STEP
        )

    def test_the_right_gradient_passes(self):
        dx, _, _ = grads.conv2d_backward(self.dout, self.x, self.weight)
        assert rel_error(dx, self.numeric_dx()) < TOLERANCE

    def test_a_gradient_off_by_a_factor_of_two_fails(self):
        dx, _, _ = grads.conv2d_backward(self.dout, self.x, self.weight)
        assert rel_error(2 * dx, self.numeric_dx()) > 0.1
        with pytest.raises(AssertionError, match="rel_error"):
            assert_gradient(
                lambda v: np.sum(ops.conv2d(v, self.weight) * self.dout), self.x, 2 * dx
            )

    def test_a_flipped_kernel_fails(self):
        flipped = np.ascontiguousarray(self.weight[:, :, ::-1, ::-1])
        dx, _, _ = grads.conv2d_backward(self.dout, self.x, flipped)
        assert rel_error(dx, self.numeric_dx()) > 0.1

    def test_a_weight_gradient_of_one_image_only_fails(self):
        """Forgetting to sum dweight over the batch."""
        _, dweight, _ = grads.conv2d_backward(self.dout[:1], self.x[:1], self.weight)
        numeric = numerical_gradient(
            lambda v: np.sum(ops.conv2d(self.x, v) * self.dout), self.weight
        )
        assert rel_error(dweight, numeric) > 0.1

    def test_a_slightly_wrong_gradient_fails(self):
        """Even an error of one part in a million is far above the tolerance."""
        dx, _, _ = grads.conv2d_backward(self.dout, self.x, self.weight)
        assert rel_error(dx * (1 + 1e-6), self.numeric_dx()) > TOLERANCE


# ------------------------------------------------------------------ numerical stability


class TestLargeLogits:
    """Logits of magnitude 1e4 overflow a naive exp; the ops must stay finite and exact."""

    logits = np.array([[1e4, -1e4, 0.0]])

    def test_softmax(self):
        assert_array_equal(ops.softmax(self.logits), [[1, 0, 0]])
        assert_array_equal(ops.softmax(np.array([1e4, 1e4])), [0.5, 0.5])
        assert_array_equal(ops.softmax(-self.logits), [[0, 1, 0]])

    def test_log_softmax(self):
        assert_array_equal(ops.log_softmax(self.logits), [[0, -2e4, -1e4]])
        assert_array_equal(ops.log_softmax(np.array([-1e4, -1e4])), [-math.log(2)] * 2)

    @pytest.mark.parametrize(("label", "expected"), [(0, 0.0), (1, 2e4), (2, 1e4)])
    def test_cross_entropy(self, label, expected):
        assert ops.cross_entropy(self.logits, np.array([label])) == expected

    def test_cross_entropy_backward(self):
        assert_array_equal(grads.cross_entropy_backward(self.logits, np.array([1])), [[1, -1, 0]])

    def test_float32(self):
        logits = self.logits.astype(np.float32)
        assert_array_equal(ops.softmax(logits), [[1, 0, 0]])
        assert ops.cross_entropy(logits, np.array([1])) == 2e4
        assert np.all(np.isfinite(ops.log_softmax(logits)))

    def test_batch_of_huge_and_tiny_rows(self):
        logits = np.array([[1e4, 1e4 + math.log(2)], [-1e4, -1e4 + math.log(2)]])
        assert_allclose(ops.softmax(logits), [[1 / 3, 2 / 3]] * 2, rtol=1e-9)
