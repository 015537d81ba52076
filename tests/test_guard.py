"""The grader's guard (cnnlab.grading.guard), in this process instead of a kernel.

Each test makes one replacement a submission could make, shows that without
the guard it would let a wrong answer pass (or change what the checks use),
then lets the guard put everything back and name what it put back. The same
guard, installed in a grading kernel, is tested end to end in test_grading.py.
"""

from __future__ import annotations

import builtins
import sys

import numpy as np
import oracle
import pytest

import cnnlab
import cnnlab.checks
import cnnlab.checks.layers
import cnnlab.nn
from cnnlab.grading import guard


def wrong_relu(x):
    return np.abs(x)


def fake_check(*args, **kwargs):
    return None


@pytest.fixture
def saved():
    """A snapshot taken now, and put back after the test whatever happened."""
    snapshot = guard.snapshot()
    yield snapshot
    guard.restore(snapshot)


def test_an_untouched_kernel_has_nothing_to_put_back(saved):
    cnnlab.checks.check_relu(oracle.relu, thorough=True)  # arms and disarms tripwires
    assert guard.restore(saved) == []


def test_a_rebound_check_is_put_back(saved):
    cnnlab.checks.check_relu = fake_check
    from cnnlab.checks import check_relu  # what a test cell does

    assert check_relu(wrong_relu) is None  # the fake lets the wrong answer through
    assert guard.restore(saved) == ["cnnlab.checks.check_relu"]
    from cnnlab.checks import check_relu

    with pytest.raises(AssertionError, match="relu"):
        check_relu(wrong_relu)


def test_a_check_whose_code_was_swapped_is_put_back(saved):
    original = cnnlab.checks.layers.check_relu.__code__
    cnnlab.checks.check_relu.__code__ = fake_check.__code__
    assert cnnlab.checks.check_relu(wrong_relu) is None
    assert guard.restore(saved) == ["the code of cnnlab.checks.layers.check_relu"]
    assert cnnlab.checks.check_relu.__code__ is original


def test_changed_defaults_are_put_back(saved):
    function = cnnlab.checks.check_relu
    kwdefaults = function.__kwdefaults__
    function.__kwdefaults__ = {"thorough": "changed"}
    assert guard.restore(saved) == ["the code of cnnlab.checks.layers.check_relu"]
    assert function.__kwdefaults__ is kwdefaults


def test_a_fake_checks_module_is_put_back(saved):
    real = sys.modules["cnnlab.checks"]
    fake = type(sys)("cnnlab.checks")
    fake.check_relu = fake_check
    sys.modules["cnnlab.checks"] = fake
    from cnnlab.checks import check_relu

    assert check_relu is fake_check
    assert guard.restore(saved) == ["sys.modules['cnnlab.checks']"]
    assert sys.modules["cnnlab.checks"] is real


def test_patched_numpy_and_builtins_are_put_back(saved):
    allclose, builtin_abs = np.allclose, builtins.abs
    np.allclose = lambda *args, **kwargs: True
    builtins.abs = lambda x: 0
    assert np.allclose(0.0, 1.0)
    assert sorted(guard.restore(saved)) == ["builtins.abs", "numpy.allclose"]
    assert np.allclose is allclose and builtins.abs is builtin_abs


def test_a_replaced_method_and_a_deleted_name_are_put_back(saved):
    forward = cnnlab.nn.ReLU.forward
    cnnlab.nn.ReLU.forward = lambda self, x: x
    del cnnlab.checks.check_softmax
    changed = guard.restore(saved)
    assert sorted(changed) == ["cnnlab.checks.check_softmax", "cnnlab.nn.ReLU.forward"]
    assert cnnlab.nn.ReLU.forward is forward
    assert callable(cnnlab.checks.check_softmax)


def test_install_keeps_the_restore_function_under_the_name_it_is_given():
    name = "_cnnlab_guard_for_this_test"
    try:
        put_back = guard.install(name)
        assert getattr(builtins, name) is put_back
        original = cnnlab.checks.check_relu
        cnnlab.checks.check_relu = fake_check
        guard.restore = lambda saved: []  # rebinding the module's function changes nothing
        changed = sorted(put_back())
        assert changed == ["cnnlab.checks.check_relu", "cnnlab.grading.guard.restore"]
        assert cnnlab.checks.check_relu is original
    finally:
        delattr(builtins, name)
