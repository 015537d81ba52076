"""Reading the learner's code: what an exercise's function uses, found from its source.

A check must know whether an answer *is* the learner's work: an answer that
calls cnnlab's own implementation, or a library that does the whole job
(``scipy.signal.correlate2d``), passes every comparison and teaches nothing.
This module reads the source, never runs it. From the exercise's function it
follows every name the code uses (the functions it calls, the globals they
read, the module-level assignments behind those) and reports:

* a cnnlab function or class the exercise does not allow (each check lists
  the cnnlab helpers it allows, e.g. ``output_size``);
* a library the course rules out (scipy, torch, scikit-image, ...): the
  exercises are written with numpy;
* code that changes or hides what runs (``exec``, ``eval``, ``__import__``,
  ``importlib``, ``getattr`` with a computed name, ``sys.modules``,
  ``globals()``, code objects, special attributes such as
  ``object.__setattr__``, IPython hooks, assigning to a module's attributes),
  which no exercise needs and which could hide either of the two;
* in the cells the learner wrote, an import of any module but the few the
  lessons use (:data:`ALLOWED_MODULES`): a module that imports by name
  (``pydoc``, ``unittest.mock``), starts threads or reaches the interpreter
  would open a way around everything above, and no exercise needs one.

Two readers share these rules. :func:`function_findings` reads a live
function (the visible check, in the learner's kernel): names are resolved
through the function's globals and closure. :func:`notebook_findings` reads
a whole notebook (the grader, outside the kernel): names are resolved through
the imports and assignments of its cells, and the cells the learner wrote
(solution cells, edited or added cells) are also searched for code that
changes what runs. Both report :class:`Finding` objects, worded the same way.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.util
import inspect
import os
import re
import sys
import sysconfig
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "LIBRARIES",
    "Finding",
    "Rules",
    "function_findings",
    "history_findings",
    "notebook_findings",
    "python_source",
]

#: Libraries that would do an exercise's whole job, and what they are.
LIBRARIES = {
    "scipy": "SciPy",
    "torch": "PyTorch",
    "tensorflow": "TensorFlow",
    "keras": "Keras",
    "jax": "JAX",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "OpenCV",
    "PIL": "Pillow",
}
#: Calls that run or fetch code the reader cannot see.
DYNAMIC_CALLS = {"eval", "exec", "compile", "__import__", "globals", "locals", "vars", "breakpoint"}
#: Calls that are dynamic when the attribute name is not written out.
ATTRIBUTE_CALLS = {"getattr", "setattr", "delattr"}
#: Modules that reach into the interpreter, the import system or code objects.
DYNAMIC_MODULES = {
    "importlib",
    "imp",
    "pkgutil",
    "zipimport",
    "builtins",
    "ctypes",
    "gc",
    "inspect",
    "marshal",
    "pickle",
    "dill",
    "cloudpickle",
    "copyreg",
    "code",
    "codeop",
    "runpy",
    "subprocess",
    "multiprocessing",
    "pty",
    "IPython",
}
#: The only modules a learner's cells may import: what the lessons use, and a few small
#: parts of the standard library a learner may reach for. Anything else (``os``,
#: ``sys``, ``threading``, ``pydoc``, ``unittest.mock``, ...) can reach past the rules.
ALLOWED_MODULES = {
    "numpy",
    "matplotlib",
    "cnnlab",
    "math",
    "cmath",
    "random",
    "statistics",
    "itertools",
    "functools",
    "collections",
    "heapq",
    "bisect",
    "copy",
    "fractions",
    "decimal",
    "numbers",
    "time",
    "warnings",
    "pathlib",
    "tempfile",
    "__future__",
}
#: Of an allowed module, the members a learner's code may use, where not all of it is
#: harmless: ``functools.update_wrapper`` and ``wraps`` get and set attributes by name.
ALLOWED_MEMBERS = {
    "functools": {"partial", "reduce", "cache", "lru_cache", "cmp_to_key", "total_ordering"},
}
#: numpy's loaders, which can unpickle (and unpickling runs code) if told to, by keyword,
#: by position or through ``**``: a learner's code may call them with the file alone.
LOADERS = {"load", "read_array", "open_memmap", "NpzFile"}
#: Modules that, reached as another module's attribute (``plt.sys``, ``mpl.os``), open
#: a way around the rules: besides :data:`DYNAMIC_MODULES`, those that start threads,
#: import or look up by name, or evaluate strings (``typing``'s annotations).
REACHING_MODULES = {
    "os",
    "sys",
    "threading",
    "_thread",
    "concurrent",
    "asyncio",
    "pydoc",
    "unittest",
    "mock",
    "atexit",
    "faulthandler",
    "signal",
    "typing",
    "string",
    "operator",
}
#: Special attributes a learner's code may use; any other ``__name__`` is reported.
PLAIN_DUNDERS = {"__init__", "__name__", "__qualname__", "__doc__", "__class__", "__module__"}
#: Parts of cnnlab a learner's code never needs: the checks and the grader themselves.
GRADER_MODULES = ("cnnlab.checks", "cnnlab.grading")
#: Attributes that open up functions, frames, modules or the interpreter.
DYNAMIC_ATTRIBUTES = {
    "__dict__",
    "__code__",
    "__globals__",
    "__builtins__",
    "__closure__",
    "__subclasses__",
    "__getattribute__",
    "__import__",
    "__loader__",
    "__spec__",
    "f_back",
    "f_globals",
    "f_locals",
    "f_code",
    "gi_frame",
    "tb_frame",
    "co_code",
    "modules",  # sys.modules
    "_getframe",
    "settrace",
    "setprofile",
    "meta_path",
    "path_hooks",
    # running another program: its code is not in the notebook
    "system",
    "popen",
    "execv",
    "execve",
    "execvp",
    "execl",
    "execlp",
    "spawnv",
    "spawnl",
    "posix_spawn",
    "fork",
    "forkpty",
}
#: The IPython magics a graded notebook may use: the lessons' set-up line, and timing
#: (whose code is read like any other).
ALLOWED_MAGICS = {
    ("run_line_magic", "matplotlib"),
    ("run_line_magic", "time"),
    ("run_line_magic", "timeit"),
    ("run_cell_magic", "time"),
    ("run_cell_magic", "timeit"),
}
_TIMING_OPTIONS = re.compile(r"^(\s*-[a-z]+(\s*[0-9]+)?)*\s*")


@dataclass(frozen=True)
class Rules:
    """What an exercise's function may use.

    ``cnnlab`` names the cnnlab functions and classes it may call (by name,
    e.g. ``("output_size",)``), or is ``None`` when any of cnnlab may be used
    (training a network with ``cnnlab.nn``). ``libraries``: whether the
    libraries of :data:`LIBRARIES` are ruled out.
    """

    cnnlab: tuple | None = ()
    libraries: bool = True


@dataclass(frozen=True)
class Finding:
    """One thing the code uses that the exercise does not allow."""

    kind: str  # "cnnlab", "library", "dynamic" or "missing"
    what: str  # e.g. "cnnlab.relu", "scipy.signal.correlate2d", "exec()"
    where: str = ""  # e.g. "relu, line 3" or "cell 14, line 2"

    def sentence(self, name: str) -> str:
        at = f" ({self.where})" if self.where else ""
        if self.kind == "cnnlab":
            return (
                f"{name}: your code uses cnnlab's own {self.what}{at}; the exercise is to "
                "write it yourself."
            )
        if self.kind == "library":
            root = self.what.split(".")[0]
            return (
                f"{name}: your code uses {self.what}{at}, from {LIBRARIES.get(root, root)}; "
                "this exercise is written with numpy only, so that you see every step."
            )
        if self.kind == "missing":
            return f"{name}: {self.what}"
        if self.kind == "module":
            allowed = ", ".join(sorted(m for m in ALLOWED_MODULES if not m.startswith("_")))
            return (
                f"{name}: your code imports {self.what}{at}, which graded code may not: "
                f"a graded notebook imports only {allowed}."
            )
        return (
            f"{name}: your code uses {self.what}{at}, which graded code may not: it can "
            "change or hide what runs."
        )


# ----------------------------------------------------------------------- AST walking


def python_source(cell_source: str) -> str:
    """A cell's source as Python: IPython magics and ``!`` lines become calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with the kernel
        return cell_source
    return TransformerManager().transform_cell(cell_source)


def _chain(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None if the root is not a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _line(node: ast.AST) -> int:
    return getattr(node, "lineno", 0)


def _module_assignments(tree: ast.AST) -> Iterator[tuple[list[str], int]]:
    """Attribute assignments and deletions: (["np", "maximum"], line) for ``np.maximum = f``.

    Whether the root is a module (a monkey-patch) is for the caller to decide.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                parts = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
                for part in parts:  # np.x = ..., not plt.rcParams[...] = ...
                    if isinstance(part, ast.Attribute) and _chain(part) is not None:
                        yield _chain(part), _line(node)


def _dynamic(tree: ast.AST, module_level: bool) -> Iterator[tuple[str, int]]:
    """Code in ``tree`` that changes or hides what runs: (what, line)."""
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    plain_loads = {  # np.load(path): the file alone, nothing that could allow pickles
        id(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and len(node.args) <= 1
        and not node.keywords
        and not any(isinstance(a, ast.Starred) for a in node.args)
    }
    for node in ast.walk(tree):
        loader = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
        if (
            loader in LOADERS
            and isinstance(node, ast.Attribute | ast.Name)
            and isinstance(node.ctx, ast.Load)
            and id(node) not in plain_loads
        ):
            what = f"{loader}() given more than a file (it can unpickle, which runs code)"
            yield what, _line(node)
        if (
            isinstance(node, ast.Name)
            and node.id in DYNAMIC_CALLS | ATTRIBUTE_CALLS
            and id(node) not in called
        ):
            yield f"{node.id} passed on as a value", _line(node)  # g = setattr; g(np, ...)
        if isinstance(node, ast.Call) and any(
            k.arg == "allow_pickle"
            and not (isinstance(k.value, ast.Constant) and k.value.value is False)
            for k in node.keywords
        ):
            yield "allow_pickle (unpickling runs code)", _line(node)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in DYNAMIC_CALLS:
                yield f"{func.id}()", _line(node)
            elif isinstance(func, ast.Name) and func.id in ATTRIBUTE_CALLS:
                name = node.args[1] if len(node.args) > 1 else None
                if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    yield f"{func.id}() with a computed name", _line(node)
                elif func.id in ("setattr", "delattr"):
                    yield f"{func.id}()", _line(node)
                elif _opens_up(name.value):
                    yield f"{func.id}() of .{name.value}", _line(node)
            elif isinstance(func, ast.Attribute) and _is_ipython_call(func):
                magic = _magic(node)
                if (func.attr, magic) in ALLOWED_MAGICS and magic in ("time", "timeit"):
                    yield from _timed_code(node, module_level)
                elif (func.attr, magic) not in ALLOWED_MAGICS:
                    prefix = {"run_line_magic": "%", "run_cell_magic": "%%"}.get(func.attr, "!")
                    yield (
                        (f"{prefix}{magic}" if magic else f"get_ipython().{func.attr}"),
                        _line(node),
                    )
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for module in modules:
                if module.split(".")[0] in DYNAMIC_MODULES:
                    yield f"the module {module}", _line(node)
        elif isinstance(node, ast.Attribute) and _opens_up(node.attr):
            yield f".{node.attr}", _line(node)
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__loader__"):
            yield node.id, _line(node)
        elif (
            isinstance(node, ast.Name) and node.id == "get_ipython" and not _calls_magic(tree, node)
        ):
            yield "get_ipython()", _line(node)
        elif isinstance(node, ast.Global | ast.Nonlocal):  # a function that rebinds globals
            kind = "global" if isinstance(node, ast.Global) else "nonlocal"
            yield f"{kind} " + ", ".join(node.names), _line(node)


def _opens_up(attribute: str) -> bool:
    """Whether an attribute opens up the interpreter: a frame's, a code object's, a
    special method such as ``__setattr__``, or a module that does (``x.importlib``)."""
    special = attribute.startswith("__") and attribute.endswith("__")
    return (
        attribute in DYNAMIC_ATTRIBUTES
        or (special and attribute not in PLAIN_DUNDERS)
        or attribute in DYNAMIC_MODULES
        or attribute in REACHING_MODULES
    )


def _timed_code(node: ast.Call, module_level: bool) -> Iterator[tuple[str, int]]:
    """The code a %time or %timeit runs, read like a cell's (or reported if unreadable)."""
    texts = [a.value for a in node.args[1:] if isinstance(a, ast.Constant)]
    for text in texts:
        if not isinstance(text, str):
            continue
        try:
            tree = ast.parse(_TIMING_OPTIONS.sub("", text, count=1))
        except SyntaxError:
            yield "a %time or %timeit whose code cannot be read", _line(node)
            continue
        for what, _ in _dynamic(tree, module_level):
            yield what, _line(node)


def _calls_magic(tree: ast.AST, name: ast.Name) -> bool:
    """Whether ``get_ipython`` is only the start of a magic call (reported as the magic)."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and _is_ipython_call(node.func)
            and node.func.value.func is name
        ):
            return True
    return False


def _is_ipython_call(func: ast.Attribute) -> bool:
    inner = func.value
    return (
        isinstance(inner, ast.Call)
        and isinstance(inner.func, ast.Name)
        and inner.func.id == "get_ipython"
    )


def _magic(node: ast.Call) -> str:
    if node.args and isinstance(node.args[0], ast.Constant):
        return str(node.args[0].value)
    return ""


def _locals(function: ast.FunctionDef | ast.Lambda) -> set[str]:
    """The names a function binds itself (parameters, assignments, imports, nested defs)."""
    names = set()
    arguments = function.args
    for arg in (
        *arguments.posonlyargs,
        *arguments.args,
        *arguments.kwonlyargs,
        arguments.vararg,
        arguments.kwarg,
    ):
        if arg is not None:
            names.add(arg.arg)
    body = function.body if isinstance(function.body, list) else [function.body]
    declared_global = set()
    for node in _own_nodes(body):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.arg):  # the parameters of nested functions and lambdas
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            declared_global.update(node.names)
    return names - declared_global


def _own_nodes(body: list) -> Iterator[ast.AST]:
    """Every node of a function body, nested functions and classes included.

    Comprehensions and nested functions are walked too: a name they read that
    the outer function does not bind is still a global the code depends on.
    """
    for statement in body:
        yield from ast.walk(statement)


def _references(function: ast.AST) -> Iterator[tuple[list[str], int]]:
    """The global names a function reads, as attribute chains: (["np", "maximum"], line)."""
    local = _locals(function) if isinstance(function, ast.FunctionDef | ast.Lambda) else set()
    seen_attributes = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Attribute) and id(node) not in seen_attributes:
            chain = _chain(node)
            if chain is not None:
                # Only the outermost attribute of a chain is reported.
                inner = node.value
                while isinstance(inner, ast.Attribute):
                    seen_attributes.add(id(inner))
                    inner = inner.value
                seen_attributes.add(id(inner))
                if chain[0] not in local:
                    yield chain, _line(node)
        elif (
            isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)
            and id(node) not in seen_attributes
            and node.id not in local
        ):
            yield [node.id], _line(node)


def _imports(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """The dotted names the import statements in ``tree`` bring in: ("scipy.signal", line)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, _line(node)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                yield f"{node.module}.{alias.name}", _line(node)


def _defaults(function: ast.FunctionDef | ast.Lambda) -> list[ast.AST]:
    return [*function.args.defaults, *(d for d in function.args.kw_defaults if d is not None)]


# --------------------------------------------------------------------- classifying


def _classify(qualname: str, rules: Rules) -> str | None:
    """ "cnnlab" or "library" if a dotted name is ruled out for this exercise, else None."""
    root = qualname.split(".")[0]
    if root in DYNAMIC_MODULES or qualname in ("sys.modules", "sys._getframe"):
        return "dynamic"
    if qualname.startswith(GRADER_MODULES):
        return "dynamic"
    parts = qualname.split(".")
    if root in ALLOWED_MEMBERS and len(parts) > 1 and parts[1] not in ALLOWED_MEMBERS[root]:
        return "dynamic"
    if root == "numpy" and len(parts) > 2 and parts[-1] in LOADERS:
        return "dynamic"  # from numpy.lib.format import read_array: then called unseen
    if root == "cnnlab" and rules.cnnlab is not None:
        last = qualname.rsplit(".", 1)[-1]
        if last not in rules.cnnlab and qualname not in ("cnnlab", "cnnlab.ops", "cnnlab.grads"):
            return "cnnlab"
    if root in LIBRARIES and rules.libraries:
        return "library"
    return None


def _short(qualname: str) -> str:
    """``cnnlab.ops.relu`` is shown as ``cnnlab.relu``: the name the lessons use."""
    parts = qualname.split(".")
    if parts[0] == "cnnlab" and len(parts) == 3 and parts[1] in ("ops", "grads"):
        return f"cnnlab.{parts[2]}"
    return qualname


# ------------------------------------------------------------ reading a live function


def _unwrap(fn):
    seen = set()
    while id(fn) not in seen:
        seen.add(id(fn))
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif isinstance(fn, types.MethodType):
            fn = fn.__func__
        elif hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        else:
            break
    return fn


def _qualname_of(value) -> str | None:
    """The dotted name of a module, or of a function or class defined in one."""
    if isinstance(value, types.ModuleType):
        return value.__name__
    module = getattr(value, "__module__", None)
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if isinstance(module, str) and isinstance(name, str):
        return f"{module}.{name}"
    return None


def _library_folders() -> tuple[str, ...]:
    """Where installed code lives: the standard library, site-packages, and cnnlab itself."""
    paths = sysconfig.get_paths()
    folders = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    folders.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # cnnlab/
    return tuple(os.path.join(os.path.abspath(f), "") for f in folders)


_LIBRARY_FOLDERS = _library_folders()


def _from_library(value) -> bool:
    """Whether a function or class is installed code (not the learner's): by its file."""
    code = getattr(value, "__code__", None)
    if code is not None:
        filename = code.co_filename
    else:
        try:
            filename = inspect.getfile(value)
        except (TypeError, OSError):
            return True  # built in
    return os.path.abspath(filename).startswith(_LIBRARY_FOLDERS)


def _function_tree(fn) -> tuple[ast.AST, int] | None:
    """The AST of a live function's definition and its first line, if its source is there."""
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    source = inspect.cleandoc("".join(lines)) if lines[0][:1].isspace() else "".join(lines)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # A lambda in the middle of a line: parse the line from a "lambda" on.
        tree = _lambda_tree("".join(lines))
        if tree is None:
            return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return node, start
    return None


def _lambda_tree(text: str) -> ast.AST | None:
    """The first lambda expression that parses in ``text``, a line or two of source."""
    at = text.find("lambda")
    while at >= 0:
        for end in range(len(text), at, -1):
            try:
                return ast.parse(text[at:end].strip(), mode="eval")
            except SyntaxError:
                continue
        at = text.find("lambda", at + 1)
    return None


def function_findings(fn, rules: Rules) -> list[Finding]:
    """What a live function (and everything it reaches) uses that ``rules`` rule out.

    Names are looked up in the function's globals and closure as they are now;
    the functions it reaches that the learner wrote (not from an installed
    package) are read the same way.
    """
    findings: list[Finding] = []
    done: set[int] = set()

    def add(kind: str, what: str, where: str) -> None:
        finding = Finding(kind, what, where)
        if finding not in findings:
            findings.append(finding)

    def visit_value(value, where: str) -> None:
        value = _unwrap(value)
        qualname = _qualname_of(value)
        if qualname is not None:
            kind = _classify(qualname, rules)
            if kind is not None and not isinstance(value, types.ModuleType):
                add(kind, _short(qualname), where)
                return
            if kind == "library":
                add(kind, qualname, where)
                return
        if isinstance(value, types.FunctionType | type) and not _from_library(value):
            visit(value)

    def visit(fn) -> None:
        fn = _unwrap(fn)
        if id(fn) in done:
            return
        done.add(id(fn))
        if isinstance(fn, type):
            for member in vars(fn).values():
                if isinstance(member, types.FunctionType):
                    visit(member)
            return
        if not isinstance(fn, types.FunctionType) or _from_library(fn):
            qualname = _qualname_of(fn)
            kind = _classify(qualname, rules) if qualname else None
            if kind is not None:
                add(kind, _short(qualname), "")
            return
        label = getattr(fn, "__name__", "function")
        for value in (*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()):
            visit_value(value, f"{label}, a default argument")
        free = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False))
        parsed = _function_tree(fn)
        if parsed is None:
            # No source to read (made by exec, or typed at a prompt): follow the names
            # its code uses, and the values it closes over.
            for cell in free.values():
                try:
                    contents = cell.cell_contents
                except ValueError:  # a closure variable not assigned yet
                    continue
                visit_value(contents, label)
            names = fn.__code__.co_names
            for global_name in names:
                value = fn.__globals__.get(global_name)
                if isinstance(value, types.ModuleType):
                    for attribute in names:  # any name the code uses may be read from it
                        member = vars(value).get(attribute)
                        if member is not None and not isinstance(member, types.ModuleType):
                            visit_value(member, label)
                elif global_name in fn.__globals__:
                    visit_value(value, label)
            return
        tree, start = parsed
        for what, line in _dynamic(tree, module_level=False):
            add("dynamic", what, f"{label}, line {start + line - 1}")
        for qualname, line in _imports(tree):
            kind = _classify(qualname, rules)
            if kind is not None:
                add(kind, _short(qualname), f"{label}, line {start + line - 1}")
        for chain, line in _module_assignments(tree):
            if isinstance(fn.__globals__.get(chain[0]), types.ModuleType):
                what = f"an assignment to {'.'.join(chain)}"
                add("dynamic", what, f"{label}, line {start + line - 1}")
        for chain, line in _references(tree):
            where = f"{label}, line {start + line - 1}"
            root = chain[0]
            if root in free:
                try:
                    value = free[root].cell_contents
                except ValueError:
                    continue
            elif root in fn.__globals__:
                value = fn.__globals__[root]
            elif hasattr(builtins, root):
                continue
            else:
                continue
            for attribute in chain[1:]:
                if not isinstance(value, types.ModuleType | type):
                    break
                try:
                    value = inspect.getattr_static(value, attribute)
                except AttributeError:
                    break
                if isinstance(value, staticmethod | classmethod):
                    value = value.__func__
            visit_value(value, where)

    visit(fn)
    return findings


# ---------------------------------------------------------------- reading a notebook


@dataclass
class _Binding:
    """A module-level binding of a name in a cell: an import, a def, or an assignment."""

    cell: int
    qualname: str | None = None  # what an import binds the name to
    node: ast.AST | None = None  # the def, or the value assigned
    learner: bool = False


def _cell_trees(cells: Iterable[tuple[str, bool]]) -> list[tuple[ast.Module | None, bool]]:
    trees = []
    for source, learner in cells:
        try:
            trees.append((ast.parse(python_source(source)), learner))
        except SyntaxError:
            trees.append((None, learner))
    return trees


def _bindings(trees) -> dict[str, list[_Binding]]:
    """Every module-level binding of every name, cell by cell, in order."""
    table: dict[str, list[_Binding]] = {}

    def bind(name: str, binding: _Binding) -> None:
        table.setdefault(name, []).append(binding)

    for index, (tree, learner) in enumerate(trees):
        if tree is None:
            continue
        for node in tree.body:
            for statement in ast.walk(node) if not _is_scope(node) else [node]:
                _bind_statement(statement, index, learner, bind)
    return table


def _is_scope(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)


def _bind_statement(node: ast.AST, index: int, learner: bool, bind) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                bind(alias.asname, _Binding(index, alias.name, learner=learner))
            else:
                root = alias.name.split(".")[0]
                bind(root, _Binding(index, root, learner=learner))
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        for alias in node.names:
            if alias.name != "*":
                target = f"{node.module}.{alias.name}"
                bind(alias.asname or alias.name, _Binding(index, target, learner=learner))
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        bind(node.name, _Binding(index, node=node, learner=learner))
    elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    bind(name.id, _Binding(index, node=value, learner=learner))
    elif isinstance(node, ast.Match):
        for case in node.cases:
            for pattern in ast.walk(case.pattern):
                for name in (getattr(pattern, "name", None), getattr(pattern, "rest", None)):
                    if isinstance(name, str):
                        bind(name, _Binding(index, node=node.subject, learner=learner))
    elif isinstance(node, ast.For | ast.AsyncFor | ast.With | ast.AsyncWith):
        pairs = (
            [(node.target, node.iter)]
            if isinstance(node, ast.For | ast.AsyncFor)
            else [(item.optional_vars, item.context_expr) for item in node.items]
        )
        for target, value in pairs:
            for name in ast.walk(target) if target is not None else ():
                if isinstance(name, ast.Name):
                    bind(name.id, _Binding(index, node=value, learner=learner))


def _attribute_targets(tree: ast.AST) -> Iterator[tuple[ast.AST, int, bool, str | None]]:
    """Every attribute assigned to or deleted: (target, line, whether inside a function,
    the name of the instance when inside a method: its first parameter, or None)."""

    def walk(node, in_function, instance, in_class):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                parts = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
                for part in parts:
                    if isinstance(part, ast.Attribute):
                        yield part, _line(node), in_function, instance
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            first = (node.args.posonlyargs + node.args.args)[:1]
            rebound = {
                n.id
                for n in ast.walk(node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)
            }
            instance = first[0].arg if in_class and first and first[0].arg not in rebound else None
            in_function = True
        for child in ast.iter_child_nodes(node):
            yield from walk(child, in_function, instance, isinstance(node, ast.ClassDef))

    yield from walk(tree, False, None, False)


def _all_chains(tree: ast.AST) -> Iterator[tuple[list[str], int]]:
    """Every name and attribute chain read anywhere in ``tree``, with literal getattr()s."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute | ast.Name) and isinstance(node.ctx, ast.Load):
            chain = _chain(node)
            if chain is not None:
                yield chain, _line(node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            chain = _chain(node.args[0])
            if chain is not None:
                yield [*chain, node.args[1].value], _line(node)


@functools.cache
def _installed(module: str) -> bool:
    """Whether ``module`` is a module of the standard library or an installed package."""
    if module in sys.builtin_module_names or module in sys.stdlib_module_names:
        return True
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    origin = spec.origin or next(iter(spec.submodule_search_locations or []), "")
    return os.path.abspath(str(origin)).startswith(_LIBRARY_FOLDERS)


class _Findings(list):
    """Findings in the order found, each once."""

    def add(self, kind: str, what: str, where: str) -> None:
        finding = Finding(kind, what, where)
        if finding not in self:
            self.append(finding)


def _is_module(table: dict, name: str, depth: int = 0) -> bool:
    """Whether a name is bound to a module (imported, or assigned from one)."""
    for binding in table.get(name, []):
        if binding.qualname is not None:
            return True
        node = binding.node
        chain = _chain(node) if isinstance(node, ast.Name | ast.Attribute) else None
        if chain is not None and depth < 10 and _is_module(table, chain[0], depth + 1):
            return True
    return False


def _whole_cell(trees, table: dict, rules: Rules, findings: _Findings) -> None:
    """What a learner's cells do, anywhere in them, that no graded notebook may do.

    Code that changes or hides what runs; an assignment to a module's
    attribute, to anything reached through an index or a call, or, inside a
    function, to any object but a method's own instance (a module may have
    been passed in); the checks or the grader named; a module that is not
    installed (a file the notebook wrote and imports), or not among
    :data:`ALLOWED_MODULES`.
    """
    for index, (tree, learner) in enumerate(trees):
        if not learner or tree is None:
            continue
        where = f"cell {index + 1}"
        for what, line in _dynamic(tree, module_level=True):
            findings.add("dynamic", what, f"{where}, line {line}")
        for target, line, in_function, instance in _attribute_targets(tree):
            chain = _chain(target)
            root = target
            while isinstance(root, ast.Attribute | ast.Subscript | ast.Call):
                root = root.func if isinstance(root, ast.Call) else root.value
            if instance is not None and isinstance(root, ast.Name) and root.id == instance:
                continue  # self.weight = ..., self.layers[0].weight = ... in a method
            if not in_function and chain is not None and not _is_module(table, chain[0]):
                continue  # an object of the notebook's own, at module level
            # In a function, any other object may be a module passed in (m.abs = f).
            shown = ".".join(chain) if chain else ast.unparse(target)
            findings.add("dynamic", f"an assignment to {shown}", f"{where}, line {line}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                what = f"from {node.module} import * (names that cannot be followed)"
                findings.add("dynamic", what, f"{where}, line {_line(node)}")
        for qualname, line in _imports(tree):
            root = qualname.split(".")[0]
            if _classify(qualname, rules) == "dynamic":
                findings.add("dynamic", _short(qualname), f"{where}, line {line}")
            elif not _installed(root):
                findings.add("dynamic", f"import {root}, not an installed module", where)
            elif _classify(qualname, rules) == "library":  # anywhere: it may be bound unseen
                findings.add("library", qualname, f"{where}, line {line}")
            elif root not in ALLOWED_MODULES and root not in LIBRARIES:
                findings.add("module", root, f"{where}, line {line}")
        for chain, line in _all_chains(tree):
            for binding in table.get(chain[0], []):
                if binding.qualname is not None:
                    qualname = ".".join([binding.qualname, *chain[1:]])
                    if _classify(qualname, rules) == "dynamic":
                        findings.add("dynamic", _short(qualname), f"{where}, line {line}")


def _only_checks(tree: ast.Module) -> bool:
    """Whether a cell only imports checks and calls them: a lesson's test cell."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "cnnlab.checks":
            continue
        call = node.value if isinstance(node, ast.Expr) else None
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id.startswith("check_")
        ):
            return False
    return True


def history_findings(rules: Rules) -> list[Finding]:
    """The whole-cell findings of every cell run so far in this IPython kernel.

    What the grader reads in the learner's cells (see :func:`notebook_findings`)
    the visible check reads in the kernel's history, so that both agree. The
    history keeps cells since deleted: restarting the kernel forgets them.
    Outside IPython there is no history: nothing is found.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the kernel
        return []
    shell = get_ipython()
    if shell is None:
        return []
    sources = [s for s in shell.user_ns.get("In", [])[1:] if isinstance(s, str)]
    trees = []
    for tree, learner in _cell_trees([(source, True) for source in sources]):
        trees.append((tree, learner and tree is not None and not _only_checks(tree)))
    findings = _Findings()
    _whole_cell(trees, _bindings(trees), rules, findings)
    return [
        Finding(f.kind, f.what, f.where.replace("cell ", "In [", 1).replace(",", "],", 1))
        if f.where.startswith("cell ") and "," in f.where
        else f
        for f in findings
    ]


def notebook_findings(cells: list[tuple[str, bool]], function: str, rules: Rules) -> list[Finding]:
    """What the notebook's ``function`` (and all it reaches) uses that ``rules`` rule out.

    ``cells`` are the notebook's code cells in order, each with whether the
    learner wrote it (a solution cell, or a cell that is not in the student
    version as given). Reported too: what :func:`_whole_cell` finds in the
    learner's cells, and a ``function`` that is missing or rebound after its
    ``def``.
    """
    trees = _cell_trees(cells)
    table = _bindings(trees)
    findings = _Findings()
    add = findings.add
    _whole_cell(trees, table, rules, findings)

    definitions = [
        b for b in table.get(function, []) if isinstance(b.node, ast.FunctionDef | ast.ClassDef)
    ]
    if not definitions:
        add("missing", f"{function} is not defined with def in the notebook.", "")
        return findings
    last = definitions[-1]
    for binding in table[function]:
        if binding.cell >= last.cell and binding is not last and binding.learner:
            add("dynamic", f"another value given to {function} after its def", "")

    done: set[int] = set()

    def resolve(chain: list[str], where: str, depth: int = 0) -> None:
        if depth > 30:
            return
        for binding in table.get(chain[0], []):
            if binding.qualname is not None:
                qualname = ".".join([binding.qualname, *chain[1:]])
                kind = _classify(qualname, rules)
                if kind is not None:
                    add(kind, _short(qualname), where)
            elif binding.node is not None and binding.learner:
                alias = (
                    _chain(binding.node)
                    if isinstance(binding.node, ast.Attribute | ast.Name)
                    else None
                )
                if alias is not None and len(chain) > 1:  # np = cnnlab, then np.relu
                    resolve([*alias, *chain[1:]], where, depth + 1)
                visit(binding.node, where, depth + 1)

    def visit(node: ast.AST, where: str, depth: int = 0) -> None:
        if id(node) in done:
            return
        done.add(id(node))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            label = getattr(node, "name", "lambda")
            for default in _defaults(node):
                visit(default, f"{label}, a default argument", depth)
            for what, line in _dynamic(node, module_level=False):
                add("dynamic", what, f"{label}, line {line}")
            for qualname, line in _imports(node):
                kind = _classify(qualname, rules)
                if kind is not None:
                    add(kind, _short(qualname), f"{label}, line {line}")
            for chain, line in _references(node):
                resolve(chain, f"{label}, line {line}", depth)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                visit(item, where, depth)
            for other in (*node.bases, *node.decorator_list, *(k.value for k in node.keywords)):
                visit(other, where, depth)
        else:  # an expression assigned at module level
            for chain, _ in _references(node):
                resolve(chain, where, depth)

    visit(last.node, function)
    return list(findings)
