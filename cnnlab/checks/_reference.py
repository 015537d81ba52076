"""The reference functions, and the tripwire that catches an answer calling them.

:data:`REF` holds cnnlab's own implementation of every exercise, captured when
:mod:`cnnlab.checks` is imported: a learner who rebinds ``cnnlab.ops.conv2d``
does not change what the checks expect.

:class:`Tripwire` is how ``thorough=True`` recognises delegation: for the time
of one call of the learner's function it swaps the code of the forbidden
reference functions for a recorder, which notes the call and then does the
real work through a private copy, so the learner's code runs on unchanged.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterable

from cnnlab import grads, images, ops, perturb, templates

__all__ = ["REF", "Tripwire", "armed", "restore_references"]

_REFERENCE_MODULES = {
    ops: (
        "output_size correlate2d conv2d relu max_pool2d avg_pool2d flatten dense "
        "softmax log_softmax cross_entropy"
    ),
    grads: (
        "relu_backward max_pool2d_backward avg_pool2d_backward dense_backward "
        "cross_entropy_backward conv2d_backward"
    ),
    images: "to_grayscale normalize",
    templates: "match_score count_placements template_loss_gradient sgd_step",
    perturb: "shift confident_mistakes",
}

#: The reference functions, captured when cnnlab.checks is imported, so that a
#: learner who rebinds ``cnnlab.ops.conv2d`` does not change what is expected.
REF = types.SimpleNamespace(
    **{
        name: getattr(module, name)
        for module, names in _REFERENCE_MODULES.items()
        for name in names.split()
    }
)


def _key(function) -> str:
    return f"{function.__module__}.{function.__qualname__}"


#: The code object of every reference function, as imported: what a tripwire restores.
_ORIGINAL_CODE = {_key(f): f.__code__ for f in vars(REF).values()}
_ORIGINAL_FUNCTION = {_key(f): f for f in vars(REF).values()}


# ------------------------------------------------------------------------ tripwire


def _tripwire_body(*args, **kwargs):
    # This code object becomes the __code__ of an armed reference function, so it runs
    # with the globals of *that* function's module: it may use builtins and literals
    # only. Its co_name is the key of the function it replaces.
    import sys

    core = sys.modules["cnnlab.checks._reference"]
    return core._tripped(sys._getframe().f_code.co_name, args, kwargs)


assert __name__ == "cnnlab.checks._reference", "the tripwire names this module literally"

_TRIP_CODE = {
    key: _tripwire_body.__code__.replace(co_name=key, co_qualname=key) for key in _ORIGINAL_CODE
}
_COPIES: dict = {}  # key -> a private copy of the reference, with its original code
_ACTIVE: list = []  # the tripwires armed right now


def _private_copy(key: str):
    if key not in _COPIES:
        f = _ORIGINAL_FUNCTION[key]
        clone = types.FunctionType(
            _ORIGINAL_CODE[key], f.__globals__, f.__name__, f.__defaults__, f.__closure__
        )
        clone.__kwdefaults__ = f.__kwdefaults__
        _COPIES[key] = clone
    return _COPIES[key]


def _tripped(key: str, args: tuple, kwargs: dict):
    """Called instead of an armed reference: note who was called, then do its job."""
    for wire in _ACTIVE:
        wire.fired.append(key)
    return _private_copy(key)(*args, **kwargs)


def armed() -> list[str]:
    """The reference functions whose code is swapped for a tripwire right now."""
    return [key for key, f in _ORIGINAL_FUNCTION.items() if f.__code__ is not _ORIGINAL_CODE[key]]


def restore_references() -> None:
    """Put back the original code of every reference function, disarming every tripwire."""
    for key in armed():
        _ORIGINAL_FUNCTION[key].__code__ = _ORIGINAL_CODE[key]
    _ACTIVE.clear()


class Tripwire:
    """Swap the code of some reference functions for a recorder, while in a ``with`` block.

    Every alias of a function (``cnnlab.relu``, ``cnnlab.ops.relu``, ``from
    cnnlab.ops import relu as r``, a ``functools.partial``, a lambda, a layer
    of :mod:`cnnlab.nn` that calls it) is the same function object, so
    replacing that object's ``__code__`` catches them all; the module
    attributes need not be touched. An armed function still returns the right
    answer (through a private copy of its original code), so the learner's code
    runs on normally and the check reports the delegation. Everything is
    restored on leaving the block, whatever happened inside it, including
    ``KeyboardInterrupt``.
    """

    def __init__(self, functions: Iterable):
        self.keys = [_key(f) for f in functions]
        self.fired: list[str] = []

    def aliases(self, fn) -> str | None:
        """The key of the forbidden reference that ``fn`` *is*: itself, a partial or a copy.

        A copy (``types.FunctionType(cnnlab.relu.__code__, ...)``) runs the original
        code without going through the armed function object, so it is recognised
        by its code object before it is called.
        """
        target = fn
        while isinstance(target, functools.partial | types.MethodType):
            target = target.func if isinstance(target, functools.partial) else target.__func__
        code = getattr(target, "__code__", None)
        for key in self.keys:
            if code is _ORIGINAL_CODE[key] or code is _TRIP_CODE[key]:
                return key
        return None

    def __enter__(self):
        for key in self.keys:
            _private_copy(key)
        _ACTIVE.append(self)
        try:
            for key in self.keys:
                _ORIGINAL_FUNCTION[key].__code__ = _TRIP_CODE[key]
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info):
        try:
            for key in self.keys:
                _ORIGINAL_FUNCTION[key].__code__ = _ORIGINAL_CODE[key]
        finally:
            if self in _ACTIVE:
                _ACTIVE.remove(self)
