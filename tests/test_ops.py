"""Forward ops: worked numbers first, then the vectorised ops against the loop oracle.

Tier 1 holds examples small enough to check with pencil and paper. Tier 2
compares every op of :mod:`cnnlab.ops` with the nested-loop version in
``tests/oracle.py`` on seeded, non-square inputs whose sizes do not divide
evenly, over strides, paddings, kernel shapes and dtypes.
"""

import math

import numpy as np
import oracle
import pytest
import tolerance
from numpy.testing import assert_allclose, assert_array_equal
from tolerance import assert_close, exact

import cnnlab
from cnnlab import ops

STRIDES = [1, 2, (2, 1), (3, 2)]  # (3, 2) with a (2, 3) kernel skips a row of every three
PADDINGS = [0, 1, (0, 2)]
KERNELS = [(3, 3), (2, 3)]
DTYPES = [np.float32, np.float64]


def random(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# ================================================================ tier 1: worked numbers


class TestOutputSize:
    @pytest.mark.parametrize(
        ("size", "kernel", "stride", "padding", "expected"),
        [
            (5, 3, 1, 0, 3),  # 5 - 3 + 1
            (3, 3, 1, 0, 1),  # the kernel fits exactly once
            (28, 5, 1, 0, 24),
            (32, 3, 1, 1, 32),  # "same" padding keeps the size
            (7, 3, 2, 1, 4),  # (7 + 2 - 3) // 2 + 1
            (4, 2, 2, 0, 2),
            (5, 2, 2, 0, 2),  # the last column would need a half window: dropped
            (64, 3, 2, 0, 31),
            (1, 3, 1, 1, 1),  # padding makes room for a kernel larger than the input
            (11, 3, 3, 0, 3),
        ],
    )
    def test_worked_examples(self, size, kernel, stride, padding, expected):
        """The formula (size + 2*padding - kernel) // stride + 1, checked by hand."""
        assert ops.output_size(size, kernel, stride=stride, padding=padding) == expected

    def test_returns_a_python_int(self):
        assert type(ops.output_size(np.int64(7), 3)) is int

    @pytest.mark.parametrize("size", [3, 4, 7, 10])
    @pytest.mark.parametrize("kernel", [1, 2, 3])
    @pytest.mark.parametrize("stride", [1, 2, 3])
    @pytest.mark.parametrize("padding", [0, 1, 2])
    def test_matches_counting_the_window_positions(self, size, kernel, stride, padding):
        assert ops.output_size(size, kernel, stride, padding) == oracle.output_size(
            size, kernel, stride, padding
        )


class TestCorrelate2dByHand:
    image = np.arange(9.0).reshape(3, 3)  # [[0, 1, 2], [3, 4, 5], [6, 7, 8]]

    def test_three_by_three_image_two_by_two_kernel(self):
        """0*0 + 1*1 + 3*2 + 4*3 = 19, and so on: the d2l.ai example."""
        out = ops.correlate2d(self.image, np.arange(4.0).reshape(2, 2))
        assert_array_equal(out, [[19, 25], [37, 43]])

    def test_kernel_is_not_flipped(self):
        """A kernel with a single 1 in its top-left corner picks each window's top-left pixel.

        A true convolution would flip the kernel and pick the bottom-right one instead.
        """
        out = ops.correlate2d(self.image, [[1.0, 0.0], [0.0, 0.0]])
        assert_array_equal(out, [[0, 1], [3, 4]])

    def test_stride_and_padding(self):
        """Pad to 5x5 with zeros, then step by 2: windows start at (0,0), (0,2), (2,0), (2,2).

        The 2x2 windows of ones see 0; 1 + 2; 3 + 6; 4 + 5 + 7 + 8.
        """
        out = ops.correlate2d(self.image, np.ones((2, 2)), stride=2, padding=1)
        assert_array_equal(out, [[0, 3], [9, 24]])

    def test_stride_pair_is_vertical_then_horizontal(self):
        out = ops.correlate2d(self.image, [[1.0]], stride=(2, 1))
        assert_array_equal(out, [[0, 1, 2], [6, 7, 8]])

    def test_padding_pair_is_vertical_then_horizontal(self):
        out = ops.correlate2d(self.image, [[1.0]], padding=(0, 1))
        assert_array_equal(out, [[0, 0, 1, 2, 0], [0, 3, 4, 5, 0], [0, 6, 7, 8, 0]])

    def test_binary_template_match_sums_to_three(self):
        """Lesson 1: a 3x3 diagonal template scores 3 where the image holds the same line."""
        template = np.eye(3)
        image = np.zeros((5, 5))
        image[1:4, 2:5] = np.eye(3)
        out = ops.correlate2d(image, template)
        assert out.max() == 3
        assert np.argwhere(out == 3).tolist() == [[1, 2]]


class TestConv2dByHand:
    def test_one_channel_one_filter_with_bias(self):
        x = np.arange(9.0).reshape(1, 1, 3, 3)
        weight = np.arange(4.0).reshape(1, 1, 2, 2)
        out = ops.conv2d(x, weight, bias=np.array([1.0]))
        assert_array_equal(out, [[[[20, 26], [38, 44]]]])

    def test_channels_add_up_and_filters_stack(self):
        """Channel 0 gives 19, 25, 37, 43; channel 1 (all ones, kernel of ones) adds 4.

        The second filter reads only channel 1, doubled: 8 everywhere.
        """
        x = np.stack([np.arange(9.0).reshape(3, 3), np.ones((3, 3))])[None]
        weight = np.array(
            [
                [np.arange(4.0).reshape(2, 2), np.ones((2, 2))],
                [np.zeros((2, 2)), 2 * np.ones((2, 2))],
            ]
        )
        out = ops.conv2d(x, weight)
        assert out.shape == (1, 2, 2, 2)
        assert_array_equal(out[0, 0], [[23, 29], [41, 47]])
        assert_array_equal(out[0, 1], [[8, 8], [8, 8]])

    def test_batch_items_are_independent(self):
        x = np.stack([np.arange(9.0), -np.arange(9.0)]).reshape(2, 1, 3, 3)
        out = ops.conv2d(x, np.arange(4.0).reshape(1, 1, 2, 2))
        assert_array_equal(out[:, 0], [[[19, 25], [37, 43]], [[-19, -25], [-37, -43]]])


class TestPoolingByHand:
    x = np.array(
        [
            [1.0, 3.0, 2.0, 4.0],
            [5.0, 6.0, 1.0, 2.0],
            [7.0, 1.0, 0.0, 3.0],
            [2.0, 8.0, 4.0, 1.0],
        ]
    )[None, None]

    def test_max_pool_four_by_four(self):
        assert_array_equal(ops.max_pool2d(self.x), [[[[6, 4], [8, 4]]]])

    def test_avg_pool_four_by_four(self):
        """(1+3+5+6)/4, (2+4+1+2)/4, (7+1+2+8)/4, (0+3+4+1)/4."""
        assert_array_equal(ops.avg_pool2d(self.x), [[[[3.75, 2.25], [4.5, 2.0]]]])

    def test_overlapping_windows(self):
        """A 3x3 window with stride 1 on a 4x4 input has 2x2 positions."""
        assert_array_equal(ops.max_pool2d(self.x, kernel_size=3, stride=1), [[[[7, 6], [8, 8]]]])

    def test_leftover_row_and_column_are_dropped(self):
        """On a 5x5 input a 2x2 window fits twice; the last row and column are ignored."""
        x = np.zeros((1, 1, 5, 5))
        x[0, 0, 4, :] = 100.0
        x[0, 0, :, 4] = 100.0
        assert_array_equal(ops.max_pool2d(x), np.zeros((1, 1, 2, 2)))
        assert_array_equal(ops.avg_pool2d(x), np.zeros((1, 1, 2, 2)))

    def test_negative_values(self):
        """The maximum of negative numbers is the one closest to zero, not 0."""
        assert_array_equal(ops.max_pool2d(-self.x - 1), [[[[-2, -2], [-2, -1]]]])

    def test_stride_defaults_to_kernel_size(self):
        x = np.arange(36.0).reshape(1, 1, 6, 6)
        assert_array_equal(ops.max_pool2d(x, 3), ops.max_pool2d(x, 3, stride=3))
        assert_array_equal(ops.max_pool2d(x, 3), [[[[14, 17], [32, 35]]]])


def test_relu_by_hand():
    assert_array_equal(ops.relu([-2.0, -0.5, 0.0, 0.5, 3.0]), [0, 0, 0, 0.5, 3])


def test_flatten_is_channel_then_row_then_column():
    x = np.arange(24.0).reshape(2, 2, 2, 3)
    out = ops.flatten(x)
    assert out.shape == (2, 12)
    assert_array_equal(out[0], np.arange(12))
    assert_array_equal(out[1], np.arange(12, 24))


def test_dense_by_hand():
    """[1, 2, 3] @ [[1, 0], [0, 1], [1, 1]] = [4, 5], plus bias [10, 20]."""
    x = np.array([[1.0, 2.0, 3.0]])
    weight = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert_array_equal(ops.dense(x, weight), [[4, 5]])
    assert_array_equal(ops.dense(x, weight, np.array([10.0, 20.0])), [[14, 25]])


class TestSoftmaxByHand:
    def test_zero_and_log_two_give_one_third_and_two_thirds(self):
        assert_allclose(ops.softmax([0.0, math.log(2)]), [1 / 3, 2 / 3], rtol=1e-15)

    def test_log_one_two_three(self):
        logits = np.log([[1.0, 2.0, 3.0]])
        assert_allclose(ops.softmax(logits), [[1 / 6, 2 / 6, 3 / 6]], rtol=1e-14)

    def test_log_softmax(self):
        expected = [-math.log(3), math.log(2) - math.log(3)]
        assert_allclose(ops.log_softmax([0.0, math.log(2)]), expected, rtol=1e-15)

    def test_axis_zero_normalises_columns(self):
        logits = np.array([[0.0, 5.0], [math.log(2), 5.0]])
        assert_allclose(ops.softmax(logits, axis=0), [[1 / 3, 0.5], [2 / 3, 0.5]], rtol=1e-15)

    def test_cross_entropy_of_uniform_logits_is_log_k(self):
        """Equal scores for 5 classes: probability 1/5 for the true one, loss log 5."""
        loss = ops.cross_entropy(np.zeros((3, 5)), np.array([0, 4, 2]))
        assert type(loss) is float
        assert loss == pytest.approx(math.log(5), rel=1e-15)

    def test_cross_entropy_is_the_mean_over_the_batch(self):
        """Row 1: -log(1/3) = log 3; row 2: -log(2/3) = log 1.5; the mean of both."""
        logits = np.array([[0.0, math.log(2)], [0.0, math.log(2)]])
        loss = ops.cross_entropy(logits, np.array([0, 1]))
        assert loss == pytest.approx((math.log(3) + math.log(1.5)) / 2, rel=1e-14)

    def test_cross_entropy_accepts_whole_float_labels(self):
        logits = np.array([[0.0, math.log(2)]])
        assert ops.cross_entropy(logits, np.array([1.0])) == pytest.approx(math.log(1.5))


def test_every_op_is_importable_from_the_package():
    for name in ops.__all__:
        assert getattr(cnnlab, name) is getattr(ops, name)


# ================================================================ tier 2: against the oracle


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_shape", KERNELS)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("stride", STRIDES)
def test_correlate2d_matches_oracle(stride, padding, kernel_shape, dtype):
    rng = np.random.default_rng(11)
    image = random(rng, (7, 5), dtype)
    kernel = random(rng, kernel_shape, dtype)
    out = ops.correlate2d(image, kernel, stride=stride, padding=padding)
    bound = tolerance.conv2d_bound(image, kernel, None, stride, padding, dtype)
    assert_close(out, exact(oracle.correlate2d, image, kernel, stride, padding), bound, dtype)


# conv2d picks a layout of the window columns by the size of the output maps, and
# works on a cache-sized group of images at a time (ops._BATCH_LAST_BELOW and
# ops._GROUP_BYTES); each oracle test below runs with every choice forced.
CONV_STRATEGIES = {
    "per-image": (0, None),
    "batch-last": (10**9, None),
    "per-image-one-image-groups": (0, 1),
    "batch-last-one-image-groups": (10**9, 1),
}


@pytest.fixture(params=list(CONV_STRATEGIES))
def conv_strategy(request, monkeypatch):
    """Force conv2d's layout (per image or batch last) and, optionally, groups of one image."""
    batch_last_below, group_bytes = CONV_STRATEGIES[request.param]
    monkeypatch.setattr(ops, "_BATCH_LAST_BELOW", batch_last_below)
    if group_bytes is not None:
        monkeypatch.setattr(ops, "_GROUP_BYTES", group_bytes)
    return request.param


def test_conv_strategy_is_really_forced(conv_strategy):
    """The fixture above takes effect: the layout and the number of groups are the forced ones."""
    x, weight = np.zeros((3, 2, 7, 5)), np.zeros((4, 2, 3, 3))
    geometry = ops._geometry("test", x, weight, (1, 1), (1, 1))
    assert geometry.batch_last == conv_strategy.startswith("batch-last")
    assert len(geometry.groups(x)) == (3 if conv_strategy.endswith("groups") else 1)


@pytest.mark.parametrize(
    ("hw", "batch_last"), [((15, 17), True), ((16, 16), False)], ids=["255-positions", "256"]
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_on_both_sides_of_the_layout_threshold(hw, batch_last, dtype):
    """Without forcing: 255 output positions per map take the batch-last layout, 256 not."""
    assert ops._BATCH_LAST_BELOW == 256
    rng = np.random.default_rng(10)
    x = random(rng, (2, 3, *hw), dtype)
    weight, bias = random(rng, (4, 3, 3, 3), dtype), random(rng, (4,), dtype)
    assert ops._geometry("test", x, weight, (1, 1), (1, 1)).batch_last == batch_last
    out = ops.conv2d(x, weight, bias, padding=1)
    bound = tolerance.conv2d_bound(x, weight, bias, 1, 1, dtype)
    assert_close(out, exact(oracle.conv2d, x, weight, bias, 1, 1), bound, dtype)


def test_conv2d_groups_cover_the_batch_in_order():
    """Groups are consecutive slices of the batch, of as many images as fit the budget."""
    x, weight = np.zeros((7, 2, 5, 5)), np.zeros((3, 2, 3, 3))
    geometry = ops._geometry("test", x, weight, (1, 1), (0, 0))
    per_image = 2 * 3 * 3 * 3 * 3 * x.itemsize  # C * KH * KW * Ho * Wo values
    assert 7 * per_image <= ops._GROUP_BYTES
    assert geometry.groups(x) == [slice(0, 7)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ops, "_GROUP_BYTES", 3 * per_image)
        assert geometry.groups(x) == [slice(0, 3), slice(3, 6), slice(6, 7)]


def test_conv2d_results_survive_the_next_call(conv_strategy):
    """conv2d and conv2d_backward reuse scratch memory from call to call (ops._Workspace):
    what they return must never live in it."""
    rng = np.random.default_rng(9)
    x, weight = random(rng, (3, 2, 7, 5)), random(rng, (4, 2, 3, 3))
    out = ops.conv2d(x, weight, padding=1)
    grads = cnnlab.conv2d_backward(random(rng, out.shape), x, weight, padding=1)
    kept = [a.copy() for a in (out, *grads)]
    other = random(rng, (2, 2, 9, 9))
    ops.conv2d(other, weight)
    cnnlab.conv2d_backward(random(rng, (2, 4, 7, 7)), other, weight)
    for array, copy in zip((out, *grads), kept, strict=True):
        assert_array_equal(array, copy)


@pytest.mark.parametrize("with_bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_shape", KERNELS)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("stride", STRIDES)
def test_conv2d_matches_oracle(stride, padding, kernel_shape, dtype, with_bias, conv_strategy):
    rng = np.random.default_rng(12)
    x = random(rng, (2, 3, 7, 5), dtype)
    weight = random(rng, (4, 3, *kernel_shape), dtype)
    bias = random(rng, (4,), dtype) if with_bias else None
    out = ops.conv2d(x, weight, bias, stride=stride, padding=padding)
    bound = tolerance.conv2d_bound(x, weight, bias, stride, padding, dtype)
    assert_close(out, exact(oracle.conv2d, x, weight, bias, stride, padding), bound, dtype)


@pytest.mark.parametrize("kernel_size", [(4, 1), (1, 5), (4, 5)], ids=str)
def test_conv2d_kernel_shapes_at_the_edges(kernel_size, conv_strategy):
    """Kernels as tall or as wide as the input, a single column or row."""
    rng = np.random.default_rng(13)
    x = random(rng, (1, 2, 4, 5))
    weight = random(rng, (3, 2, *kernel_size))
    bound = tolerance.conv2d_bound(x, weight, None, 1, 0, np.float64)
    assert_close(ops.conv2d(x, weight), oracle.conv2d(x, weight), bound, np.float64)


def test_conv2d_single_channel_equals_correlate2d():
    rng = np.random.default_rng(14)
    image, kernel = random(rng, (7, 5)), random(rng, (2, 3))
    out = ops.conv2d(image[None, None], kernel[None, None], stride=(2, 1), padding=1)
    assert_allclose(out[0, 0], ops.correlate2d(image, kernel, stride=(2, 1), padding=1))


POOL_CASES = [
    (2, None),
    (3, None),
    (3, 1),  # overlapping windows
    (3, 2),  # overlapping, and 7 rows do not divide evenly
    ((2, 3), (2, 1)),
    (2, (1, 3)),  # stride larger than the kernel: some inputs are skipped
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("kernel_size", "stride"), POOL_CASES, ids=str)
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pooling_matches_oracle(pool, kernel_size, stride, dtype):
    rng = np.random.default_rng(15)
    x = random(rng, (2, 3, 7, 5), dtype)
    out = getattr(ops, pool)(x, kernel_size=kernel_size, stride=stride)
    bound = tolerance.pool_bound(pool, x, kernel_size, stride, dtype)
    assert_close(out, exact(getattr(oracle, pool), x, kernel_size, stride), bound, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_matches_oracle(dtype):
    x = random(np.random.default_rng(16), (2, 3, 7, 5), dtype)
    assert_close(ops.relu(x), oracle.relu(x), 0.0, dtype)  # a choice, no arithmetic: exact


@pytest.mark.parametrize("shape", [(3, 7), (2, 3, 7, 5), (4, 1, 1, 1)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_flatten_matches_oracle(shape, dtype):
    x = random(np.random.default_rng(17), shape, dtype)
    assert_close(ops.flatten(x), oracle.flatten(x), 0.0, dtype)  # values moved: exact


@pytest.mark.parametrize("with_bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_matches_oracle(dtype, with_bias):
    rng = np.random.default_rng(18)
    x, weight = random(rng, (5, 7), dtype), random(rng, (7, 3), dtype)
    bias = random(rng, (3,), dtype) if with_bias else None
    bound = tolerance.dense_bound(x, weight, bias, dtype)
    assert_close(ops.dense(x, weight, bias), exact(oracle.dense, x, weight, bias), bound, dtype)


@pytest.mark.parametrize("axis", [-1, 0, 1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
def test_softmax_matches_oracle(func, dtype, axis):
    logits = 5 * random(np.random.default_rng(19), (3, 4, 5), dtype)
    expected = exact(getattr(oracle, func), logits, axis)
    bound = getattr(tolerance, f"{func}_bound")(logits, axis, dtype)
    assert_close(getattr(ops, func)(logits, axis=axis), expected, bound, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_matches_oracle(dtype):
    rng = np.random.default_rng(20)
    logits = 3 * random(rng, (6, 4), dtype)
    labels = rng.integers(0, 4, size=6)
    loss = ops.cross_entropy(logits, labels)
    assert type(loss) is float
    expected = exact(oracle.cross_entropy, logits, labels)
    assert abs(loss - expected) <= tolerance.cross_entropy_bound(logits, labels, dtype)


# ------------------------------------------------------------------ dtypes and inputs


def forward_calls(rng, dtype):
    """One call of every forward op on fresh arrays of ``dtype``: (name, function, args)."""

    def arr(*shape):
        if np.issubdtype(dtype, np.unsignedinteger):
            return rng.integers(0, 256, size=shape).astype(dtype)
        if np.issubdtype(dtype, np.integer):
            return rng.integers(-9, 10, size=shape).astype(dtype)
        return (4 * rng.standard_normal(shape)).astype(dtype)

    return [
        ("correlate2d", ops.correlate2d, (arr(7, 5), arr(2, 3))),
        ("conv2d", ops.conv2d, (arr(2, 3, 7, 5), arr(4, 3, 3, 2), arr(4))),
        ("relu", ops.relu, (arr(2, 3, 7, 5),)),
        ("max_pool2d", ops.max_pool2d, (arr(2, 3, 7, 5),)),
        ("avg_pool2d", ops.avg_pool2d, (arr(2, 3, 7, 5),)),
        ("flatten", ops.flatten, (arr(2, 3, 7, 5),)),
        ("dense", ops.dense, (arr(5, 7), arr(7, 3), arr(3))),
        ("softmax", ops.softmax, (arr(5, 7),)),
        ("log_softmax", ops.log_softmax, (arr(5, 7),)),
    ]


FORWARD_NAMES = [name for name, _, _ in forward_calls(np.random.default_rng(0), np.float64)]


@pytest.mark.parametrize("index", range(len(FORWARD_NAMES)), ids=FORWARD_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_float_dtype_is_kept(index, dtype):
    _, func, args = forward_calls(np.random.default_rng(21), dtype)[index]
    assert func(*args).dtype == dtype


@pytest.mark.parametrize("index", range(len(FORWARD_NAMES)), ids=FORWARD_NAMES)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_input_is_computed_in_float64(index, dtype):
    """Integer images (e.g. 0-255 pixels) give float64 results with the right values."""
    _, func, args = forward_calls(np.random.default_rng(22), dtype)[index]
    out = func(*args)
    assert out.dtype == np.float64
    assert_allclose(out, func(*(a.astype(np.float64) for a in args)), rtol=1e-15)


def test_integer_pixels_do_not_overflow():
    """uint8 pixels times a kernel would wrap around at 256 if computed in uint8."""
    image = np.full((3, 3), 200, dtype=np.uint8)
    kernel = np.full((2, 2), 2, dtype=np.uint8)
    assert_array_equal(ops.correlate2d(image, kernel), np.full((2, 2), 1600.0))


@pytest.mark.parametrize("index", range(len(FORWARD_NAMES)), ids=FORWARD_NAMES)
def test_inputs_are_not_modified(index):
    """Run every op on read-only arrays, then compare them with copies taken before."""
    _, func, args = forward_calls(np.random.default_rng(23), np.float64)[index]
    before = [a.copy() for a in args]
    for a in args:
        a.flags.writeable = False
    func(*args)
    for a, b in zip(args, before, strict=True):
        assert_array_equal(a, b)


@pytest.mark.parametrize("index", range(len(FORWARD_NAMES)), ids=FORWARD_NAMES)
def test_writable_inputs_are_not_modified(index):
    """The same with writable inputs, where an in-place change would not raise."""
    _, func, args = forward_calls(np.random.default_rng(24), np.float64)[index]
    before = [a.copy() for a in args]
    func(*args)
    for a, b in zip(args, before, strict=True):
        assert_array_equal(a, b)


def test_ops_accept_nested_lists():
    assert_array_equal(ops.relu([[-1, 2]]), [[0.0, 2.0]])
    assert_array_equal(ops.correlate2d([[1, 2], [3, 4]], [[1, 1]]), [[3.0], [7.0]])
