"""The machinery shared by every check: messages, exceptions, in-place changes, delegation.

The per-exercise tests (test_checks_forward.py and friends) show that right
answers pass and known mistakes are named; these tests pin down how a check
talks to a learner whatever the exercise, and that thorough mode catches an
answer that hands the work to cnnlab, without ever leaving cnnlab broken.
"""

import functools
import importlib
import inspect
import re
import sys
import types
import warnings

import numpy as np
import pytest
from test_checks_forward import einsum_conv2d

import cnnlab
import cnnlab.nn
import cnnlab.ops
from cnnlab import checks, ops, templates
from cnnlab.checks import _core, _reference
from cnnlab.ops import relu as imported_relu

# check_digits_model grades a whole trained network (tests/test_checks_digits.py):
# it has no reference function and trains for seconds, so the generic tests skip it.
ALL_CHECKS = {
    name[len("check_") :]: getattr(checks, name)
    for name in checks.__all__
    if name != "check_digits_model"
}


def message_of(check, fn, thorough=False) -> str:
    with pytest.raises(AssertionError) as info:
        check(fn, thorough=thorough)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    return str(info.value)


def reference_copy(name):
    """A correct answer written without cnnlab: the first right answer the check tests list."""
    import test_checks_backward
    import test_checks_forward
    import test_checks_generalisation
    import test_checks_lessons
    import test_checks_probabilities

    for module in (
        test_checks_forward,
        test_checks_backward,
        test_checks_lessons,
        test_checks_probabilities,
        test_checks_generalisation,
    ):
        for check, fn in module.RIGHT_ANSWERS:
            if check.__name__ == f"check_{name}":
                return fn
    raise LookupError(f"no right answer for {name} in the check tests")


def assert_references_intact():
    assert sys.getprofile() is None  # the watch is gone after every check
    np.testing.assert_array_equal(cnnlab.relu(np.array([-1.0, 2.0])), [0.0, 2.0])
    assert cnnlab.output_size(7, 3, stride=2, padding=1) == 4


@pytest.fixture(autouse=True)
def references_stay_intact():
    yield
    assert_references_intact()


# ---------------------------------------------------------------------- every check


def test_every_exercise_of_the_course_has_a_check():
    required = {
        "to_grayscale",
        "normalize",
        "match_score",
        "count_placements",
        "output_size",
        "correlate2d",
        "conv2d",
        "relu",
        "max_pool2d",
        "flatten",
        "dense",
        "softmax",
        "cross_entropy",
        "relu_backward",
        "max_pool2d_backward",
        "dense_backward",
        "cross_entropy_backward",
        "conv2d_backward",
        "template_loss_gradient",
        "sgd_step",
        "avg_pool2d",
        "log_softmax",
    }
    assert required <= set(ALL_CHECKS)
    for name, check in ALL_CHECKS.items():
        assert "Names:" in check.__doc__, name
        assert list(inspect.signature(check).parameters) == ["fn", "thorough"]


@pytest.mark.parametrize("name", sorted(ALL_CHECKS))
def test_a_correct_answer_passes_with_one_line(name, capsys):
    # How long each check takes is measured by benchmarks/bench_checks.py, not asserted.
    check = ALL_CHECKS[name]
    check(reference_copy(name))
    check(reference_copy(name), thorough=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{name}: ") and lines[0].endswith(" checks passed")
    assert lines[1].endswith(" checks passed (thorough)")


def built_check(name, monkeypatch, thorough=False):
    """The Check object a check_<name> builds, caught on its way to the runner."""
    check = ALL_CHECKS[name]
    module = importlib.import_module(check.__module__)
    built = []
    monkeypatch.setattr(module, "run", lambda spec, fn, thorough: built.append(spec))
    check(print, thorough=thorough)
    return built[0]


FLOAT_FREE = {"output_size", "count_placements"}  # they take ints, not arrays
SQUARE = {"template_loss_gradient"}  # lesson 7 learns a 3 x 3 template, and only that


@pytest.mark.parametrize("name", sorted(ALL_CHECKS))
def test_the_cases_do_not_hide_bugs(name, monkeypatch):
    """Small worked cases first, float32 and float64, non-square; thorough adds random ones."""
    visible = built_check(name, monkeypatch).cases
    thorough = built_check(name, monkeypatch, thorough=True).cases
    assert len(thorough) >= len(visible) + 6
    assert [case.title for case in thorough[: len(visible)]] == [case.title for case in visible]
    first = [v for v in visible[0].inputs().values() if isinstance(v, np.ndarray)]
    assert sum(v.size for v in first) <= 40, (
        "the first case should be small enough to check by hand"
    )
    if name in FLOAT_FREE:
        return
    arrays = [v for case in visible for v in case.inputs().values() if isinstance(v, np.ndarray)]
    dtypes = {v.dtype for v in arrays}
    assert np.dtype(np.float32) in dtypes and np.dtype(np.float64) in dtypes
    if name not in SQUARE:
        assert any(v.ndim >= 2 and v.shape[-1] != v.shape[-2] for v in arrays), "all square"


MISTAKE_TABLES = (
    "test_checks_forward",
    "test_checks_probabilities",
    "test_checks_backward",
    "test_checks_lessons",
    "test_checks_generalisation",
)


def without_axes(name):
    return re.sub(r" \(axis \d+ instead of \d+\)", "", name)


@pytest.mark.parametrize("name", sorted(ALL_CHECKS))
def test_every_mistake_a_check_can_name_is_tested(name, monkeypatch):
    """Each name is the unique match of a phrase some test asserts for a wrong answer."""
    spec = built_check(name, monkeypatch, thorough=True)
    names = set()
    for case in spec.cases:
        case.expected = spec.reference(*case.args.values(), **case.kwargs)
        names.update(without_axes(m.name) for m in spec.mistakes(case))
    tested = set()
    for module in MISTAKE_TABLES:
        for check, _, phrase in importlib.import_module(module).MISTAKES:
            if check is ALL_CHECKS[name]:
                hits = [known for known in names if without_axes(phrase) in known]
                assert len(hits) == 1, f"{phrase!r} should pick one of {sorted(names)}"
                tested.update(hits)
    assert names - tested == set()


@pytest.mark.parametrize("name", ["correlate2d", "conv2d", "conv2d_backward"])
def test_sliding_cases_use_strides_paddings_and_pairs(name, monkeypatch):
    visible = built_check(name, monkeypatch).cases
    strides = [case.kwargs.get("stride", 1) for case in visible]
    paddings = [case.kwargs.get("padding", 0) for case in visible]
    assert any(isinstance(s, tuple) for s in strides) and any(s == 2 for s in strides)
    assert any(isinstance(p, tuple) for p in paddings) and any(p == 1 for p in paddings)


@pytest.mark.parametrize("name", sorted(ALL_CHECKS))
def test_the_stub_gets_the_stub_message(name):
    def stub(*args, **kwargs):
        raise NotImplementedError

    message = message_of(ALL_CHECKS[name], stub)
    assert message.startswith(f"{name}: 0/")
    assert message.endswith(
        f"checks passed. {name} raised NotImplementedError: replace the stub with your code."
    )


@pytest.mark.parametrize("thorough", [False, True], ids=["visible", "thorough"])
@pytest.mark.parametrize("name", sorted(ALL_CHECKS))
def test_calling_cnnlabs_own_function_is_refused_visible_and_thorough(name, thorough):
    reference = getattr(_reference.REF, name)

    def delegating(*args, **kwargs):
        return reference(*args, **kwargs)

    message = message_of(ALL_CHECKS[name], delegating, thorough=thorough)
    public = _reference.public_name(reference.__module__, reference.__qualname__)
    assert message.startswith(f"{name}: your code uses cnnlab's own {public}")
    assert "write it yourself" in message


# --------------------------------------------------------------------- delegation


def nn_relu(x):
    return cnnlab.nn.ReLU()(x)


def imported_inside(x):
    return importlib.import_module("cnnlab.ops").relu(x)


def sneaky(x):
    cnnlab.relu(x[:1])  # "just to compare"
    return np.maximum(x, 0)


def swallowing(x):
    try:
        return cnnlab.ops.relu(x)
    except Exception:
        return np.maximum(x, 0)


def logged(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        print("calling", function.__name__)
        return function(*args, **kwargs)

    return wrapper


def helper_that_delegates(x):
    return cnnlab.ops.relu(x)


def through_a_helper(x):
    return helper_that_delegates(x)


def hidden_from_the_source(x):
    return RELU_NAMED_LATER(x)


RELU_NAMED_LATER = cnnlab.relu


def scipy_relu(x):
    from scipy import special  # noqa: F401 - a library the course rules out

    return np.maximum(x, 0)


def patched_numpy(x):
    np.maximum = cnnlab.relu
    return x


DELEGATIONS = {
    "cnnlab.relu itself": (cnnlab.relu, "cnnlab's own cnnlab.relu"),
    "from cnnlab.ops import relu as r": (imported_relu, "cnnlab's own cnnlab.relu"),
    "a lambda around cnnlab.relu": (lambda x: cnnlab.relu(x), "cnnlab's own cnnlab.relu"),
    "a lambda around cnnlab.ops.relu": (lambda x: cnnlab.ops.relu(x), "cnnlab's own cnnlab.relu"),
    "functools.partial": (functools.partial(ops.relu), "cnnlab's own cnnlab.relu"),
    "a cnnlab.nn layer": (nn_relu, "cnnlab's own cnnlab.nn.ReLU"),
    "importlib inside the function": (imported_inside, "importlib.import_module"),
    "a call on the side": (sneaky, "cnnlab's own cnnlab.relu"),
    "an except that swallows errors": (swallowing, "cnnlab's own cnnlab.relu"),
    "a copy of the code object": (
        types.FunctionType(ops.relu.__code__, ops.relu.__globals__),
        "cnnlab's own cnnlab.relu",
    ),
    "a decorator around cnnlab.relu": (logged(cnnlab.relu), "cnnlab's own cnnlab.relu"),
    "a helper that delegates": (through_a_helper, "cnnlab.relu (helper_that_delegates"),
    "a global bound to cnnlab.relu": (hidden_from_the_source, "cnnlab's own cnnlab.relu"),
    "a library the course rules out": (scipy_relu, "scipy.special"),
}


@pytest.mark.parametrize(("fn", "named"), DELEGATIONS.values(), ids=DELEGATIONS.keys())
def test_delegation_is_caught_however_it_is_written(fn, named):
    message = message_of(checks.check_relu, fn)
    assert named in message
    assert message.startswith("relu: your code uses ")


def test_a_monkey_patch_of_numpy_is_refused_before_it_runs(monkeypatch):
    maximum = np.maximum
    monkeypatch.setattr(np, "maximum", maximum)  # put back even if the check let it run
    message = message_of(checks.check_relu, patched_numpy)
    assert "an assignment to np.maximum (patched_numpy, line" in message
    assert np.maximum is maximum  # read, never run


def test_the_watch_sees_a_call_the_source_does_not_show():
    """Code with no source to read (built by exec) is still watched while it runs."""
    namespace = {"np": np, "cnnlab": cnnlab}
    exec("def relu(x):\n    cnnlab.relu(x)\n    return np.maximum(x, 0)\n", namespace)
    message = message_of(checks.check_relu, namespace["relu"])
    assert "relu: your code uses cnnlab's own cnnlab.relu" in message


def test_the_watch_alone_sees_the_call(monkeypatch):
    monkeypatch.setattr(_core, "source_findings", lambda check, fn: [])
    message = message_of(checks.check_relu, sneaky)
    assert "cnnlab's own cnnlab.relu (seen on check 1)" in message
    assert sys.getprofile() is None


def test_other_cnnlab_helpers_are_allowed_where_the_check_says_so(capsys):
    def conv2d_with_helpers(x, weight, bias=None, stride=1, padding=0):
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
        ho = cnnlab.output_size(x.shape[2], weight.shape[2], sh, ph)
        wo = cnnlab.output_size(x.shape[3], weight.shape[3], sw, pw)
        out = np.zeros((x.shape[0], weight.shape[0], ho, wo), dtype=np.result_type(x, weight))
        for n in range(x.shape[0]):
            for f in range(weight.shape[0]):
                for c in range(x.shape[1]):
                    out[n, f] += cnnlab.correlate2d(x[n, c], weight[f, c], stride, padding)
                if bias is not None:
                    out[n, f] += bias[f]
        return out

    checks.check_conv2d(conv2d_with_helpers, thorough=True)
    assert capsys.readouterr().out == "conv2d: 19/19 checks passed (thorough)\n"


def test_the_watch_is_removed_after_an_exception():
    def crashes(x):
        raise RuntimeError("boom")

    message = message_of(checks.check_relu, crashes)
    assert "relu raised RuntimeError: boom" in message
    assert sys.getprofile() is None


def test_the_watch_is_removed_after_keyboard_interrupt():
    def interrupted(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        checks.check_relu(interrupted)
    assert sys.getprofile() is None


def test_a_profiler_running_before_the_check_is_put_back():
    def profiler(frame, event, arg):
        return None

    sys.setprofile(profiler)
    try:
        checks.check_relu(lambda x: np.maximum(x, 0))
        assert sys.getprofile() is profiler
    finally:
        sys.setprofile(None)


def test_hidden_cases_change_with_the_seed_and_visible_ones_do_not(monkeypatch):
    first = built_check("relu", monkeypatch, thorough=True).cases
    with _core.hidden_seed(12345):
        second = built_check("relu", monkeypatch, thorough=True).cases
    visible = len(built_check("relu", monkeypatch).cases)
    for a, b in zip(first[:visible], second[:visible], strict=True):
        np.testing.assert_array_equal(a.args["x"], b.args["x"])
    assert any(
        a.args["x"].shape != b.args["x"].shape or not np.array_equal(a.args["x"], b.args["x"])
        for a, b in zip(first[visible:], second[visible:], strict=True)
    )


def test_rebinding_cnnlab_functions_does_not_change_what_is_expected(monkeypatch, capsys):
    monkeypatch.setattr(cnnlab.ops, "relu", lambda x: x)
    monkeypatch.setattr(cnnlab, "relu", lambda x: x)
    checks.check_relu(lambda x: x * (x > 0))
    assert "relu: 6/6 checks passed" in capsys.readouterr().out
    assert "Likely mistake: x returned unchanged" in message_of(checks.check_relu, lambda x: x + 0)


# ------------------------------------------------------------------------ messages


def test_success_prints_exactly_one_line(capsys):
    checks.check_relu(lambda x: np.where(x > 0, x, 0))
    assert capsys.readouterr().out == "relu: 6/6 checks passed\n"


def test_a_stub_that_raises_on_some_cases_only_shows_the_case():
    def half_done(x, weight, bias=None, stride=1, padding=0):
        if stride != 1 or padding != 0:
            raise NotImplementedError("strides and padding come later")
        return einsum_conv2d(x, weight, bias)

    message = message_of(checks.check_conv2d, half_done)
    assert message.startswith(
        "conv2d: 4/9 checks passed. Check 5 failed (also failed: 6, 7, 8, 9)."
    )
    assert "conv2d raised NotImplementedError: strides and padding come later" in message
    assert "Check 5: stride 2: the sizes do not divide evenly" in message
    assert "conv2d(x, weight, bias, stride=2)" in message


def test_an_exception_names_the_line_of_the_learners_code():
    def off_the_edge(x, weight, bias=None, stride=1, padding=0):
        out = np.zeros((1, 1, 2, 2))
        out[0, 0, 2, 2] = 1.0  # one too far
        return out

    message = message_of(checks.check_conv2d, off_the_edge)
    assert "conv2d raised IndexError: index 2 is out of bounds for axis 2 with size 2" in message
    assert "in your code, line" in message
    assert "out[0, 0, 2, 2] = 1.0  # one too far" in message
    assert "Traceback" not in message


def test_renamed_parameters_get_the_stubs_signature():
    message = message_of(checks.check_conv2d, lambda x, w, b=None, s=1, p=0: einsum_conv2d(x, w, b))
    assert "conv2d raised TypeError" in message
    assert "unexpected keyword argument 'stride'" in message
    assert (
        "Hint: keep the parameters of the stub: conv2d(x, weight, bias=None, stride=1, padding=0)"
        in message
    )


@pytest.mark.parametrize(
    ("check", "fn", "sentence"),
    [
        (
            checks.check_relu,
            lambda x: None,
            "The result of relu should be a numpy array of shape (5,) (the shape of x), but it is "
            "None. Did you forget the return statement?",
        ),
        (
            checks.check_relu,
            lambda x: list(np.maximum(x, 0)),
            "but it is a list of 5 items. np.array(...) turns a list into an array.",
        ),
        (checks.check_relu, lambda x: 1.5, "but it is the float 1.5."),
        (
            checks.check_conv2d,
            lambda x, weight, bias=None, stride=1, padding=0: x[0],
            "The result of conv2d has shape (1, 3, 3), but it should have shape (1, 1, 2, 2) (N, "
            "F, Ho, Wo).",
        ),
        (
            checks.check_dense_backward,
            lambda dout, x, weight: dout,
            "dense_backward should return a tuple of 3 arrays (dx, dweight, dbias), but it "
            "returned an array of shape (1, 3).",
        ),
        (
            checks.check_dense_backward,
            lambda dout, x, weight: (dout @ weight.T, x.T @ dout, None),
            "dbias (the 3rd value dense_backward returned) should be a numpy array of shape (3,) "
            "(out_features,), but it is None.",
        ),
        (
            checks.check_cross_entropy,
            lambda logits, labels: None,
            "cross_entropy should return a number, but it returned None. Did you forget the "
            "return statement?",
        ),
        (
            checks.check_cross_entropy,
            lambda logits, labels: "0.4",
            "cross_entropy should return a single number (a float), but it returned a str.",
        ),
        (
            checks.check_output_size,
            lambda *args, **kwargs: [3],
            "output_size should return an int, but it returned a list of 1 item.",
        ),
    ],
)
def test_a_wrong_return_type_or_shape_is_a_plain_sentence(check, fn, sentence):
    assert sentence in message_of(check, fn)


def test_an_input_modified_in_place_is_named():
    def in_place(x):
        np.maximum(x, 0, out=x)
        return x

    message = message_of(checks.check_relu, in_place)
    assert message.startswith("relu: 0/6 checks passed. Check 1 failed")
    assert "Likely mistake: input modified in place: relu changed its argument x." in message


def test_in_place_is_also_mentioned_next_to_wrong_values():
    def in_place_and_wrong(dout, x):
        dout[x <= 0] = 0
        return -dout

    message = message_of(checks.check_relu_backward, in_place_and_wrong)
    assert "Likely mistake: wrong sign." in message
    assert "Also: input modified in place: relu_backward changed its argument dout." in message


def test_a_later_case_can_name_the_mistake_behind_a_crash():
    def filters_and_channels_swapped(x, weight, bias=None, stride=1, padding=0):
        weight = weight.transpose(1, 0, 2, 3)
        if weight.shape[1] != x.shape[1]:  # as a careful conv2d would say
            raise ValueError(f"x has {x.shape[1]} channels, weight expects {weight.shape[1]}")
        return einsum_conv2d(x, weight, bias, stride, padding)

    message = message_of(checks.check_conv2d, filters_and_channels_swapped)
    assert "conv2d raised ValueError" in message.splitlines()[1]
    assert "which failed too, shows what is wrong:" in message
    assert "Likely mistake: filter and channel axes of weight swapped." in message


def test_no_warnings_leak_from_the_learners_code():
    def overflowing(logits, axis=-1):
        return np.exp(logits) / np.exp(logits).sum(axis=axis, keepdims=True)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        message = message_of(checks.check_softmax, overflowing)
    assert "overflow on large logits" in message
    assert np.geterr()["over"] == "warn"


def test_a_non_function_is_refused_plainly():
    with pytest.raises(
        TypeError, match=r"check_relu needs your function itself, e\.g\. check_relu\(relu\)"
    ):
        checks.check_relu(np.zeros(3))


def _code_lines(function) -> set:
    source = inspect.getsource(inspect.unwrap(function))
    body = source.split('"""')[-1]  # after the docstring
    return {line.strip() for line in body.splitlines() if len(line.strip()) > 15}


WRONG_ANSWERS = [
    (
        checks.check_conv2d,
        lambda x, weight, bias=None, stride=1, padding=0: cnnlab.conv2d(
            x, weight[..., ::-1, ::-1], bias, stride, padding
        ),
    ),
    (checks.check_softmax, lambda logits, axis=-1: np.exp(logits)),
    (checks.check_cross_entropy_backward, lambda logits, labels: cnnlab.softmax(logits, 1)),
    (checks.check_max_pool2d_backward, lambda dout, x, kernel_size=2, stride=None: np.ones_like(x)),
    (checks.check_to_grayscale, lambda image: image.mean(axis=2)),
    (checks.check_template_loss_gradient, lambda template, images, labels, scale=3.0: template),
]


@pytest.mark.parametrize(("check", "fn"), WRONG_ANSWERS)
def test_messages_never_reveal_the_reference_code(check, fn):
    message = message_of(check, fn)
    references = [*vars(_reference.REF).values(), ops.im2col, ops._windows, templates._gradient]
    for reference in references:
        for line in _code_lines(reference):
            assert line not in message, line
    assert "def " not in message
