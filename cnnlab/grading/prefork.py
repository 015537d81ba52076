"""Kernels forked from a warm process: each submission's kernel starts in milliseconds.

A Jupyter kernel normally starts as a new Python process that imports
ipykernel, then the notebook's first cell imports numpy, matplotlib and
cnnlab: two seconds of CPU or more per submission, a quarter of the cost of
grading a short lesson. A grader instead keeps one *zygote*: a process
started once (``python -m cnnlab.grading.prefork``) that has imported all of
that and, on request, forks. The child becomes the kernel: a new session
(so a signal to its process group reaches it and whatever it starts), the
environment and working folder jupyter_client asked for, then ipykernel's
own entry point with the usual arguments. Every kernel starts from the same
untouched state: nothing of one submission can reach the next.

:class:`PreforkProvisioner` is the jupyter_client kernel provisioner that asks
the zygote instead of starting a process (registered as ``cnnlab-prefork``
under ``jupyter_client.kernel_provisioners`` in pyproject.toml). A grader
turns it on with ``KernelProvisionerFactory.default_provisioner_name``; a
kernel command it does not recognise (another kernel, another Python) is
started the usual way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from jupyter_client.provisioning import LocalProvisioner

__all__ = ["ForkedKernel", "PreforkProvisioner", "Zygote", "supported"]

#: What the zygote imports before it forks: what every lesson's kernel needs.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "numpy",
    "matplotlib.pyplot",
    "matplotlib_inline.backend_inline",
    "cnnlab",
    "cnnlab.checks",
    "cnnlab.viz",
    "cnnlab.widgets",
)
#: The variables that set how many threads numpy's BLAS starts.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: What the kernel would set before the notebook imports matplotlib.
KERNEL_ENVIRONMENT = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}


# ----------------------------------------------------------------- the zygote


def _reap(*_) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _become_kernel(request: dict, requests: int, replies: int) -> None:
    """In the forked child: turn into the kernel jupyter_client asked for; never returns."""
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.close(requests)
        os.close(replies)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(2, 1)  # the kernel's own output goes where the grader's does
        os.environ.clear()
        os.environ.update(request["env"])
        # The zygote is the kernel's parent: the kernel ends if the zygote does.
        parent = os.getppid()
        os.environ["JPY_PARENT_PID"] = str(parent)
        if request.get("cwd"):
            os.chdir(request["cwd"])
        sys.argv = ["ipykernel_launcher", *request["args"], f"--IPKernelApp.parent_handle={parent}"]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    os._exit(code)


def serve(requests: int = 0, replies: int = 1) -> None:
    """The zygote's loop: one JSON request per line in, one pid per line out."""
    # As ipykernel_launcher does: no import from the folder the zygote started in. The
    # kernel puts "" (its own working folder) back on sys.path when it starts.
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    os.environ.update(KERNEL_ENVIRONMENT)
    if any(os.environ.get(name) != "1" for name in BLAS_THREADS):
        raise SystemExit("the zygote needs one BLAS thread (start it with Zygote)")
    for name in PRELOAD:
        __import__(name)
    signal.signal(signal.SIGCHLD, _reap)
    reader = os.fdopen(requests, "r", closefd=False)
    os.write(replies, b"ready\n")
    for line in reader:
        pid = os.fork()
        if pid == 0:
            _become_kernel(json.loads(line), requests, replies)
        os.write(replies, f"{pid}\n".encode())


# ------------------------------------------------------------ the grader's side


class Zygote:
    """A zygote process for one Python interpreter, started on first use."""

    def __init__(self, python: str):
        if not supported():
            raise RuntimeError(
                f"kernels are forked from a warm process on Linux only, not {sys.platform}"
            )
        # One BLAS thread, set before the zygote imports numpy: a process that forks
        # after OpenBLAS started its threads hands its children a pool they cannot use.
        env = dict(os.environ) | dict.fromkeys(BLAS_THREADS, "1")
        self.process = subprocess.Popen(
            [python, "-m", "cnnlab.grading.prefork"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the kernel zygote did not start")

    @classmethod
    def for_python(cls, python: str) -> Zygote:
        zygote = _ZYGOTES.get(python)
        if zygote is None or zygote.process.poll() is not None:
            zygote = _ZYGOTES[python] = cls(python)
        return zygote

    def fork(self, args: list[str], env: dict, cwd: str | None) -> int:
        request = {"args": args, "env": env, "cwd": cwd}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())


#: The zygote of each Python interpreter, in this process.
_ZYGOTES: dict[str, Zygote] = {}


class ForkedKernel:
    """What jupyter_client needs of a ``Popen`` for a kernel that is not our child."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                if psutil.Process(self.pid).status() == psutil.STATUS_ZOMBIE:
                    self.returncode = -1
            except psutil.NoSuchProcess:
                self.returncode = -1  # the zygote reaped it; its exit code is gone
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def supported() -> bool:
    """Whether kernels can be forked from a warm process here: Linux only.

    Elsewhere a kernel starts as a new process: macOS's frameworks (Accelerate,
    its Objective-C runtime) do not survive a fork after they are loaded, and
    Windows has no fork.
    """
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def _forkable(cmd: list[str]) -> bool:
    return len(cmd) >= 3 and cmd[1:3] == ["-m", "ipykernel_launcher"] and supported()


class PreforkProvisioner(LocalProvisioner):
    """A local kernel, forked from the zygote when it is a Python kernel it can make."""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        if not _forkable(cmd):
            return await super().launch_kernel(cmd, **kwargs)
        env = kwargs.get("env") or dict(os.environ)
        cwd = kwargs.get("cwd")
        pid = Zygote.for_python(cmd[0]).fork(cmd[3:], env, None if cwd is None else str(cwd))
        self.process = ForkedKernel(pid)
        self.pid = self.pgid = pid  # the kernel leads a session, and so a process group
        self.cwd = cwd or os.getcwd()
        return self.connection_info


if __name__ == "__main__":
    serve()
