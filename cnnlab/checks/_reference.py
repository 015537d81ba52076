"""The reference functions, and the watch that sees an answer calling cnnlab's own code.

:data:`REF` holds cnnlab's own implementation of every exercise, captured when
:mod:`cnnlab.checks` is imported: a learner who rebinds ``cnnlab.ops.conv2d``
does not change what the checks expect.

:class:`Watch` observes, without changing anything, every call that the
learner's function makes into cnnlab's code (``sys.setprofile``, for the time
of one call): ``cnnlab.relu``, ``from cnnlab.ops import relu as r``, a
``functools.partial``, a lambda, a ``cnnlab.nn`` layer, a copy of the
function made from its code object: all of them run cnnlab's code, so all of
them are seen. Together with the reading of the learner's source
(:mod:`~cnnlab.checks._source`) this is how a check recognises an answer that
is not the learner's own work.
"""

from __future__ import annotations

import os
import sys
import threading
import types
from collections.abc import Iterable

import cnnlab
from cnnlab import grads, images, ops, perturb, templates

__all__ = ["REF", "Watch", "public_name"]

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

_PACKAGE = os.path.dirname(os.path.abspath(cnnlab.__file__)) + os.sep
_CHECKS = os.path.join(_PACKAGE, "checks") + os.sep


def _in_cnnlab(code: types.CodeType) -> bool:
    return code.co_filename.startswith(_PACKAGE) and not code.co_filename.startswith(_CHECKS)


def public_name(module: str, qualname: str) -> str:
    """``cnnlab.ops.relu`` as the lessons write it (``cnnlab.relu``); a method as its class."""
    top = qualname.split(".")[0]
    parts = module.split(".")
    if len(parts) == 2 and parts[1] in ("ops", "grads"):
        return f"cnnlab.{top}"
    return f"{module}.{top}"


class Watch:
    """Notes the cnnlab functions and classes the learner's code calls, while in a ``with``.

    Only calls that enter cnnlab from outside it count (what cnnlab calls
    internally does not), and only those whose name is not in ``allowed``
    (e.g. ``{"output_size"}``): they are listed in :attr:`called`, as
    :func:`public_name` writes them. Nothing is replaced: the previous profile
    function (a debugger's, a profiler's) is put back on leaving.
    """

    def __init__(self, allowed: Iterable[str] = ()):
        self.allowed = set(allowed)
        self.called: list[str] = []

    def _profile(self, frame, event, arg):
        if event != "call" or not _in_cnnlab(frame.f_code):
            return
        caller = frame.f_back
        if caller is not None and _in_cnnlab(caller.f_code):
            return  # cnnlab calling itself
        top = frame.f_code.co_qualname.split(".")[0]
        if top in self.allowed or top.startswith("<"):
            return
        name = public_name(frame.f_globals.get("__name__", "cnnlab"), frame.f_code.co_qualname)
        if name not in self.called:
            self.called.append(name)

    def __enter__(self):
        self._previous = (sys.getprofile(), threading.getprofile())
        sys.setprofile(self._profile)
        threading.setprofile(self._profile)
        return self

    def __exit__(self, *exc_info):
        sys.setprofile(self._previous[0])
        threading.setprofile(self._previous[1])
