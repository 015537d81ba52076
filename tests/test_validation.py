"""cnnlab._validation: the one place every public function checks its arguments.

Each helper is tested here once with every message it can give; the tests of
the public functions (test_errors.py, test_nn.py, test_train.py, ...) pin how
each function uses it.
"""

import re

import numpy as np
import pytest

from cnnlab._validation import (
    DEFAULT_SEED,
    as_array,
    as_class_names,
    as_float_dtype,
    as_generator,
    as_int,
    as_labels,
    as_real,
    as_seed,
)

# ------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("bounds", "value", "message"),
    [
        ({"above": 0}, 0, "must be a finite positive number, got 0.0"),
        ({"above": 0}, -1.5, "must be a finite positive number, got -1.5"),
        ({"at_least": 0}, -0.1, "must be a finite non-negative number, got -0.1"),
        ({"at_least": 0, "at_most": 1}, 1.5, r"must be a finite number in [0, 1], got 1.5"),
        ({"at_least": 0, "below": 1}, 1, r"must be a finite number in [0, 1), got 1.0"),
        ({"above": 0, "at_most": 2}, 0.0, r"must be a finite number in (0, 2], got 0.0"),
        ({"at_least": 2}, 1, "must be a finite number >= 2, got 1.0"),
        ({"above": -1}, -1, "must be a finite number > -1, got -1.0"),
        ({"at_most": 3}, 4, "must be a finite number <= 3, got 4.0"),
        ({"below": 3}, 3, "must be a finite number < 3, got 3.0"),
        ({}, np.nan, "must be a finite number, got nan"),
        ({}, np.inf, "must be a finite number, got inf"),
        ({"at_least": 0}, np.inf, "must be a finite non-negative number, got inf"),
    ],
)
def test_as_real_says_which_numbers_it_needs(bounds, value, message):
    with pytest.raises(ValueError, match="^f: x " + re.escape(message) + "$"):
        as_real("f", "x", value, **bounds)


@pytest.mark.parametrize(
    ("value", "what"),
    [("0.1", "the string '0.1'"), (None, "NoneType None"), (True, "bool True"),
     (np.bool_(False), "bool (np.False_|False)"), (1j, "complex 1j"), ([0.1], r"list \[0\.1\]")],
)  # fmt: skip
def test_as_real_refuses_what_is_not_a_real_number(value, what):
    with pytest.raises(TypeError, match=rf"^f: x must be a number, got {what}$"):
        as_real("f", "x", value, above=0)


@pytest.mark.parametrize("value", [0.25, 1, np.float32(0.5), np.int64(2), np.float64(1e-3)])
def test_as_real_returns_a_python_float(value):
    number = as_real("f", "x", value, above=0, at_most=2)
    assert type(number) is float and number == float(value)


def test_as_real_bounds_include_at_least_and_at_most_only():
    assert as_real("f", "x", 0, at_least=0, at_most=1) == 0.0
    assert as_real("f", "x", 1, at_least=0, at_most=1) == 1.0
    assert as_real("f", "x", -5) == -5.0  # no bounds: any finite number


def test_as_int_of_any_sign():
    assert as_int("shift", "dy", -3, minimum=None) == -3
    with pytest.raises(TypeError, match=r"^shift: dy must be an int, got float 1\.5$"):
        as_int("shift", "dy", 1.5, minimum=None)
    with pytest.raises(TypeError, match=r"^shift: dy must be an int, got bool True$"):
        as_int("shift", "dy", True, minimum=None)


# ------------------------------------------------------------------------- arrays


def test_as_array_keeps_the_dtype_and_refuses_what_is_not_numbers():
    pixels = np.zeros((2, 2), np.uint8)
    assert as_array("f", "image", pixels) is pixels
    assert as_array("f", "image", [True, False]).dtype == np.bool_
    with pytest.raises(TypeError, match=r"^f: image must be a numpy array of numbers, got the str"):
        as_array("f", "image", "photo.png")
    with pytest.raises(TypeError, match=r"^f: image must be a numpy array of numbers, got list"):
        as_array("f", "image", [[1, 2], [3]])
    with pytest.raises(TypeError, match=r"^f: image must hold real numbers .*complex128"):
        as_array("f", "image", np.ones(2, complex))


@pytest.mark.parametrize("dtype", [np.float32, "float64", np.dtype(np.float16), None])
def test_as_float_dtype_accepts_float_dtypes(dtype):
    assert as_float_dtype("f", dtype).kind == "f"


def test_as_float_dtype_tells_no_dtype_from_a_wrong_one():
    with pytest.raises(TypeError, match=r"^f: dtype must be a numpy float dtype .*'pixels'"):
        as_float_dtype("f", "pixels")
    with pytest.raises(ValueError, match=r"^f: dtype must be a float dtype .*, got int32$"):
        as_float_dtype("f", np.int32)


# -------------------------------------------------------------------- randomness


def test_as_generator_turns_a_seed_into_numpys_generator():
    draw = as_generator("f", "rng", 7).random(3)
    np.testing.assert_array_equal(draw, np.random.default_rng(7).random(3))
    default = as_generator("f", "rng", None).random(3)
    np.testing.assert_array_equal(default, np.random.default_rng(DEFAULT_SEED).random(3))
    assert as_generator("f", "rng", np.int64(7)).random() == np.random.default_rng(7).random()


def test_as_generator_hands_a_generator_back_as_it_is():
    generator = np.random.default_rng(1)
    assert as_generator("f", "rng", generator) is generator


@pytest.mark.parametrize(
    ("rng", "error", "what"),
    [
        ("seed", TypeError, "None, an int seed or a numpy.random.Generator, got the string"),
        (1.5, TypeError, "None, an int seed or a numpy.random.Generator, got float 1.5"),
        (True, TypeError, "None, an int seed or a numpy.random.Generator, got bool True"),
        (np.random.RandomState(0), TypeError, "None, an int seed or a numpy.random.Generator"),
        (-1, ValueError, "a non-negative int, got -1"),
    ],
    ids=["string", "float", "bool", "RandomState", "negative"],
)
def test_as_generator_and_as_seed_refuse_the_rest(rng, error, what):
    for helper in (as_generator, as_seed):
        with pytest.raises(error, match="^fit: rng must be " + re.escape(what)):
            helper("fit", "rng", rng)


def test_as_seed_draws_its_int_from_a_generator():
    assert as_seed("f", "rng", None) == DEFAULT_SEED
    assert as_seed("f", "rng", 3) == 3
    expected = int(np.random.default_rng(5).integers(2**32))
    assert as_seed("f", "rng", np.random.default_rng(5)) == expected


# ------------------------------------------------------------------------ labels


def test_as_labels_accepts_whole_floats_and_gives_intp():
    labels = as_labels("f", np.array([0.0, 3.0, 1.0]), n=3, num_classes=4)
    assert labels.dtype == np.intp and labels.tolist() == [0, 3, 1]
    ints = np.array([2, 0], dtype=np.intp)
    assert as_labels("f", ints) is ints  # nothing to convert, nothing copied


@pytest.mark.parametrize(
    ("labels", "options", "error", "message"),
    [
        ([0, 2.5], {}, ValueError, r"y must be whole class indices, got non-integer values "
         r"such as \[2\.5\]"),
        ([0, np.nan], {}, ValueError, r"y must be whole class indices.*\[nan\]"),
        ([True, False], {}, TypeError, r"y must be integer class indices, got dtype bool"),
        ("01", {}, TypeError, r"y must be an array of class indices, got the string '01'"),
        (None, {}, TypeError, r"y must be an array of class indices, got NoneType"),
        ([[0, 1]], {}, ValueError, r"y must have shape \(N,\), one dimension, got shape \(1, 2\)"),
        ([0, 1], {"n": 3}, ValueError, r"y must have shape \(3,\), one class index per example, "
         r"got shape \(2,\)"),
        ([0, 1], {"n": 3, "per": "row of logits"}, ValueError, r"y must have shape \(3,\), one "
         r"class index per row of logits, got shape \(2,\)"),
        ([0, -2], {}, ValueError, r"y must be class indices >= 0, got -2"),
        ([0, -2, 5], {"num_classes": 5}, ValueError, r"y must lie in \[0, 5\) for 5 classes, "
         r"got \[-2, 5\]"),
    ],
)  # fmt: skip
def test_as_labels_messages(labels, options, error, message):
    with pytest.raises(error, match="^f: " + message):
        as_labels("f", labels, name="y", **options)


def test_as_class_names():
    assert as_class_names("f", None, 3) == ["0", "1", "2"]
    assert as_class_names("f", ("cat", 7), 2) == ["cat", "7"]
    with pytest.raises(TypeError, match=r"^f: class_names must be a list of names, got the str"):
        as_class_names("f", "ab", 2)
    with pytest.raises(ValueError, match=r"^f: class_names must have 3 entries, one per class"):
        as_class_names("f", ["a", "b"], 3)
