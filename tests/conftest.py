"""Settings shared by the whole test suite.

* matplotlib draws off-screen (Agg), so tests that plot run on a machine with no display.
* hypothesis is deterministic: the same examples on every run and every machine
  (derandomized, and no example database carried over from earlier runs), so a
  red CI build can be reproduced locally; and no deadline, because a loaded
  2-core CI runner makes timings meaningless.
* ``verdict_kernels``: for tests that run a lesson only for the verdict of its
  graded cells, kernels that draw no figure (drawing is most of a short
  lesson's run time) and are forked from a warm process
  (cnnlab.grading.prefork). nbval still runs every lesson the usual way: a
  fresh kernel, every figure drawn.
"""

import matplotlib

matplotlib.use("Agg")

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "cnnlab",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=50,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("cnnlab")


@pytest.fixture(scope="session")
def figureless_ipython_dir(tmp_path_factory):
    """An IPython folder whose kernels make no picture of a figure (no figure format)."""
    folder = tmp_path_factory.mktemp("ipython")
    (folder / "profile_default").mkdir()
    config = "c.InlineBackend.figure_formats = set()\n"
    (folder / "profile_default" / "ipython_kernel_config.py").write_text(config)
    return folder


@pytest.fixture
def verdict_kernels(figureless_ipython_dir, monkeypatch):
    """Kernels started in the test draw no figure and are forked from a warm process."""
    from jupyter_client.provisioning import KernelProvisionerFactory

    monkeypatch.setenv("IPYTHONDIR", str(figureless_ipython_dir))
    factory = KernelProvisionerFactory.instance()
    monkeypatch.setattr(factory, "default_provisioner_name", "cnnlab-prefork")


#: Whole modules that start kernels, run lessons, grade or run subprocesses.
SLOW_MODULES = {
    "test_lessons",
    "test_grading",
    "test_attacks",
    "test_prefork",
    "test_core_types",
    "test_learner_lab",
}


def pytest_collection_modifyitems(config, items):
    """Mark as slow every lesson run by nbval and every test of SLOW_MODULES.

    ``make unit-fast`` deselects them (``-m "not slow"``); ``make test`` runs everything.
    Single slow tests elsewhere (those that train a network) carry the marker themselves.
    """
    for item in items:
        if item.path.suffix == ".ipynb" or item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
