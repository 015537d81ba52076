"""Kernels forked from a warm zygote (cnnlab.grading.prefork), driven by jupyter_client.

The grader starts every submission's kernel this way; these tests hold it to
what a fresh kernel gives: a kernel that works, that an interrupt stops and a
kill ends, and that starts clean however the previous one left its modules.
"""

from __future__ import annotations

import ast
import os
import shutil
import signal
import sys
import time

import psutil
import pytest
from jupyter_client.manager import KernelManager
from jupyter_client.provisioning import KernelProvisionerFactory

from cnnlab.grading.prefork import ForkedKernel, PreforkProvisioner, Zygote, _forkable

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forking needs os.fork")


@pytest.fixture
def prefork(monkeypatch):
    """Kernels started in this test come from the zygote; the usual way again afterwards."""
    factory = KernelProvisionerFactory.instance()
    monkeypatch.setattr(factory, "default_provisioner_name", "cnnlab-prefork")
    started = []

    def start(cwd=None):
        km = KernelManager(kernel_name="python3")
        where = {} if cwd is None else {"cwd": str(cwd)}
        km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"], **where)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        started.append((km, kc))
        return km, kc

    yield start
    for km, kc in started:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def value(kc, code: str, expression: str):
    reply = kc.execute_interactive(
        code, user_expressions={"v": expression}, timeout=60, output_hook=lambda msg: None
    )
    assert reply["content"]["status"] == "ok", reply["content"]
    return ast.literal_eval(reply["content"]["user_expressions"]["v"]["data"]["text/plain"])


def test_a_forked_kernel_runs_code_with_cnnlab_already_imported(prefork):
    km, kc = prefork()
    assert isinstance(km.provisioner, PreforkProvisioner)
    assert isinstance(km.provisioner.process, ForkedKernel)
    pid = value(kc, "import os", "os.getpid()")
    assert pid == km.provisioner.pid != os.getpid()
    assert value(kc, "import sys", "'cnnlab.checks' in sys.modules")  # preloaded, not imported
    assert (
        value(kc, "import cnnlab, numpy as np", "float(cnnlab.relu(np.array([-1.0, 2.0])).sum())")
        == 2.0
    )
    zygote = psutil.Process(pid).parent()
    assert "cnnlab.grading.prefork" in " ".join(zygote.cmdline())


def test_a_kernel_imports_from_its_own_working_folder(prefork, tmp_path):
    (tmp_path / "helper_next_to_the_notebook.py").write_text("ANSWER = 42\n")
    _, kc = prefork(cwd=tmp_path)
    assert value(kc, "import os", "os.getcwd()") == str(tmp_path)
    assert value(kc, "import helper_next_to_the_notebook as h", "h.ANSWER") == 42


def test_each_kernel_starts_clean_whatever_the_last_one_did(prefork):
    _, first = prefork()
    value(
        first,
        "import cnnlab, cnnlab.checks, numpy\n"
        "cnnlab.LEFT_BEHIND = 1\n"
        "cnnlab.checks.check_relu = None\n"
        "numpy.allclose = None\n",
        "1",
    )
    _, second = prefork()
    assert value(second, "import cnnlab", "hasattr(cnnlab, 'LEFT_BEHIND')") is False
    assert value(second, "import cnnlab.checks", "callable(cnnlab.checks.check_relu)")
    assert value(second, "import numpy", "numpy.allclose(1.0, 1.0)")


def wait_for_output(kc, msg_id, text: str, timeout: float = 120) -> None:
    """Wait until the cell ``msg_id`` has printed ``text``: then it is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream" and text in msg["content"]["text"]:
            return
    pytest.fail(f"the cell did not print {text!r}")


def reply_to(kc, msg_id, timeout: float):
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def test_an_interrupt_stops_a_cell_and_a_kill_ends_the_kernel(prefork):
    km, kc = prefork()
    # The interrupt is sent once the cell says it is sleeping, never before it started.
    # stop_on_error=False: else ipykernel aborts the requests that reach it just after
    # the error, and the check below that the kernel lives on could be one of them.
    msg_id = kc.execute(
        "import time\nprint('sleeping', flush=True)\ntime.sleep(3600)", stop_on_error=False
    )
    wait_for_output(kc, msg_id, "sleeping")
    km.interrupt_kernel()
    # A reply at all means the sleep was cut short: it would take an hour otherwise.
    reply = reply_to(kc, msg_id, timeout=300)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert value(kc, "x = 41", "x + 1") == 42  # still alive after the interrupt

    pid = km.provisioner.pid
    km.shutdown_kernel(now=True)
    assert not km.is_alive()
    assert ForkedKernel(pid).poll() is not None  # gone, or a zombie about to be reaped


def test_a_kernel_that_exits_is_seen_dead(prefork):
    km, kc = prefork()
    kc.execute("import os\nos._exit(3)")
    deadline = time.monotonic() + 300  # a hang detector, not a speed limit
    while km.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not km.is_alive()


def test_only_python_kernels_of_ipykernel_are_forked():
    assert _forkable([sys.executable, "-m", "ipykernel_launcher", "-f", "c.json"])
    assert not _forkable([sys.executable, "-m", "other_kernel", "-f", "c.json"])
    assert not _forkable(["ijulia", "c.json"])


def test_a_forked_kernel_handle_reports_signals_to_a_dead_process_quietly():
    kernel = ForkedKernel(pid=2**22 + 12345)  # no such process
    assert kernel.poll() == -1
    kernel.send_signal(signal.SIGTERM)  # nothing to signal: no error
    assert kernel.wait(timeout=1) == -1


def test_the_zygote_refuses_to_start_with_more_than_one_blas_thread():
    import subprocess

    env = dict(os.environ, OPENBLAS_NUM_THREADS="2")
    run = subprocess.run(
        [sys.executable, "-m", "cnnlab.grading.prefork"],
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "one BLAS thread" in run.stderr


def test_kernels_are_forked_on_linux_only(monkeypatch):
    from cnnlab.grading import prefork

    monkeypatch.setattr(prefork.sys, "platform", "darwin")
    assert not prefork.supported()
    assert not _forkable([sys.executable, "-m", "ipykernel_launcher", "-f", "c.json"])
    with pytest.raises(RuntimeError, match="Linux only"):
        Zygote(sys.executable)


def test_a_sandboxed_zygote_empties_a_folder_but_keeps_what_is_mounted_there(tmp_path):
    """What prefork.empty_folder leaves of a kernel's folder: nothing of its own, even
    behind a folder made unreadable, and never what a link points to."""
    from cnnlab.grading.prefork import empty_folder

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kept").write_text("not the kernel's")
    folder = tmp_path / "tmp"
    (folder / "a" / "b").mkdir(parents=True)
    (folder / "a" / "b" / "file").write_text("x")
    (folder / "top").write_text("x")
    (folder / "link").symlink_to(outside)
    (folder / "a" / "b").chmod(0)
    (folder / "a").chmod(0o500)
    assert empty_folder(folder) == []
    assert list(folder.iterdir()) == []
    assert (outside / "kept").read_text() == "not the kernel's"


def _nest(folder, name: str, depth: int) -> None:
    """Folders ``depth`` deep in ``folder``, a file at the bottom, made without paths."""
    here = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir(name, dir_fd=here)
        deeper = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=here)
        os.close(here)
        here = deeper
    os.close(os.open("bottom", os.O_WRONLY | os.O_CREAT, dir_fd=here))
    os.close(here)


def test_a_sandboxed_zygote_empties_folders_nested_past_any_limit(tmp_path):
    """Deeper than Python's recursion limit, longer than PATH_MAX: all removed."""
    from cnnlab.grading.prefork import empty_folder

    folder = tmp_path / "tmp"
    folder.mkdir()
    _nest(folder, "d", 3000)
    _nest(folder, "x" * 250, 20)  # 5000 characters of path
    with pytest.raises(RecursionError):
        shutil.rmtree(folder / "d")  # what the grader once relied on
    assert empty_folder(folder) == []
    assert list(folder.iterdir()) == []
