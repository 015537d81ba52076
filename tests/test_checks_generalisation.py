"""Checks of lesson 10: shift and confident_mistakes.

As for every function check: right answers written differently pass, each
known mistake is named, the stub gets the stub message, thorough mode rejects
cnnlab's own function.
"""

import functools
import importlib
import sys

import numpy as np
import pytest
from check_messages import names_mistake

from cnnlab import perturb
from cnnlab.checks import _reference
from cnnlab.checks.generalisation import check_confident_mistakes, check_shift

CHECKS = {
    "shift": check_shift,
    "confident_mistakes": check_confident_mistakes,
}


def message_of(check, fn, thorough=False) -> str:
    with pytest.raises(AssertionError) as info:
        check(fn, thorough=thorough)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    return str(info.value)


@pytest.fixture(autouse=True)
def references_stay_intact():
    yield
    assert sys.getprofile() is None
    np.testing.assert_array_equal(perturb.shift(np.eye(2), 1, 0), [[0.0, 0.0], [1.0, 0.0]])


# ---------------------------------------------------------------- right answers


def loop_shift(images, dy, dx):
    out = np.zeros_like(images)
    height, width = images.shape[-2:]
    for i in range(height):
        for j in range(width):
            if 0 <= i - dy < height and 0 <= j - dx < width:
                out[..., i, j] = images[..., i - dy, j - dx]
    return out


def padded_shift(images, dy, dx):
    """Pad with zeros all round, then cut out the window that moved."""
    n, c, h, w = images.shape
    big = np.zeros((n, c, 3 * h, 3 * w), dtype=images.dtype)
    big[:, :, h : 2 * h, w : 2 * w] = images
    top, left = h - dy, w - dx
    if not (0 <= top <= 2 * h and 0 <= left <= 2 * w):
        return np.zeros_like(images)
    return big[:, :, top : top + h, left : left + w].copy()


def sliced_shift(images, dy, dx):
    """Slices with explicit ends, so that a shift of 0 keeps everything."""
    out = np.zeros_like(images)
    h, w = images.shape[2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_rows = slice(max(-dy, 0), h - max(dy, 0))
    src_cols = slice(max(-dx, 0), w - max(dx, 0))
    out[:, :, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        :, :, src_rows, src_cols
    ]
    return out


def loop_confident_mistakes(probabilities, labels, threshold=0.9):
    found = []
    for n, row in enumerate(probabilities):
        guess = int(np.argmax(row))
        if guess != labels[n] and row[guess] >= threshold:
            found.append(n)
    return np.array(found)  # float64 when empty: accepted


def where_confident_mistakes(probabilities, labels, threshold=0.9):
    mask = (probabilities.argmax(axis=1) != labels) & (probabilities.max(axis=1) >= threshold)
    return np.where(mask)[0].astype(np.int32)  # any integer dtype is fine


RIGHT_ANSWERS = [
    (check_shift, loop_shift),
    (check_shift, padded_shift),
    (check_shift, sliced_shift),
    (check_confident_mistakes, loop_confident_mistakes),
    (check_confident_mistakes, where_confident_mistakes),
]


@pytest.mark.parametrize(("check", "fn"), RIGHT_ANSWERS)
def test_a_right_answer_written_differently_passes(check, fn, capsys):
    check(fn)
    check(fn, thorough=True)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].endswith("checks passed") and out[1].endswith("checks passed (thorough)")


# --------------------------------------------------------------- known mistakes

REF_SHIFT = perturb.shift


def reversed_shift(images, dy, dx):
    return loop_shift(images, -dy, -dx)


def down_is_up(images, dy, dx):
    return loop_shift(images, -dy, dx)


def right_is_left(images, dy, dx):
    return loop_shift(images, dy, -dx)


def edge_shift(images, dy, dx):
    h, w = images.shape[2:]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return images[:, :, rows][:, :, :, cols]


def cropped_shift(images, dy, dx):
    h, w = images.shape[2:]
    return images[:, :, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]


def batch_axes_shift(images, dy, dx):
    out = np.zeros_like(images)
    out[dy:, dx:] = images[: images.shape[0] - dy, : images.shape[1] - dx]
    return out


def both_confident(probabilities, labels, threshold=0.9):
    return np.flatnonzero(probabilities.max(axis=1) >= threshold)


def every_wrong(probabilities, labels, threshold=0.9):
    return np.flatnonzero(probabilities.argmax(axis=1) != labels)


def strictly_above(probabilities, labels, threshold=0.9):
    wrong = probabilities.argmax(axis=1) != labels
    return np.flatnonzero(wrong & (probabilities.max(axis=1) > threshold))


def unsure_ones(probabilities, labels, threshold=0.9):
    wrong = probabilities.argmax(axis=1) != labels
    return np.flatnonzero(wrong & (probabilities.max(axis=1) < threshold))


def the_mask(probabilities, labels, threshold=0.9):
    wrong = probabilities.argmax(axis=1) != labels
    return wrong & (probabilities.max(axis=1) >= threshold)


def nonzero_tuple(probabilities, labels, threshold=0.9):
    return np.nonzero(the_mask(probabilities, labels, threshold))


def the_classes(probabilities, labels, threshold=0.9):
    predicted = probabilities.argmax(axis=1)
    return predicted[the_mask(probabilities, labels, threshold)]


def most_confident_first(probabilities, labels, threshold=0.9):
    found = np.flatnonzero(the_mask(probabilities, labels, threshold))
    return found[np.argsort(-probabilities.max(axis=1)[found], kind="stable")]


# (check, wrong answer, a phrase of the message that names its mistake)
MISTAKES = [
    (check_shift, lambda images, dy, dx: images.copy(), "the images returned without moving"),
    (check_shift, lambda images, dy, dx: np.zeros_like(images), "only zeros returned"),
    (check_shift, batch_axes_shift, "only zeros returned: nothing of the image was copied"),
    (
        check_shift,
        lambda images, dy, dx: np.roll(images, (dy, dx), axis=(2, 3)),
        "wrap-around (np.roll) instead of zero fill",
    ),
    (check_shift, reversed_shift, "moved the wrong way"),
    (check_shift, lambda images, dy, dx: loop_shift(images, dx, dy), "dy and dx swapped"),
    (check_shift, down_is_up, "the vertical direction reversed"),
    (check_shift, right_is_left, "the horizontal direction reversed"),
    (check_shift, lambda images, dy, dx: loop_shift(images, 0, dx), "dy ignored"),
    (check_shift, lambda images, dy, dx: loop_shift(images, dy, 0), "dx ignored"),
    (check_shift, edge_shift, "edge pixels repeated instead of zero fill"),
    (check_shift, cropped_shift, "the image cropped instead of filled with zeros"),
    (check_confident_mistakes, both_confident, "correct predictions included"),
    (check_confident_mistakes, every_wrong, "threshold ignored"),
    (check_confident_mistakes, strictly_above, "> instead of >="),
    (check_confident_mistakes, unsure_ones, "the unsure mistakes returned"),
    (check_confident_mistakes, the_mask, "a boolean mask returned instead of indices"),
    (check_confident_mistakes, nonzero_tuple, "np.nonzero's tuple returned"),
    (check_confident_mistakes, the_classes, "the predicted classes returned"),
    (check_confident_mistakes, most_confident_first, "sorted by confidence instead of by index"),
    (
        check_confident_mistakes,
        lambda p, labels, threshold=0.9: np.argwhere(the_mask(p, labels, threshold)),
        "np.argwhere's column of shape (M, 1)",
    ),
]


@pytest.mark.parametrize(("check", "fn", "phrase"), MISTAKES, ids=[m[2] for m in MISTAKES])
def test_a_known_mistake_is_named(check, fn, phrase):
    message = message_of(check, fn)
    assert names_mistake(message, phrase), message
    assert "Hint: " in message


def built_check(name, monkeypatch, thorough=False):
    """The Check object a check builds, caught on its way to the runner."""
    module = importlib.import_module("cnnlab.checks.generalisation")
    built = []
    monkeypatch.setattr(module, "run", lambda spec, fn, thorough: built.append(spec))
    CHECKS[name](print, thorough=thorough)
    return built[0]


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_mistake_a_check_can_name_is_tested(name, monkeypatch):
    spec = built_check(name, monkeypatch, thorough=True)
    names = set()
    for case in spec.cases:
        case.expected = spec.reference(*case.args.values(), **case.kwargs)
        names.update(m.name for m in spec.mistakes(case))
    tested = set()
    for check, _, phrase in MISTAKES:
        if check is CHECKS[name]:
            hits = [known for known in names if phrase in known]
            assert len(hits) == 1, f"{phrase!r} should pick one of {sorted(names)}"
            tested.update(hits)
    assert names - tested == set()


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_cases_do_not_hide_bugs(name, monkeypatch):
    visible = built_check(name, monkeypatch).cases
    thorough = built_check(name, monkeypatch, thorough=True).cases
    assert len(thorough) >= len(visible) + 6
    assert [case.title for case in thorough[: len(visible)]] == [case.title for case in visible]
    first = [v for v in visible[0].inputs().values() if isinstance(v, np.ndarray)]
    assert sum(v.size for v in first) <= 40, (
        "the first case should be small enough to check by hand"
    )
    arrays = [v for case in visible for v in case.inputs().values() if isinstance(v, np.ndarray)]
    assert {np.dtype(np.float32), np.dtype(np.float64)} <= {v.dtype for v in arrays}
    assert any(v.ndim >= 2 and v.shape[-1] != v.shape[-2] for v in arrays), "all square"


def test_shift_cases_move_both_ways_by_zero_and_past_the_edge(monkeypatch):
    cases = built_check("shift", monkeypatch).cases
    moves = [(case.args["dy"], case.args["dx"]) for case in cases]
    assert (0, 0) in moves
    assert any(dy > 0 and dx > 0 for dy, dx in moves) and any(dy < 0 and dx < 0 for dy, dx in moves)
    assert any(dy == 0 and dx != 0 for dy, dx in moves)
    assert any(
        abs(dy) >= c.args["images"].shape[2] or abs(dx) >= c.args["images"].shape[3]
        for (dy, dx), c in zip(moves, cases, strict=True)
    )


def test_confident_cases_put_a_probability_exactly_on_the_threshold(monkeypatch):
    cases = built_check("confident_mistakes", monkeypatch).cases
    on_threshold = [
        case
        for case in cases
        if np.any(case.args["probabilities"].max(axis=1) == case.kwargs.get("threshold", 0.9))
    ]
    assert len(on_threshold) >= 2
    assert any(not case.kwargs for case in on_threshold), "the default threshold is tested too"


def test_an_input_modified_in_place_is_named():
    def in_place(images, dy, dx):
        images[...] = loop_shift(images, dy, dx)
        return images

    message = message_of(check_shift, in_place)
    assert "Likely mistake: input modified in place: shift changed its argument images." in message


def test_a_shift_of_zero_with_negative_slices_shows_the_crash_and_the_warning():
    def naive(images, dy, dx):
        out = np.zeros_like(images)
        out[..., dy:, dx:] = images[..., :-dy, :-dx]
        return out

    message = message_of(check_shift, naive)
    assert "shift raised ValueError: could not broadcast" in message
    assert "out[..., dy:, dx:] = images[..., :-dy, :-dx]" in message
    assert "careful, a[:-0] is empty" in message


def test_float64_from_float32_input_is_explained():
    def float64_shift(images, dy, dx):
        return loop_shift(images.astype(np.float64), dy, dx)

    message = message_of(check_shift, float64_shift)
    assert "has dtype float64; for float32 input it should be float32" in message


def test_a_list_of_indices_is_asked_to_be_an_array():
    message = message_of(
        check_confident_mistakes,
        lambda probabilities, labels, threshold=0.9: list(
            where_confident_mistakes(probabilities, labels, threshold)
        ),
    )
    assert "but it is a list of 2 items. np.array(...) turns a list into an array." in message


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_stub_gets_the_stub_message(name):
    def stub(*args, **kwargs):
        raise NotImplementedError

    message = message_of(CHECKS[name], stub)
    assert message.startswith(f"{name}: 0/")
    assert message.endswith(
        f"checks passed. {name} raised NotImplementedError: replace the stub with your code."
    )


REFERENCES = {"shift": perturb.shift, "confident_mistakes": perturb.confident_mistakes}


@pytest.mark.parametrize("thorough", [False, True], ids=["visible", "thorough"])
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_calling_cnnlabs_own_function_is_refused(name, thorough):
    reference = REFERENCES[name]

    def delegating(*args, **kwargs):
        return reference(*args, **kwargs)

    message = message_of(CHECKS[name], delegating, thorough=thorough)
    assert f"{name}: your code uses cnnlab's own cnnlab.perturb.{name}" in message
    assert "write it yourself" in message


@pytest.mark.parametrize(
    "fn",
    [
        perturb.shift,
        functools.partial(perturb.shift),
        lambda images, dy, dx: REF_SHIFT(images, dy, dx),
    ],
    ids=["itself", "partial", "lambda"],
)
def test_delegation_to_shift_is_caught_however_it_is_wrapped(fn):
    message = message_of(check_shift, fn)
    assert "cnnlab's own cnnlab.perturb.shift" in message


def test_confident_mistakes_itself_is_refused():
    message = message_of(check_confident_mistakes, perturb.confident_mistakes)
    assert message.startswith(
        "confident_mistakes: your code uses cnnlab's own cnnlab.perturb.confident_mistakes"
    )


def test_the_references_are_in_ref_and_watched():
    assert _reference.REF.shift is perturb.shift
    assert _reference.REF.confident_mistakes is perturb.confident_mistakes
    with _reference.Watch() as watch:
        np.testing.assert_array_equal(perturb.shift(np.eye(2), 0, 1), [[0.0, 1.0], [0.0, 0.0]])
    assert watch.called == ["cnnlab.perturb.shift"]


def test_rebinding_cnnlab_perturb_does_not_change_what_is_expected(monkeypatch, capsys):
    monkeypatch.setattr(perturb, "shift", lambda images, dy, dx: images)
    check_shift(loop_shift)
    assert "shift: 10/10 checks passed" in capsys.readouterr().out


def test_a_non_function_is_refused_plainly():
    with pytest.raises(TypeError, match=r"check_shift needs your function itself"):
        check_shift(np.zeros((1, 1, 3, 3)))
