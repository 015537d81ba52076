"""Clues: a wrong answer that no known mistake explains still hears what or where is wrong.

Each wrong answer below is outside every check's catalogue of mistakes, so the
message can only give a clue (``Clue: ...``): which examples, channels or
filters are wrong, the border only, only the values that should be 0, a sign,
a factor per filter, an axis swapped or reversed, values moved by one, the
right values in the wrong places, an extra column, the axes in another order,
which gradients are right, where a mostly-zero gradient went astray, which
indices are missing, a number some times too large. None of them may name a mistake it did not make.
"""

import numpy as np
import oracle
import pytest
from test_checks_generalisation import loop_shift

from cnnlab import checks
from cnnlab.checks import _clues
from cnnlab.checks._core import Check


def message_of(check, fn) -> str:
    with pytest.raises(AssertionError) as info:
        check(fn)
    return str(info.value)


def pool_then(change):
    return lambda x, kernel_size=2, stride=None: change(oracle.max_pool2d(x, kernel_size, stride))


def padded_with_ones(x, weight, bias=None, stride=1, padding=0):
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=1)
    return oracle.conv2d(x, weight, bias, stride)


def bias_on_first_image_only(x, weight, bias=None, stride=1, padding=0):
    out = oracle.conv2d(x, weight, None, stride, padding)
    if bias is not None:
        out[0] += bias[:, None, None]
    return out


def first_channel_only(x, kernel_size=2, stride=None):
    out = oracle.max_pool2d(x, kernel_size, stride)
    out[:, 1:] = 0  # a loop over range(1) channels
    return out


def scaled_per_filter(x, weight, bias=None, stride=1, padding=0):
    out = oracle.conv2d(x, weight, bias, stride, padding)
    return out * (1 + np.arange(weight.shape[0]))[:, None, None]


def one_more_per_example(x, weight, bias=None):
    return oracle.dense(x, weight, bias) + np.arange(len(x))[:, None]


def zeros_filled_with_half(images, dy, dx):
    out = loop_shift(images, dy, dx)
    return np.where(out == 0, images.dtype.type(0.5), out)


def dbias_plus_one(dout, x, weight):
    return dout @ weight.T, x.T @ dout, dout.sum(axis=0) + 1


def to_the_maximum_of_the_map(dout, x, kernel_size=2, stride=None):
    """Each map's whole upstream gradient to its largest value, not each window's to its own."""
    top = x == x.max(axis=(2, 3), keepdims=True)
    return np.where(top, dout.sum(axis=(2, 3), keepdims=True), 0.0)


def first_one_dropped(probabilities, labels, threshold=0.9):
    wrong = probabilities.argmax(axis=1) != labels
    return np.flatnonzero(wrong & (probabilities.max(axis=1) >= threshold))[1:]


CLUES = [
    (
        checks.check_conv2d,
        padded_with_ones,
        "Clue: only values within 1 pixel of the border are wrong; everything further inside "
        "is right.",
    ),
    (
        checks.check_conv2d,
        bias_on_first_image_only,
        "Clue: only example 1 is wrong; example 0 is right.",
    ),
    (
        checks.check_max_pool2d,
        first_channel_only,
        "Clue: only channels 1 and 2 are wrong (all 0); channel 0 is right.",
    ),
    (
        checks.check_conv2d,
        scaled_per_filter,
        "Clue: each filter is off by a factor of its own (times 1, 2, 3, filter by filter)",
    ),
    (
        checks.check_dense,
        lambda x, w, b=None: -oracle.dense(x, w, b),
        "Clue: every value has the wrong sign.",
    ),
    (
        checks.check_dense,
        one_more_per_example,
        "Clue: the difference from the right values depends only on the example",
    ),
    (
        checks.check_max_pool2d,
        pool_then(lambda out: np.swapaxes(out, 2, 3)),
        "Clue: the right values with the rows and columns swapped.",
    ),
    (
        checks.check_max_pool2d,
        pool_then(lambda out: out[:, ::-1]),
        "Clue: the right values in reverse order along the channels.",
    ),
    (
        checks.check_max_pool2d,
        pool_then(lambda out: np.sort(out, axis=-1)),
        "Clue: you have exactly the right values, but some are in the wrong places",
    ),
    (
        checks.check_shift,
        lambda images, dy, dx: loop_shift(images, dy, dx + 1),
        "Clue: the right values, moved 1 column later along the columns",
    ),
    (
        checks.check_shift,
        zeros_filled_with_half,
        "Clue: only values that should be 0 are wrong (8 of them); every value that should "
        "not be 0 is right.",
    ),
    (
        checks.check_conv2d,
        lambda x, weight, bias=None, stride=1, padding=0: np.moveaxis(
            oracle.conv2d(x, weight, bias, stride, padding), 1, -1
        ),
        "Clue: your result has the right values with the axes in another order: "
        "(N, Ho, Wo, F) instead of (N, F, Ho, Wo).",
    ),
    (
        checks.check_correlate2d,
        lambda image, kernel, stride=1, padding=0: np.pad(
            oracle.correlate2d(image, kernel, stride, padding), ((0, 0), (0, 2))
        ),
        "Clue: your result is the right one with 2 columns at the end too many; what "
        "overlaps is right.",
    ),
    (
        checks.check_dense_backward,
        dbias_plus_one,
        "Clue: every value of dbias is off by the same amount, 1. (dx and dweight are right.)",
    ),
    (
        checks.check_max_pool2d_backward,
        to_the_maximum_of_the_map,
        "Clue: your result is 0 at [0, 0, 0, 2], [0, 0, 1, 0], [0, 0, 3, 1], where it should "
        "not be: some values went to the wrong places.",
    ),
    (
        checks.check_confident_mistakes,
        first_one_dropped,
        "Clue: you returned 1 index, 1 of them right; [1] is missing.",
    ),
    (
        checks.check_cross_entropy,
        lambda logits, labels: 3 * oracle.cross_entropy(logits, labels),
        "Clue: your number is 3 times the right one.",
    ),
    (
        checks.check_normalize,
        lambda image: 1 - image / 255,
        "Clue: every value is -1 times the expected one, plus 1.",
    ),
]


@pytest.mark.parametrize(("check", "fn", "clue"), CLUES, ids=[c[2][6:40] for c in CLUES])
def test_an_unknown_mistake_gets_a_clue(check, fn, clue):
    message = message_of(check, fn)
    first_case = message.split("\nCheck ", 2)[1]  # the case the message shows first
    assert clue in first_case, message
    assert "Likely mistake:" not in first_case


def test_the_clue_uses_the_words_of_the_layout():
    axes = _clues._axes("(N, F, Ho, Wo)", 4)
    assert [axis.many for axis in axes] == ["examples", "filters", "rows", "columns"]
    assert axes[1].which([1, 2]) == "filters 1 and 2"
    unnamed = _clues._axes("(the shape of x)", 3)
    assert unnamed[0].which([0]) == "the values at index 0 along axis 0"
    assert [axis.many for axis in unnamed[1:]] == ["rows", "columns"]


def test_an_int_result_gets_no_ratio():
    """16 instead of 8 placements is a coincidence of the case, not a factor of 2."""
    check = Check("count_placements", print, [], returns="int")
    assert _clues.clue(check, 8, 16, low=False) == ""


def test_a_clue_never_fails_whatever_comes_back():
    """Random shapes, dtypes, NaN and empty arrays: a clue or '', never an exception."""
    rng = np.random.default_rng(13)
    check = Check("op", print, [], layout="(N, C, H, W)")
    tuple_check = Check("op", print, [], returns="tuple", parts=("a", "b"), layout=("(N,)", ""))
    for _ in range(300):
        shape = tuple(int(v) for v in rng.integers(0, 5, rng.integers(1, 5)))
        expected = rng.standard_normal(shape)
        other = tuple(int(v) for v in rng.integers(0, 5, len(shape)))
        candidates = [expected * 2, rng.standard_normal(other), np.full(shape, np.nan)]
        got = candidates[int(rng.integers(3))]
        for low in (False, True):
            assert isinstance(_clues.clue(check, expected, got, low), str)
            pair = (expected, expected)
            assert isinstance(_clues.clue(tuple_check, pair, (got, expected), low, 0), str)


def test_every_kth_position_and_a_stray_axis_of_length_1():
    check = Check("op", print, [], layout="(N, C, H, W)")
    right = np.arange(24.0).reshape(1, 2, 3, 4)
    every_other = np.repeat(right, 2, axis=3)[..., :7]
    assert "every 2nd column of your result is right" in _clues.clue(
        check, right, every_other, False
    )
    assert "an axis of length 1 too many: shape (1, 2, 3, 4, 1)" in _clues.clue(
        check, right, right[..., None], False
    )


def _wrong_answers_tool():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "tools" / "wrong_answers.py"
    spec = importlib.util.spec_from_file_location("wrong_answers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_every_wrong_answer_of_the_tool_gets_a_name_or_a_clue():
    """tools/wrong_answers.py's realistic wrong answers: none is left with expected/got alone."""
    tool = _wrong_answers_tool()
    verdicts = {}
    for wrong in tool._wrong_answers() + tool._held_out():
        message = tool.message_of(wrong)
        assert message is not None, f"{wrong.what} passes its check"
        verdicts[wrong.what] = tool.verdict(wrong, message)
    assert "bare" not in verdicts.values(), [w for w, v in verdicts.items() if v == "bare"]
    named_right = {w for w in tool.RIGHT_NAMES if verdicts.get(w) == "named"}
    assert named_right == set(tool.RIGHT_NAMES), set(tool.RIGHT_NAMES) - named_right


def test_a_number_keeps_its_clue_next_to_a_name_it_fits_by_chance():
    """Divided by 3 gives 1 on the line against itself, as a transposed template would."""
    message = message_of(
        checks.check_match_score, lambda image, template: float(np.sum(image * template)) / 3
    )
    assert "Likely mistake: template transposed" in message
    assert "Clue: your number is 1/3 of the right one." in message
