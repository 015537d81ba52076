"""The grading command line: what `make grade` passes on is what the grader gets."""

from cnnlab.grading.__main__ import _parser


def test_the_default_memory_limit_is_two_gib_in_bytes():
    """A default argparse leaves unconverted would limit each kernel to 2 bytes (it segfaults)."""
    assert _parser().parse_args(["grade"]).memory == 2 * 1024**3


def test_a_memory_limit_is_given_in_gib():
    assert _parser().parse_args(["grade", "--memory", "0.5"]).memory == 1024**3 // 2
