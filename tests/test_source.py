"""Reading a learner's notebook for what an exercise may not use (cnnlab.checks._source).

The grader decides delegation from the submitted source alone: these notebooks
are lists of (cell source, written by the learner) as the grader builds them.
"""

import functools

import numpy as np
import pytest

from cnnlab.checks import _core
from cnnlab.checks._source import Rules, notebook_findings

SETUP = ("%matplotlib inline\nimport numpy as np\nimport cnnlab\nfrom cnnlab import ops, nn", False)
NUMPY_ONLY = Rules()
WITH_OUTPUT_SIZE = Rules(cnnlab=("output_size",))


def findings(*cells, function="relu", rules=NUMPY_ONLY):
    return [(f.kind, f.what) for f in notebook_findings([SETUP, *cells], function, rules)]


def learner(source):
    return (source, True)


def lesson(source):
    return (source, False)


def test_a_plain_numpy_answer_is_fine():
    assert findings(learner("def relu(x):\n    return np.maximum(x, 0)\n")) == []


def test_the_lessons_own_cells_may_use_anything():
    cells = [
        lesson("print(cnnlab.relu(np.ones(3)))\nx = nn.ReLU()"),
        learner("def relu(x):\n    return np.where(x > 0, x, 0)\n"),
    ]
    assert findings(*cells) == []


def test_a_local_name_is_not_mistaken_for_a_global_of_the_same_name():
    cells = [
        learner("def relu(x):\n    r = np.maximum(x, 0)\n    return r\n"),
        learner("r = cnnlab.relu(np.ones(2))  # trying it out"),
    ]
    assert findings(*cells) == []


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ([learner("def relu(x):\n    return cnnlab.relu(x)\n")], ("cnnlab", "cnnlab.relu")),
        ([learner("def relu(x):\n    return ops.relu(x)\n")], ("cnnlab", "cnnlab.relu")),
        (
            [learner("from cnnlab.ops import relu as r\n\ndef relu(x):\n    return r(x)\n")],
            ("cnnlab", "cnnlab.relu"),
        ),
        ([learner("def relu(x):\n    return nn.ReLU()(x)\n")], ("cnnlab", "cnnlab.nn.ReLU")),
        (
            [learner("R = ops.relu"), learner("def relu(x):\n    return R(x)\n")],
            ("cnnlab", "cnnlab.relu"),
        ),
        (
            [learner("np = cnnlab"), learner("def relu(x):\n    return np.relu(x)\n")],
            ("cnnlab", "cnnlab.relu"),
        ),
        (
            [
                learner(
                    "def helper(x):\n    return cnnlab.relu(x)\n\n"
                    "def relu(x):\n    return helper(x)"
                )
            ],
            ("cnnlab", "cnnlab.relu"),
        ),
        (
            [learner("def relu(x, f=cnnlab.relu):\n    return f(x)\n")],
            ("cnnlab", "cnnlab.relu"),
        ),
        (
            [
                learner(
                    "def relu(x):\n    import scipy.special\n"
                    "    return x * scipy.special.expit(1e9 * x)"
                )
            ],
            ("library", "scipy.special"),
        ),
        (
            [learner("def relu(x):\n    return eval('cnnlab.relu')(x)\n")],
            ("dynamic", "eval()"),
        ),
        (
            [learner("def relu(x):\n    return getattr(cnnlab, 'r' + 'elu')(x)\n")],
            ("dynamic", "getattr() with a computed name"),
        ),
    ],
    ids=[
        "cnnlab.relu",
        "ops.relu",
        "imported under another name",
        "an nn layer",
        "a global assigned in another cell",
        "numpy's name given to cnnlab",
        "a helper",
        "a default argument",
        "scipy",
        "eval",
        "getattr",
    ],
)
def test_delegation_is_found(cells, expected):
    assert expected in findings(*cells)


def test_an_allowed_helper_is_fine_and_others_are_not():
    body = "def max_pool2d(x, kernel_size=2, stride=None):\n    n = cnnlab.output_size(3, 2)\n"
    assert findings(learner(body), function="max_pool2d", rules=WITH_OUTPUT_SIZE) == []
    other = body + "    return cnnlab.max_pool2d(x)\n"
    assert ("cnnlab", "cnnlab.max_pool2d") in findings(
        learner(other), function="max_pool2d", rules=WITH_OUTPUT_SIZE
    )


@pytest.mark.parametrize(
    ("cell", "what"),
    [
        ("import sys\nsys.modules['numpy'].maximum = cnnlab.relu", ".modules"),
        ("np.maximum = cnnlab.relu", "an assignment to np.maximum"),
        ("get_ipython().input_transformers_post.append(lambda lines: lines)", "get_ipython()"),
        ("%load_ext something", "%load_ext"),
        ("!cat /etc/passwd", "!cat /etc/passwd"),
        ("import importlib\nimportlib.reload(np)", "the module importlib"),
        ("exec(open('x.py').read())", "exec()"),
        ("import builtins\nbuiltins.abs = max", "the module builtins"),
        # special attributes: setting a module's attribute without an assignment
        ("object.__setattr__(np, 'abs', lambda x: x)", ".__setattr__"),
        ("type(np).__delattr__(np, 'abs')", ".__delattr__"),
        ("getattr(object, '__setattr__')(np, 'abs', max)", "getattr() of .__setattr__"),
        # a module reached as another module's attribute
        ("import matplotlib.pyplot as plt\nplt.importlib.import_module('os')", ".importlib"),
        ("import matplotlib as mpl\nmpl.os.system('ls')", ".os"),
        ("import matplotlib.pyplot as plt\nplt.sys.modules", ".sys"),
        # the builtins that reach attributes by name, passed on as values
        ("g = setattr\ng(np, 'abs', max)", "setattr passed on as a value"),
        (
            "import functools\nfunctools.reduce(getattr, ['abs'], np)",
            "getattr passed on as a value",
        ),
        # code in a file: unpickling runs it
        ("x = np.load('x.npy', allow_pickle=True)", "allow_pickle (unpickling runs code)"),
        # attributes got and set by name, inside an allowed module
        (
            "import functools\nclass H: pass\nfunctools.update_wrapper(np, H, assigned=['abs'])",
            "functools.update_wrapper",
        ),
        ("from functools import wraps\nwraps(np, assigned=['abs'])", "functools.wraps"),
        # a loader told to unpickle, however it is told
        (
            "x = np.load('f.npy', None, True)",
            "load() given more than a file (it can unpickle, which runs code)",
        ),
        (
            "x = np.load('f', **{'allow' + '_pickle': True})",
            "load() given more than a file (it can unpickle, which runs code)",
        ),
        ("from numpy.lib.format import read_array", "numpy.lib.format.read_array"),
        # a function that rebinds a global (the exercise's own name, unseen)
        ("def swap():\n    global relu\n    relu = abs\nswap()", "global relu"),
        # names nobody can follow
        ("from cnnlab.nn import *", "from cnnlab.nn import * (names that cannot be followed)"),
        # a module passed into a function, and changed there
        ("def patch(m, f):\n    m.abs = f\npatch(np, max)", "an assignment to m.abs"),
        ("def patch(m):\n    del m.abs\npatch(np)", "an assignment to m.abs"),
        (
            "class P:\n    def set(self, m):\n        m.abs = max\nP().set(np)",
            "an assignment to m.abs",
        ),
        # a "method" whose instance is rebound is no method
        (
            "class P:\n    def set(self, m):\n        self = m\n        self.abs = max",
            "an assignment to self.abs",
        ),
    ],
)
def test_code_in_a_learners_cell_that_changes_what_runs_is_found(cell, what):
    cells = [learner("def relu(x):\n    return np.maximum(x, 0)\n"), learner(cell)]
    assert ("dynamic", what) in findings(*cells)


@pytest.mark.parametrize(
    "module",
    [
        "threading",
        "_thread",
        "pydoc",
        "unittest.mock",
        "os",
        "sys",
        "operator",
        "signal",
        "typing",  # get_type_hints evaluates strings
        "string",  # Formatter.get_field looks attributes up by name
    ],
)
def test_a_module_the_lessons_do_not_use_is_found(module):
    cells = [learner(f"import {module}\ndef relu(x):\n    return np.maximum(x, 0)\n")]
    found = notebook_findings([SETUP, *cells], "relu", NUMPY_ONLY)
    assert [(f.kind, f.what) for f in found] == [("module", module.split(".")[0])]
    sentence = found[0].sentence("relu")
    assert sentence.startswith(f"relu: your code imports {module.split('.')[0]} (cell 2, line 1)")
    assert "numpy" in sentence and "math" in sentence


def test_the_modules_a_learner_may_reach_for_are_fine():
    cell = (
        "import math, itertools, functools\nfrom collections import Counter\n"
        "def relu(x):\n    return np.maximum(x, 0) * math.copysign(1, 1)\n"
    )
    assert findings(learner(cell)) == []


def test_a_file_loaded_alone_is_fine():
    cell = "x = np.load('weights.npz')\ndef relu(x):\n    return np.maximum(x, 0)\n"
    assert findings(learner(cell)) == []


@pytest.mark.parametrize(
    "cell",
    [
        "match cnnlab.relu:\n    case relu:\n        pass",
        "import sklearn\nmatch sklearn:\n    case {'relu': relu}:\n        pass",
    ],
)
def test_a_name_bound_by_a_match_is_another_value(cell):
    cells = [learner("def relu(x):\n    return np.maximum(x, 0)\n"), learner(cell)]
    assert ("dynamic", "another value given to relu after its def") in findings(*cells)


def test_a_library_imported_anywhere_in_a_learners_cell_is_found():
    cells = [learner("def relu(x):\n    return np.maximum(x, 0)\n"), learner("import sklearn")]
    assert ("library", "sklearn") in findings(*cells)


@pytest.mark.parametrize(
    "cell",
    [
        "def d(c):\n    return cnnlab.relu\n@d\nclass relu:\n    pass\n",
        "class M(type):\n    def __call__(cls, x):\n        return cnnlab.relu(x)\n"
        "class relu(metaclass=M):\n    pass\n",
    ],
)
def test_a_class_is_read_with_its_decorators_and_metaclass(cell):
    assert ("cnnlab", "cnnlab.relu") in findings(learner(cell))


def test_a_method_may_set_its_own_attributes():
    cell = (
        "class Scaled:\n    def __init__(self, k):\n        self.k = k\n"
        "    def apply(self, x):\n        self.last = x\n        self.parts[0].weight = 1\n"
        "        return np.maximum(x, 0) * self.k\n"
        "def relu(x):\n    return Scaled(1).apply(x)\n"
    )
    assert findings(learner(cell)) == []


def test_the_lessons_matplotlib_line_is_fine():
    assert findings(learner("%matplotlib inline\ndef relu(x):\n    return x * (x > 0)\n")) == []


def test_a_function_rebound_after_its_def_is_found():
    cells = [learner("def relu(x):\n    return np.maximum(x, 0)\n"), learner("relu = ops.relu")]
    assert ("dynamic", "another value given to relu after its def") in findings(*cells)


def test_a_missing_function_is_said_plainly():
    found = notebook_findings([SETUP, learner("x = 1")], "relu", NUMPY_ONLY)
    assert found[0].sentence("relu") == "relu: relu is not defined with def in the notebook."


def test_a_cell_that_does_not_parse_is_skipped():
    cells = [learner("def relu(x):\n    return np.maximum(x, 0)\n"), learner("def broken(:")]
    assert findings(*cells) == []


def test_anything_of_cnnlab_is_allowed_where_the_rules_say_so():
    body = "def train(x):\n    model = nn.Sequential(nn.Conv2d(1, 2, 3))\n    return model\n"
    assert findings(learner(body), function="train", rules=Rules(cnnlab=None)) == []


def test_a_failing_check_shows_the_calling_line_and_the_message_only():
    def caller():
        _core.run(
            _core.Check("relu", lambda x: x, [_core.Case("one", {"x": np.ones(2)})]),
            lambda x: 2 * x,
        )

    with pytest.raises(_core.CheckFailure) as info:
        caller()
    shown = info.value._render_traceback_()
    assert shown[-1].startswith("CheckFailure: relu: 0/1 checks passed.")
    assert not any("cnnlab/checks" in line for line in shown)
    assert "(line" in shown[0] and "_core.run(" in shown[0]


def test_timing_a_function_is_fine_and_its_code_is_read():
    cells = [learner("def relu(x):\n    return np.maximum(x, 0)\n"), learner("%timeit relu(x)")]
    assert findings(*cells) == []
    cells[1] = learner("%timeit -n 1 exec('relu = cnnlab.relu')")
    assert ("dynamic", "exec()") in findings(*cells)
    cells[1] = learner("%%time\nimport importlib\n")
    assert ("dynamic", "the module importlib") in findings(*cells)


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()


def test_the_visible_check_reads_the_kernels_history_as_the_grader_reads_cells(shell):
    """A hook registered in any cell run so far fails the visible check, as it fails grading."""
    from cnnlab import checks

    run = functools.partial(shell.run_cell, store_history=True)
    run("import numpy as np\ndef relu(x):\n    return np.maximum(x, 0)\n")
    run("from cnnlab.checks import check_relu\ncheck_relu(relu)")  # a test cell: fine
    relu = shell.user_ns["relu"]
    checks.check_relu(relu)
    run("get_ipython().events.register('post_run_cell', lambda result: None)")
    with pytest.raises(AssertionError, match=r"get_ipython\(\) \(In \[3\], line 1\)"):
        checks.check_relu(relu)
