"""Checks of lesson 0: a colour image to grayscale, and pixel values from 0-255 to 0-1.

The references are :func:`cnnlab.images.to_grayscale` and
:func:`cnnlab.images.normalize`. Cases use uint8 pixels as photos have them,
and float images; the dtype rule is that integer input gives float64 and
float input keeps its dtype.
"""

from __future__ import annotations

import numpy as np

from cnnlab.checks._core import REF, Case, Check, Mistake, extra_rng, run

__all__ = [
    "check_normalize",
    "check_to_grayscale",
]

F32, F64, U8 = np.float32, np.float64, np.uint8
_LUMA = np.array([0.299, 0.587, 0.114])
#: The weights of the HDTV standard (Rec. 709), which other tutorials use.
_HDTV = np.array([0.2126, 0.7152, 0.0722])


# ---------------------------------------------------------------------- to_grayscale


def _grayscale_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(1818)
    pure = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [100, 100, 100]]], dtype=U8)
    mixed = np.array([[[255, 255, 255], [0, 0, 0]], [[100, 100, 100], [255, 255, 0]]], dtype=U8)
    cases = [
        Case("pure red, pure green, pure blue and grey (uint8)", {"image": pure}),
        Case("white, black, grey and yellow (uint8)", {"image": mixed}),
        Case("a 4 x 6 float64 image with values in [0, 1]", {"image": rng.random((4, 6, 3))}),
        Case("a 5 x 3 float32 image", {"image": rng.random((5, 3, 3)).astype(F32)}),
        Case(
            "an 8 x 5 uint8 photo patch: the result is not rounded",
            {"image": rng.integers(0, 256, (8, 5, 3)).astype(U8)},
        ),
        Case("a 7 x 4 float64 image with values 0 to 255", {"image": rng.random((7, 4, 3)) * 255}),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(8):
            shape = (*(int(v) for v in rng.integers(1, 20, 2)), 3)
            kind = rng.choice(["uint8", "float32", "float64"])
            image = (
                rng.integers(0, 256, shape).astype(U8)
                if kind == "uint8"
                else rng.random(shape).astype(kind)
            )
            cases.append(Case(f"random, {kind}", {"image": image}))
    return cases


def _grayscale_mistakes(case: Case):
    image = case.args["image"].astype(F64)
    expected = case.expected
    variants = [
        (
            "equal weights: the plain mean of red, green and blue",
            "the eye is most sensitive to green and least to blue: weigh the channels 0.299, "
            "0.587 and 0.114.",
            lambda: image.mean(axis=2),
        ),
        (
            "the HDTV (Rec. 709) weights 0.2126, 0.7152, 0.0722",
            "those are another standard's weights; this course, like most of computer "
            "vision, uses the ones given in the lesson.",
            lambda: image @ _HDTV,
        ),
        (
            "weights rounded to two decimals",
            "use the weights with all three of their decimals, as the lesson gives them.",
            lambda: image @ np.round(_LUMA, 2),
        ),
        *(
            (
                "one channel taken instead of a weighted sum of all three",
                "a grey value mixes red, green and blue, each with its own weight.",
                lambda c=c: image[..., c],
            )
            for c in range(3)
        ),
        (
            "channels in the wrong order (BGR instead of RGB)",
            "the last axis is red, green, blue, in that order: 0.299 goes with red, image[..., 0].",
            lambda: image[..., ::-1] @ _LUMA,
        ),
        (
            "result rounded to whole numbers",
            "keep the fractions: grey values need not be whole numbers.",
            lambda: np.round(expected),
        ),
        (
            "result truncated to whole numbers (e.g. kept as uint8)",
            "compute in floats and keep the fractions; do not convert back to uint8.",
            lambda: np.floor(expected),
        ),
        (
            "divided by 255 as well",
            "to_grayscale keeps the scale of its input: 0-255 in, 0-255 out.",
            lambda: expected / 255,
        ),
        (
            "channels weighted but not added up",
            "a grey pixel is one number: the weighted sum of its three channels.",
            lambda: image * _LUMA,
        ),
        (
            "plain sum of the channels",
            "weigh the channels (0.299, 0.587, 0.114) so that they add up to one grey value on "
            "the same scale.",
            lambda: image.sum(axis=2),
        ),
        (
            "brightest channel taken",
            "grey is a weighted sum of all three channels.",
            lambda: image.max(axis=2),
        ),
    ]
    for name, hint, make in variants:
        yield Mistake(name, hint, make)


def check_to_grayscale(fn, *, thorough=False) -> None:
    """Check ``to_grayscale(image) -> (H, W)`` with weights 0.299, 0.587, 0.114.

    Names: equal weights (mean), the HDTV weights, weights rounded, one
    channel only, BGR order, rounded or truncated result, divided by 255,
    channels not added up, plain sum, brightest channel. The
    dtype rule: uint8 in gives float64, float keeps its dtype. Thorough mode
    forbids cnnlab's ``to_grayscale``.
    """
    run(
        Check(
            "to_grayscale",
            REF.to_grayscale,
            _grayscale_cases(thorough),
            _grayscale_mistakes,
            layout="(H, W)",
            uses=(),
        ),
        fn,
        thorough,
    )


# ------------------------------------------------------------------------- normalize


def _normalize_cases(thorough: bool) -> list[Case]:
    rng = np.random.default_rng(1919)
    cases = [
        Case("three pixel values (uint8)", {"image": np.array([0, 51, 255], dtype=U8)}),
        Case(
            "a dark image: its brightest pixel is 40 (uint8)",
            {"image": np.array([[10, 20], [30, 40]], dtype=U8)},
        ),
        Case(
            "a 2 x 3 uint8 image",
            {"image": np.array([[0, 128, 255], [64, 32, 16]], dtype=U8)},
        ),
        Case(
            "a 4 x 5 colour photo patch (uint8)",
            {"image": rng.integers(0, 256, (4, 5, 3)).astype(U8)},
        ),
        Case("a float64 image with values 0 to 255", {"image": rng.random((3, 4)) * 255}),
        Case(
            "a float32 image with values 0 to 255",
            {"image": (rng.random((2, 3, 3)) * 255).astype(F32)},
        ),
        Case("an int64 image", {"image": rng.integers(5, 250, (3, 3))}),
    ]
    if thorough:
        rng = extra_rng(rng)  # secret when grading
        for _ in range(6):
            shape = tuple(int(v) for v in rng.integers(1, 9, int(rng.integers(1, 4))))
            kind = rng.choice(["uint8", "float32", "float64"])
            image = rng.integers(0, 256, shape).astype(kind)
            cases.append(Case(f"random, {kind}", {"image": image}))
    return cases


def _normalize_mistakes(case: Case):
    image = case.args["image"].astype(F64)
    low, high = image.min(), image.max()
    variants = [
        (
            "divided by 256 instead of 255",
            "the largest 8-bit value is 255, and it must become exactly 1.",
            lambda: image / 256,
        ),
        (
            "divided by the image's own maximum",
            "always divide by 255, the largest possible pixel value, so that a dark image stays "
            "dark.",
            lambda: image / high,
        ),
        (
            "min-max scaling instead of dividing by 255",
            "just divide by 255: 0 stays 0 and 255 becomes 1, whatever this image holds.",
            lambda: (image - low) / (high - low),
        ),
        (
            "integer division (or an integer result): every value became 0 or 1",
            "use true division /, and return floats.",
            lambda: image // 255,
        ),
        (
            "scaled to [-1, 1] instead of [0, 1]",
            "divide by 255 only; do not shift the values.",
            lambda: image / 127.5 - 1,
        ),
        (
            "multiplied by 255 instead of dividing",
            "normalising maps 0-255 to 0-1: divide.",
            lambda: image * 255,
        ),
        ("values returned unchanged", "divide every value by 255.", lambda: image),
    ]
    for name, hint, make in variants:
        yield Mistake(name, hint, make)


def check_normalize(fn, *, thorough=False) -> None:
    """Check ``normalize(image)``: 0-255 to 0-1 by dividing by 255.

    Names: divided by 256, by the image's maximum, min-max scaling, integer
    division, scaled to [-1, 1], multiplied by 255, unchanged. The dtype rule:
    integer in gives float64, float keeps its dtype. Refuses cnnlab's
    own ``normalize``.
    """
    run(
        Check(
            "normalize",
            REF.normalize,
            _normalize_cases(thorough),
            _normalize_mistakes,
            layout="(the shape of image)",
            uses=(),
        ),
        fn,
        thorough,
    )
