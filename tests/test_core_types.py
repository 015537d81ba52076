"""The numeric tests and the lessons' pinned outputs hold with the BLAS kernels of
other CPUs, not only this one's.

OpenBLAS picks its kernels for the CPU it runs on (SkylakeX with AVX-512,
Haswell with AVX2, Prescott for plain SSE3), and each adds float32 products
in its own order. ``OPENBLAS_CORETYPE`` forces a choice, among those the CPU
can run (forcing one whose instructions are missing dies with an illegal
instruction). Each core type runs the numeric tests in a process of its own,
which first proves that OpenBLAS really uses that kernel (threadpoolctl).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import threadpoolctl

ROOT = Path(__file__).resolve().parents[1]
NUMERIC_TESTS = ["test_ops.py", "test_grads.py", "test_nn.py", "test_properties.py"]

#: Each core type, and the CPU flag (from /proc/cpuinfo) its instructions need.
CORE_TYPES = {"Prescott": "sse3", "Haswell": "avx2", "SkylakeX": "avx512f"}

#: What OpenBLAS calls each kernel once chosen: its x86-64 builds alias the old Katmai
#: kernel to Prescott's, and name the chosen one after the first entry of the pair.
REPORTED = {"Prescott": {"Prescott", "Katmai"}, "Haswell": {"Haswell"}, "SkylakeX": {"SkylakeX"}}

#: Run in the subprocess before the tests: stops unless OpenBLAS took the core type.
PROBE = """
import sys, numpy, threadpoolctl
blas = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
if not blas:
    sys.exit("numpy's BLAS is not OpenBLAS here: OPENBLAS_CORETYPE means nothing")
print(blas[0]["architecture"])
"""


def current_kernel() -> str:
    """The kernel OpenBLAS runs in this process, as threadpoolctl names it."""
    import numpy  # noqa: F401  (threadpoolctl sees only the libraries loaded)

    blas = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
    return blas[0]["architecture"] if blas else "none"


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    # The kernel lists SSE3 as "pni" (Prescott New Instructions).
    if "pni" in flags:
        flags.add("sse3")
    return flags


def environment(core_type: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return env | {"OPENBLAS_CORETYPE": core_type, "OPENBLAS_NUM_THREADS": "1"}


def forced_environment(core_type: str) -> dict:
    """The environment that forces ``core_type``, once a probe shows OpenBLAS takes it;
    skips where this CPU cannot run its instructions."""
    flag = CORE_TYPES[core_type]
    if os.uname().machine not in ("x86_64", "AMD64"):
        pytest.skip(f"{core_type} is an x86-64 kernel; this is {os.uname().machine}")
    if flag not in cpu_flags():
        pytest.skip(f"this CPU has no {flag} (/proc/cpuinfo), which {core_type} kernels need")
    env = environment(core_type)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() in REPORTED[core_type], f"OpenBLAS runs {probe.stdout.strip()!r}"
    return env


def run_pytest(core_type: str, env: dict, arguments: list[str]) -> None:
    """pytest with ``arguments`` in a process of its own, under ``env``; fails with its output."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    run = subprocess.run(
        command + arguments, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, f"with OPENBLAS_CORETYPE={core_type}: {summary}\n{run.stdout}"


@pytest.mark.slow
@pytest.mark.parametrize("core_type", CORE_TYPES)
def test_numeric_tests_pass_with_the_kernels_of(core_type):
    env = forced_environment(core_type)
    run_pytest(core_type, env, [str(ROOT / "tests" / name) for name in NUMERIC_TESTS])


@pytest.mark.slow
@pytest.mark.parametrize("core_type", CORE_TYPES)
def test_pinned_lesson_outputs_hold_with_the_kernels_of(core_type):
    """Every lesson, run by nbval as `make test` runs it: the outputs tagged
    nbval-check-output come out the same whatever the kernel's order of sums.
    (The kernel this process runs needs no second run: make test's own nbval
    run of the lessons uses it.)"""
    if current_kernel() in REPORTED[core_type]:
        pytest.skip(f"make test's own nbval run of the lessons uses {core_type} already")
    env = forced_environment(core_type) | {"MPLBACKEND": "Agg"}
    sanitize = str(ROOT / "tests" / "nbval_sanitize.cfg")
    nbval = ["--nbval-lax", "--nbval-cell-timeout=120", "--nbval-sanitize-with", sanitize]
    run_pytest(core_type, env, [*nbval, str(ROOT / "notebooks")])
