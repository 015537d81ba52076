"""Checks of softmax, log_softmax and cross_entropy: right answers pass, mistakes are named."""

import numpy as np
import oracle
import pytest
from check_messages import names_mistake

import cnnlab
from cnnlab import checks


def message_of(check, fn, thorough=False) -> str:
    with pytest.raises(AssertionError) as info:
        check(fn, thorough=thorough)
    return str(info.value)


def logsumexp(z, axis):
    top = np.max(z, axis=axis, keepdims=True)
    return top + np.log(np.sum(np.exp(z - top), axis=axis, keepdims=True))


def lse_softmax(logits, axis=-1):
    """exp of log_softmax, via log-sum-exp."""
    return np.exp(logits - logsumexp(logits, axis))


def moved_softmax(logits, axis=-1):
    """Moves the class axis last, works row by row, moves it back."""
    z = np.moveaxis(logits, axis, -1)
    e = np.exp(z - z.max(axis=-1)[..., None])
    return np.moveaxis(e / e.sum(axis=-1)[..., None], -1, axis)


def lse_log_softmax(logits, axis=-1):
    return logits - logsumexp(logits, axis)


def gathered_cross_entropy(logits, labels):
    """Mean of log-sum-exp minus the true class's logit."""
    rows = np.arange(len(labels))
    return float(np.mean(logsumexp(logits, 1)[:, 0] - logits[rows, labels]))


def one_hot_cross_entropy(logits, labels):
    """With a one-hot matrix, built on cnnlab.log_softmax (which thorough mode allows)."""
    one_hot = np.eye(logits.shape[1])[labels]
    return float(-(one_hot * cnnlab.log_softmax(logits)).sum() / len(labels))


RIGHT_ANSWERS = [
    (checks.check_softmax, lse_softmax),
    (checks.check_softmax, moved_softmax),
    (checks.check_softmax, oracle.softmax),
    (checks.check_log_softmax, lse_log_softmax),
    (checks.check_log_softmax, oracle.log_softmax),
    (checks.check_cross_entropy, gathered_cross_entropy),
    (checks.check_cross_entropy, one_hot_cross_entropy),
    (checks.check_cross_entropy, oracle.cross_entropy),
]


@pytest.mark.parametrize(("check", "fn"), RIGHT_ANSWERS)
def test_a_right_answer_written_differently_passes(check, fn, capsys):
    check(fn)
    check(fn, thorough=True)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].endswith("checks passed") and out[1].endswith("checks passed (thorough)")


# ------------------------------------------------------------------- known mistakes


def naive_softmax(logits, axis=-1):
    e = np.exp(logits)
    return e / e.sum(axis=axis, keepdims=True)


def global_max_softmax(logits, axis=-1):
    e = np.exp(logits - logits.max())
    return e / e.sum(axis=axis, keepdims=True)


def unnormalised_softmax(logits, axis=-1):
    return np.exp(logits - logits.max(axis=axis, keepdims=True))


def axis0_softmax(logits, axis=-1):
    return moved_softmax(logits, 0)


def last_axis_softmax(logits, axis=-1):
    return moved_softmax(logits, -1)


def whole_array_softmax(logits, axis=-1):
    e = np.exp(logits - logits.max())
    return e / e.sum()


def no_keepdims_softmax(logits, axis=-1):
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis)


def no_keepdims_max_softmax(logits, axis=-1):
    e = np.exp(logits - logits.max(axis=axis))
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(logits, axis=-1):
    return 1 / (1 + np.exp(-logits))


def log_of_softmax(logits, axis=-1):
    return np.log(moved_softmax(logits, axis))


def naive_log_softmax(logits, axis=-1):
    return np.log(naive_softmax(logits, axis))


def shifted_only(logits, axis=-1):
    return logits - logits.max(axis=axis, keepdims=True)


def log_softmax_last_axis(logits, axis=-1):
    return lse_log_softmax(logits, -1)


def losses(logits, labels):
    return lse_log_softmax(logits, 1)[np.arange(len(labels)), labels]


def max_in_exp_only(logits, axis=-1):
    top = logits.max(axis=axis, keepdims=True)
    return np.exp(logits - top) / np.exp(logits).sum(axis=axis, keepdims=True)


def log_max_in_exp_only(logits, axis=-1):
    top = logits.max(axis=axis, keepdims=True)
    return logits - top - np.log(np.exp(logits).sum(axis=axis, keepdims=True))


def log_of_clipped(logits, axis=-1):
    return np.log(np.clip(moved_softmax(logits, axis), 1e-12, None))


def loss_plus_eps(logits, labels):
    p = lse_softmax(logits.astype(np.float64), 1)
    return float(-np.mean(np.log(p[np.arange(len(labels)), labels] + 1e-9)))


def loss_of_rows(logits, labels):
    return float(-np.mean(np.log(lse_softmax(logits.astype(np.float64), 1)[labels])))


CROSS_ENTROPY_MISTAKES = [
    (loss_plus_eps, "log of a probability kept away from 0"),
    (loss_of_rows, "indexed with [labels], which picks whole rows"),
    (lambda z, y: float(-losses(z, y).sum()), "sum instead of mean over the batch"),
    (lambda z, y: -losses(z, y), "one loss per example returned"),
    (lambda z, y: float(losses(z, y).mean()), "wrong sign"),
    (
        lambda z, y: float(-np.mean(np.log(naive_softmax(z)[np.arange(len(y)), y]))),
        "overflow on large logits",
    ),
    (lambda z, y: float(-lse_log_softmax(z, 1)[:, y].mean()), "indexed with [:, labels]"),
    (
        lambda z, y: float(-(np.eye(z.shape[1])[y] * lse_log_softmax(z, 1)).mean()),
        "divided by the number of classes too",
    ),
    (lambda z, y: float(-lse_log_softmax(z, 1).mean()), "labels ignored: averaged over every"),
    (lambda z, y: float(-lse_log_softmax(z, 1)[:, 0].mean()), "labels ignored: class 0"),
    (
        lambda z, y: float(-lse_softmax(z, 1)[np.arange(len(y)), y].mean()),
        "the log is missing",
    ),
    (lambda z, y: float(-losses(z, y).mean() / np.log(2)), "log2 instead of the natural"),
    (lambda z, y: float(-losses(z, y).mean() / np.log(10)), "log10 instead of the natural"),
    (
        lambda z, y: float(-lse_log_softmax(z, 0)[np.arange(len(y)), y].mean()),
        "softmax over the wrong axis",
    ),
    (lambda z, y: float(-z[np.arange(len(y)), y].mean()), "softmax skipped"),
]


def lse_style(shifted, axis, over="axis", keepdims=True):
    """log_softmax the way a learner writes it, of already-shifted logits."""
    e = np.exp(shifted)
    total = e.sum() if over is None else e.sum(axis=axis, keepdims=keepdims)
    return shifted - np.log(total)


LOG_SOFTMAX_MISTAKES = [
    (lambda z, axis=-1: lse_style(z - z.max(), axis), "the largest logit of the whole array"),
    (lambda z, axis=-1: lse_style(z, axis), "overflow on large logits"),
    (lambda z, axis=-1: lse_log_softmax(z, 0), "log_softmax over the wrong axis"),
    (lambda z, axis=-1: lse_style(z - z.max(), axis, over=None), "normalised over the whole array"),
    (
        lambda z, axis=-1: lse_style(z - z.max(axis, keepdims=True), axis, keepdims=False),
        "sum taken without keepdims=True",
    ),
    (lambda z, axis=-1: lse_style(z - z.max(axis), axis), "max taken without keepdims=True"),
]

MISTAKES = [
    *[(checks.check_log_softmax, fn, name) for fn, name in LOG_SOFTMAX_MISTAKES],
    (checks.check_softmax, naive_softmax, "overflow on large logits"),
    (checks.check_softmax, global_max_softmax, "the largest logit of the whole array subtracted"),
    (checks.check_softmax, unnormalised_softmax, "not normalised"),
    (checks.check_softmax, axis0_softmax, "softmax over the wrong axis (axis 0 instead of 1)"),
    (checks.check_softmax, last_axis_softmax, "the axis argument ignored"),
    (checks.check_softmax, whole_array_softmax, "normalised over the whole array"),
    (checks.check_softmax, no_keepdims_softmax, "sum taken without keepdims=True"),
    (checks.check_softmax, no_keepdims_max_softmax, "max taken without keepdims=True"),
    (checks.check_softmax, sigmoid, "sigmoid of each value on its own"),
    (checks.check_softmax, max_in_exp_only, "the maximum subtracted in one place only"),
    (checks.check_log_softmax, log_max_in_exp_only, "the maximum subtracted in one place only"),
    (checks.check_log_softmax, log_of_clipped, "log of a probability kept away from 0"),
    (checks.check_log_softmax, naive_log_softmax, "overflow on large logits"),
    (checks.check_log_softmax, log_of_softmax, "log taken of a softmax that underflowed"),
    (checks.check_log_softmax, moved_softmax, "probabilities returned, not their logarithm"),
    (checks.check_log_softmax, shifted_only, "log of the sum missing"),
    (checks.check_log_softmax, log_softmax_last_axis, "the axis argument ignored"),
    *[(checks.check_cross_entropy, fn, name) for fn, name in CROSS_ENTROPY_MISTAKES],
]


@pytest.mark.parametrize(
    ("check", "fn", "name"), MISTAKES, ids=[f"{c.__name__}-{n}" for c, _, n in MISTAKES]
)
def test_a_known_mistake_is_rejected_and_named(check, fn, name):
    message = message_of(check, fn)
    assert names_mistake(message, name), message
    assert "Hint: " in message


def test_overflow_is_explained_where_it_happens():
    """The naive softmax passes the small cases and fails on the ±1000 logits, with NaN shown."""
    message = message_of(checks.check_softmax, naive_softmax)
    assert message.startswith("softmax: 7/8 checks passed. Check 4 failed.")
    assert "large logits, about ±1000" in message
    assert "[[nan, nan, nan]," in message
    assert "subtract the row's largest logit" in message


def test_cross_entropy_per_example_losses_is_a_plain_sentence():
    message = message_of(checks.check_cross_entropy, lambda z, y: -losses(z, y))
    assert (
        "cross_entropy should return a single number (a float), but it returned an array "
        "of shape (1,)." in message
    )


@pytest.mark.parametrize(
    "fn",
    [
        lambda z, y: np.float32(gathered_cross_entropy(z, y)),
        lambda z, y: np.array(gathered_cross_entropy(z, y)),
    ],
    ids=["numpy scalar", "0-d array"],
)
def test_cross_entropy_accepts_any_real_scalar(fn, capsys):
    checks.check_cross_entropy(fn)
    assert capsys.readouterr().out == "cross_entropy: 6/6 checks passed\n"


@pytest.mark.parametrize(
    ("check", "fn", "allowed"),
    [
        (checks.check_softmax, lambda z, axis=-1: np.exp(cnnlab.log_softmax(z, axis)), False),
        (checks.check_log_softmax, lambda z, axis=-1: np.log(cnnlab.softmax(z, axis)), False),
        (checks.check_cross_entropy, lambda z, y: cnnlab.ops.cross_entropy(z, y), False),
        (checks.check_cross_entropy, one_hot_cross_entropy, True),
    ],
)
def test_which_cnnlab_helpers_thorough_mode_allows(check, fn, allowed, capsys):
    """softmax may not be built on log_softmax; cross_entropy may use log_softmax."""
    if allowed:
        check(fn, thorough=True)
        assert "(thorough)" in capsys.readouterr().out
    else:
        message = message_of(check, fn, thorough=True)
        assert "uses cnnlab's own" in message
        assert "write it yourself" in message
