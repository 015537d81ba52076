"""The rounding bounds of tests/tolerance.py: they hold in any summation order, and fail
wrong answers.

The oracle tests of test_ops, test_grads and test_nn pass because their results
stay within these bounds; the tests here show that the bounds are not so loose
that anything passes (a term left out, a flipped kernel, a softmax off by a
part in ten thousand), and that they hold for float32 sums taken in orders no
BLAS kernel of this machine happens to use.
"""

import numpy as np
import oracle
import pytest
import tolerance
from tolerance import assert_close, exact

from cnnlab import grads, ops

F32, F64 = np.float32, np.float64


def conv_case(rng, dtype, shape=(2, 3, 7, 5), weight_shape=(4, 3, 3, 2)):
    x = rng.standard_normal(shape).astype(dtype)
    weight = rng.standard_normal(weight_shape).astype(dtype)
    return x, weight


def products(x, weight):
    """Every product of conv2d without padding or stride: (N, F, Ho, Wo, C * KH * KW)."""
    kh, kw = weight.shape[2:]
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    terms = windows[:, None] * weight[None, :, :, None, None]  # (N, F, C, Ho, Wo, KH, KW)
    terms = np.moveaxis(terms, 2, -3)
    return terms.reshape(*terms.shape[:4], -1)


class TestTheBoundHoldsInAnyOrder:
    @pytest.mark.parametrize("seed", range(5))
    def test_float32_sums_in_random_orders(self, seed):
        """One product at a time (np.cumsum adds in sequence), in shuffled orders."""
        rng = np.random.default_rng(seed)
        x, weight = conv_case(rng, F32, (1, 16, 9, 9), (2, 16, 3, 3))
        terms = products(x, weight)
        expected = exact(oracle.conv2d, x, weight)
        bound = tolerance.conv2d_bound(x, weight, None, 1, 0, F32)
        for _ in range(10):
            shuffled = terms[..., rng.permutation(terms.shape[-1])]
            total = np.cumsum(shuffled, axis=-1, dtype=F32)[..., -1]
            assert_close(total, expected, bound, F32, "a sum in shuffled order")

    def test_float32_sums_largest_first(self):
        """The order that loses the most: the largest terms first, the small ones after."""
        rng = np.random.default_rng(7)
        x, weight = conv_case(rng, F32, (1, 16, 9, 9), (2, 16, 3, 3))
        terms = products(x, weight)
        order = np.argsort(-np.abs(terms), axis=-1)
        total = np.cumsum(np.take_along_axis(terms, order, -1), axis=-1, dtype=F32)[..., -1]
        bound = tolerance.conv2d_bound(x, weight, None, 1, 0, F32)
        assert_close(total, exact(oracle.conv2d, x, weight), bound, F32)


class TestTheBoundCatchesWrongAnswers:
    @pytest.mark.parametrize("dtype", [F32, F64])
    def test_one_product_left_out(self, dtype):
        rng = np.random.default_rng(1)
        x, weight = conv_case(rng, dtype)
        terms = products(x, weight)
        wrong = (terms.sum(axis=-1, dtype=F64) - terms[..., 5]).astype(dtype)
        bound = tolerance.conv2d_bound(x, weight, None, 1, 0, dtype)
        with pytest.raises(AssertionError, match="off by more than the rounding bound"):
            assert_close(wrong, exact(oracle.conv2d, x, weight), bound, dtype)

    @pytest.mark.parametrize("dtype", [F32, F64])
    def test_flipped_kernel(self, dtype):
        rng = np.random.default_rng(2)
        x, weight = conv_case(rng, dtype)
        wrong = ops.conv2d(x, weight[:, :, ::-1, ::-1])
        bound = tolerance.conv2d_bound(x, weight, None, 1, 0, dtype)
        with pytest.raises(AssertionError, match="off by more"):
            assert_close(wrong, exact(oracle.conv2d, x, weight), bound, dtype)

    def test_float64_catches_one_term_missing_on_large_maps(self):
        """Where the float32 bound is loosest (2380 terms per weight gradient), float64 is not."""
        rng = np.random.default_rng(30)
        x = rng.standard_normal((1, 2, 70, 33))
        weight = rng.standard_normal((3, 2, 3, 2))
        dout = rng.standard_normal(ops.conv2d(x, weight, padding=1).shape)
        _, dweight, _ = grads.conv2d_backward(dout, x, weight, padding=1)
        wrong = dweight.copy()
        wrong[0, 0, 0, 0] -= dout[0, 0, 40, 20] * x[0, 0, 39, 19]  # one position left out
        _, expected, _ = oracle.conv2d_backward(dout, x, weight, 1, 1)
        _, bound, _ = tolerance.conv2d_backward_bounds(dout, x, weight, 1, 1, F64)
        assert_close(dweight, expected, bound, F64)
        with pytest.raises(AssertionError, match="off by more"):
            assert_close(wrong, expected, bound, F64)

    @pytest.mark.parametrize("dtype", [F32, F64])
    def test_softmax_off_by_one_part_in_ten_thousand(self, dtype):
        logits = 5 * np.random.default_rng(3).standard_normal((3, 5)).astype(dtype)
        right = ops.softmax(logits)
        bound = tolerance.softmax_bound(logits, -1, dtype)
        assert_close(right, exact(oracle.softmax, logits, -1), bound, dtype)
        wrong = (right * (1 + 1e-4)).astype(dtype)
        with pytest.raises(AssertionError, match="off by more"):
            assert_close(wrong, exact(oracle.softmax, logits, -1), bound, dtype)

    @pytest.mark.parametrize("dtype", [F32, F64])
    def test_average_pooling_divided_by_one_side(self, dtype):
        x = np.random.default_rng(4).standard_normal((2, 3, 6, 6)).astype(dtype)
        wrong = (ops.avg_pool2d(x, 2) * 2).astype(dtype)
        bound = tolerance.pool_bound("avg_pool2d", x, 2, None, dtype)
        with pytest.raises(AssertionError, match="off by more"):
            assert_close(wrong, exact(oracle.avg_pool2d, x, 2, None), bound, dtype)

    def test_wrong_dtype_and_shape_are_reported(self):
        x = np.ones((1, 1, 3, 3))
        expected = oracle.relu(x)
        with pytest.raises(AssertionError, match="dtype float32, expected float64"):
            assert_close(x.astype(F32), expected, 0.0, F64)
        with pytest.raises(AssertionError, match="shape"):
            assert_close(x[0], expected, 0.0, F64)

    def test_nan_is_never_close(self):
        with pytest.raises(AssertionError, match="1 of 1 values"):
            assert_close(np.array([np.nan]), np.array([1.0]), np.inf, F64)


def test_gamma_refuses_a_sum_too_long_to_bound():
    with pytest.raises(ValueError, match="no bound"):
        tolerance.gamma(2**24, F32)
