"""Keep a submission from replacing the checks that grade it.

A test cell runs in the learner's kernel, after the learner's code. Without a
guard, one line in a solution cell would pass every test::

    import cnnlab.checks
    cnnlab.checks.check_relu = lambda *args, **kwargs: None

and so would replacing ``numpy.allclose``, a reference function's
``__code__``, ``builtins.__import__`` or ``sys.modules["cnnlab.checks"]``.
When grading, :class:`~cnnlab.grading.preprocessors.GuardedExecute` therefore
runs :func:`install` in the kernel before the first cell: it imports the
checks and records what grading relies on: every attribute of every cnnlab
module and of ``numpy``, ``numpy.testing`` and ``math``; the builtin functions
and types; the code, defaults and methods of every cnnlab function and class;
and those modules' entries in ``sys.modules``. Before each test cell it calls
the function :func:`install` returned, which puts back whatever changed and
names it: the test then runs with the original checks, and the feedback says
what was replaced.

This stops rebinding and monkey-patching, deliberate or accidental. It does not
stop code written to find and disable the guard itself (it runs in the same
process): grading an exam with stakes needs the tests in a process the
learner's code never touches.
"""

from __future__ import annotations

import builtins
import sys
import types

__all__ = ["install", "restore", "snapshot"]

#: Modules, besides cnnlab's, whose attributes the checks use.
SUPPORT_MODULES = ("numpy", "numpy.testing", "math")
_MISSING = object()


def _ours(name: str) -> bool:
    return name == "cnnlab" or name.startswith("cnnlab.")


def _methods(cls) -> dict:
    return {
        name: value
        for name, value in vars(cls).items()
        if isinstance(value, types.FunctionType | staticmethod | classmethod | property)
    }


def snapshot() -> dict:
    """What grading relies on, as it is now (import the checks first)."""
    modules = {
        name: module
        for name, module in sys.modules.items()
        if isinstance(module, types.ModuleType) and (_ours(name) or name in SUPPORT_MODULES)
    }
    attributes = {name: dict(vars(module)) for name, module in modules.items()}
    attributes["builtins"] = {
        name: value
        for name, value in vars(builtins).items()
        if isinstance(value, types.BuiltinFunctionType | type)
    }
    functions, classes = {}, {}
    for name, module in modules.items():
        if not _ours(name):
            continue
        for value in vars(module).values():
            if isinstance(value, type) and _ours(value.__module__):
                classes[value] = _methods(value)
                for method in classes[value].values():
                    if isinstance(method, types.FunctionType):
                        functions[method] = _function_parts(method)
            elif isinstance(value, types.FunctionType) and _ours(value.__module__):
                functions[value] = _function_parts(value)
    return {
        "modules": modules,
        "attributes": attributes,
        "functions": functions,
        "classes": classes,
    }


def _function_parts(function) -> tuple:
    return function.__code__, function.__defaults__, function.__kwdefaults__


def restore(saved: dict) -> list[str]:
    """Put back everything :func:`snapshot` saw; return the names of what had changed, sorted."""
    changed = []
    for name, module in saved["modules"].items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
            changed.append(f"sys.modules[{name!r}]")
    for name, values in saved["attributes"].items():
        module = builtins if name == "builtins" else saved["modules"][name]
        namespace = vars(module)
        for attribute, value in values.items():
            if namespace.get(attribute, _MISSING) is not value:
                namespace[attribute] = value
                changed.append(f"{name}.{attribute}")
    for cls, methods in saved["classes"].items():
        for attribute, value in methods.items():
            if vars(cls).get(attribute, _MISSING) is not value:
                setattr(cls, attribute, value)
                changed.append(f"{cls.__module__}.{cls.__qualname__}.{attribute}")
    for function, (code, defaults, kwdefaults) in saved["functions"].items():
        if (
            function.__code__ is not code
            or function.__defaults__ is not defaults
            or function.__kwdefaults__ is not kwdefaults
        ):
            function.__code__ = code
            function.__defaults__ = defaults
            function.__kwdefaults__ = kwdefaults
            changed.append(f"the code of {function.__module__}.{function.__qualname__}")
    return sorted(changed)


def install(name: str):
    """Import the checks, take the snapshot, and keep ``restore`` as builtin ``name``.

    The grader calls it by that (random) name before each test cell, from code
    of its own that the notebook never shows.
    """
    import numpy.testing  # noqa: F401

    import cnnlab.checks  # noqa: F401 - the checks, and everything they use

    saved = snapshot()

    def put_back(saved=saved, restore=restore):
        return restore(saved)

    setattr(builtins, name, put_back)
    return put_back
