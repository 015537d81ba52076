"""Immediate, mistake-aware feedback for the graded exercises.

Every function a learner writes has a check, ``check_<name>(fn, *, thorough=False)``::

    from cnnlab.checks import check_conv2d
    check_conv2d(conv2d)                  # prints "conv2d: 9/9 checks passed"
    check_conv2d(conv2d, thorough=True)   # more random cases

A check calls ``fn`` on its own cases (small ones that can be worked out by
hand first, then seeded random ones: non-square, sizes that do not divide
evenly, strides and paddings, float32 and float64) and compares the result
with cnnlab's reference. On success it prints one line. On failure it raises
``AssertionError`` saying how many checks passed, which case failed, what was
expected and what came back, and, when the answer matches a known mistake
(kernel flipped, stride ignored, bias forgotten, softmax overflowing, sum
instead of mean, upstream gradient ignored, ...), names it with a hint;
otherwise a clue says what or where the difference is (only the border, one
channel, a constant factor, a transpose, the right values in the wrong
order, ...). It never shows the reference code, nor the whole expected array
of a large case, and a hint teaches without handing over the code.

Every check refuses an answer that is not the learner's own work: one that
calls cnnlab's implementation of the same function (however it was imported,
wrapped or copied), a library the course rules out, or code that hides what
runs; each check's docstring says which other cnnlab functions may be used.
``thorough=True`` only adds randomised cases. When a check fails in a
notebook, the learner sees the line of their cell that called it and the
message, not the checker's traceback.

The checks are grouped as the lessons are: :mod:`~cnnlab.checks.images`
(lesson 0), :mod:`~cnnlab.checks.templates` (lessons 1 and 7),
:mod:`~cnnlab.checks.convolution` (lesson 2), :mod:`~cnnlab.checks.layers`
(lessons 3 to 5), :mod:`~cnnlab.checks.probabilities` (lesson 6),
:mod:`~cnnlab.checks.backward` and :mod:`~cnnlab.checks.conv_backward`
(lesson 8), :mod:`~cnnlab.checks.digits` (lesson 9) and
:mod:`~cnnlab.checks.generalisation` (lesson 10). They share
the runner in :mod:`~cnnlab.checks._core`, the messages of
:mod:`~cnnlab.checks._compare`, the clues of :mod:`~cnnlab.checks._clues`,
the references and the watch of :mod:`~cnnlab.checks._reference` and the
reading of the learner's source in :mod:`~cnnlab.checks._source`;
:mod:`~cnnlab.checks._wire` and :mod:`~cnnlab.checks._kernel` let the grader
run a check outside the learner's kernel.
"""

from cnnlab.checks.backward import (
    check_avg_pool2d_backward,
    check_cross_entropy_backward,
    check_dense_backward,
    check_max_pool2d_backward,
    check_relu_backward,
)
from cnnlab.checks.conv_backward import check_conv2d_backward
from cnnlab.checks.convolution import check_conv2d, check_correlate2d, check_output_size
from cnnlab.checks.digits import check_digits_model
from cnnlab.checks.generalisation import check_confident_mistakes, check_shift
from cnnlab.checks.images import check_normalize, check_to_grayscale
from cnnlab.checks.layers import (
    check_avg_pool2d,
    check_dense,
    check_flatten,
    check_max_pool2d,
    check_relu,
)
from cnnlab.checks.probabilities import check_cross_entropy, check_log_softmax, check_softmax
from cnnlab.checks.templates import (
    check_count_placements,
    check_match_score,
    check_sgd_step,
    check_template_loss_gradient,
)

__all__ = [
    "check_avg_pool2d",
    "check_avg_pool2d_backward",
    "check_confident_mistakes",
    "check_conv2d",
    "check_conv2d_backward",
    "check_correlate2d",
    "check_count_placements",
    "check_cross_entropy",
    "check_cross_entropy_backward",
    "check_dense",
    "check_dense_backward",
    "check_digits_model",
    "check_flatten",
    "check_log_softmax",
    "check_match_score",
    "check_max_pool2d",
    "check_max_pool2d_backward",
    "check_normalize",
    "check_output_size",
    "check_relu",
    "check_relu_backward",
    "check_sgd_step",
    "check_shift",
    "check_softmax",
    "check_template_loss_gradient",
    "check_to_grayscale",
]
