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

Sandboxed (``--sandboxed``), the zygote lives inside a worker's sandbox
(:class:`cnnlab.grading.sandbox.SandboxedZygote`) and runs that worker's
kernels one after the other, as the same user. It then trusts nothing a
kernel left behind: before every kernel (and when asked to, after one) it
kills every other process of the sandbox, empties the folders a kernel can
write and removes System V IPC objects; its own memory no kernel can read or
write (it is not dumpable, so no ``ptrace`` and no ``/proc/<pid>/mem``), and
if a kernel changed what a process of the same user may change of another
(resource limits, niceness, CPU affinity, scheduling policy) it stops rather
than pass that on, and the worker starts a new sandbox.

:class:`PreforkProvisioner` is the jupyter_client kernel provisioner that asks
the zygote instead of starting a process (registered as ``cnnlab-prefork``
under ``jupyter_client.kernel_provisioners`` in pyproject.toml). A grader
turns it on with ``KernelProvisionerFactory.default_provisioner_name``; a
kernel command it does not recognise (another kernel, another Python) is
started the usual way.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
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
        _keyctl(_KEYCTL_JOIN_SESSION_KEYRING, 0)  # a session keyring of its own
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
        for path, text in request.get("files", {}).items():  # the connection file
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(text)
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


def serve(requests: int = 0, replies: int = 1, sandboxed: bool = False) -> None:
    """The zygote's loop: one JSON request per line in, one line out.

    A request to fork is answered with the child's pid; ``{"clear": [...]}``
    (sandboxed only) with ``cleared``. Sandboxed, every request first clears
    the sandbox (:func:`_clear`); if a kernel changed this process's
    settings, the answer is ``tampered: ...`` and the zygote ends.
    """
    # As ipykernel_launcher does: no import from the folder the zygote started in. The
    # kernel puts "" (its own working folder) back on sys.path when it starts.
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    os.environ.update(KERNEL_ENVIRONMENT)
    if any(os.environ.get(name) != "1" for name in BLAS_THREADS):
        raise SystemExit("the zygote needs one BLAS thread (start it with Zygote)")
    for name in PRELOAD:
        __import__(name)
    if sandboxed:
        _set_dumpable(False)
        settings = _settings()
    signal.signal(signal.SIGCHLD, _reap)
    reader = os.fdopen(requests, "r", closefd=False)
    os.write(replies, b"ready\n")
    baseline = None  # the files the writable folders hold when nothing of a kernel is left
    for line in reader:
        request = json.loads(line)
        if sandboxed:
            writable = request.get("clear", request.get("writable", []))
            left = _clear(writable)
            changed = [name for name, value in _settings().items() if settings[name] != value]
            changed += [f"left: {path}" for path in left[:5]]
            used = _used_inodes(writable)
            baseline = baseline or used
            changed += [
                f"left: {used[f] - baseline[f]} files in {f}"
                for f in used
                if used[f] > baseline.get(f, used[f])
            ]
            if changed:
                os.write(replies, f"tampered: {', '.join(changed)}\n".encode())
                return
            if "clear" in request:
                os.write(replies, b"cleared\n")
                continue
        pid = os.fork()
        if pid == 0:
            if sandboxed:
                _set_dumpable(True)  # as any kernel: only the zygote is out of reach
            _become_kernel(request, requests, replies)
        os.write(replies, f"{pid}\n".encode())


# ------------------------------------------------------- a zygote in a sandbox

_PR_SET_DUMPABLE = 4


def _set_dumpable(dumpable: bool) -> None:
    """Whether processes of the same user may ptrace this one (or read its memory)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_DUMPABLE, int(dumpable), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")


def _settings() -> dict:
    """What another process of the same user may change in this one, and forks inherit."""
    settings = {
        f"limit {name}": resource.getrlimit(getattr(resource, name))
        for name in sorted(dir(resource))
        if name.startswith("RLIMIT_")
    }
    settings["niceness"] = os.getpriority(os.PRIO_PROCESS, 0)
    settings["CPU affinity"] = sorted(os.sched_getaffinity(0))
    settings["scheduling policy"] = os.sched_getscheduler(0)
    settings["scheduling priority"] = os.sched_getparam(0).sched_priority
    settings["I/O priority"] = tuple(psutil.Process().ionice())
    settings["timer slack"] = Path("/proc/self/timerslack_ns").read_text().strip()
    return settings


def _others() -> list[int]:
    """The live processes of this PID namespace but its init (1) and this one."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, os.getpid()):
            with contextlib.suppress(OSError):
                # "pid (name) S ...": the state follows the last parenthesis
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X"):
                    found.append(int(entry))
    return found


def _clear(writable: list[str]) -> list[str]:
    """Leave nothing of the last kernel: no process, no file, no IPC object.

    Returns what could not be removed (nothing, unless something is wrong).
    """
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)  # every process it may signal, but init and itself
        _reap()
        if not _others() or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    left = [f"process {pid}" for pid in _others()]
    for folder in writable:
        if os.path.isdir(folder):
            left += empty_folder(Path(folder))
    if shutil.which("ipcrm"):
        subprocess.run(["ipcrm", "--all"], capture_output=True)
    for keyring in (_KEY_SPEC_USER_KEYRING, _KEY_SPEC_USER_SESSION_KEYRING):
        _keyctl(_KEYCTL_CLEAR, keyring)  # the keys of the sandbox's user
    return left


# The kernel's key management: keys a kernel adds to its user's keyrings would be there
# for the next kernel of the sandbox (same user, same user namespace). Linux, by number.
_KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
_KEYCTL_JOIN_SESSION_KEYRING, _KEYCTL_CLEAR = 1, 7
_KEY_SPEC_USER_KEYRING, _KEY_SPEC_USER_SESSION_KEYRING = -4, -5


def _keyctl(*args) -> None:
    if _KEYCTL is not None:
        ctypes.CDLL(None, use_errno=True).syscall(_KEYCTL, *(ctypes.c_long(a) for a in args))


def empty_folder(folder: Path) -> list[str]:
    """Remove everything in ``folder`` but what is mounted there (the kernel's settings).

    Iterative, and every step relative to an open folder: no depth of folders
    and no length of path stops it (a kernel may nest folders past PATH_MAX,
    or past Python's recursion limit). Links are removed, never followed; a
    folder its owner made unreadable is given back first. Folders that hold a
    mount point stay, empty but for it. Returns what is left (nothing, unless
    something is wrong).
    """
    top = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    device = os.fstat(top).st_dev
    here, names = top, []  # the open folder we are in, and its path from ``folder``
    trail = [os.fstat(top).st_ino]  # the inodes of the folders from ``folder`` down to here
    stay: set[int] = set()  # folders done with that could not be removed
    left: list[str] = []

    def shown(name: str) -> str:
        return os.path.join(str(folder), *names, name)[:300]

    try:
        while True:
            deeper = None
            try:
                entries = os.listdir(here)
            except OSError:
                entries = []
                left.append(shown(""))
                stay.add(trail[-1])
            for name in entries:
                try:
                    info = os.stat(name, dir_fd=here, follow_symlinks=False)
                except OSError:
                    continue
                if info.st_dev != device or info.st_ino in stay:
                    continue  # a mount point, or a folder around one
                if not stat.S_ISDIR(info.st_mode):
                    try:
                        os.unlink(name, dir_fd=here)
                    except OSError:
                        left.append(shown(name))
                    continue
                with contextlib.suppress(OSError):
                    os.rmdir(name, dir_fd=here)
                    continue
                with contextlib.suppress(OSError):  # through the folder itself, never a link
                    path = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=here)
                    try:
                        os.chmod(f"/proc/self/fd/{path}", 0o700)
                    finally:
                        os.close(path)
                flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                try:
                    deeper = os.open(name, flags, dir_fd=here)
                except OSError:
                    stay.add(info.st_ino)
                    left.append(shown(name))
                    continue
                names.append(name)
                trail.append(info.st_ino)
                break
            if deeper is not None:
                if here != top:
                    os.close(here)
                here = deeper
                continue
            # Everything here is done with: back up, and the folder goes if it is empty.
            if not names:
                break
            with contextlib.suppress(OSError):
                if os.listdir(here):
                    stay.add(trail[-1])
            parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=here)
            os.close(here)
            here = parent
            names.pop()
            trail.pop()
            if os.fstat(here).st_ino != trail[-1]:  # moved under us: stop, and say so
                left.append(shown("(a folder moved while it was emptied)"))
                break
    finally:
        if here != top:
            os.close(here)
        os.close(top)
    return left


def _used_inodes(folders: list[str]) -> dict[str, int]:
    """How many files and folders each of ``folders``' file systems holds."""
    used = {}
    for folder in folders:
        with contextlib.suppress(OSError):
            info = os.statvfs(folder)
            used[folder] = info.f_files - info.f_ffree
    return used


# ------------------------------------------------------------ the grader's side


class Zygote:
    """A zygote process for one Python interpreter, started on first use."""

    #: How long it may take to answer a request (to fork, or to clear a sandbox).
    timeout = 60.0

    def __init__(self, python: str, command: list[str] | None = None, *, untrusted: bool = False):
        """``untrusted``: the zygote's kernels run code nobody vouches for (a sandbox's);
        their output reaches this process's error stream through a pipe, never as an
        open file of its own (which a kernel could reopen, read or truncate)."""
        if not supported():
            raise RuntimeError(
                f"kernels are forked from a warm process on Linux only, not {sys.platform}"
            )
        # One BLAS thread, set before the zygote imports numpy: a process that forks
        # after OpenBLAS started its threads hands its children a pool they cannot use.
        env = dict(os.environ) | dict.fromkeys(BLAS_THREADS, "1")
        self.process = subprocess.Popen(
            command or [python, "-m", "cnnlab.grading.prefork"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if untrusted else None,
            bufsize=0,
            env=env,
            start_new_session=True,
        )
        if untrusted:
            copy_to_log(self.process.stderr)
        self._unread = b""
        if self._answer() != "ready":
            self.stop()
            raise RuntimeError("the kernel zygote did not start")

    @classmethod
    def for_python(cls, python: str) -> Zygote:
        zygote = _ZYGOTES.get(python)
        if zygote is None or zygote.process.poll() is not None:
            zygote = _ZYGOTES[python] = cls(python)
        return zygote

    def fork(self, args: list[str], env: dict, cwd: str | None) -> int:
        return int(self._ask({"args": args, "env": env, "cwd": cwd}))

    def stop(self) -> None:
        """End the zygote (and, sandboxed, everything in its sandbox)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()

    def _ask(self, request: dict) -> str:
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
        except OSError:
            raise RuntimeError("the kernel zygote is gone") from None
        return self._answer()

    def _answer(self) -> str:
        """The zygote's next line; RuntimeError if it ends or takes too long."""
        deadline = time.monotonic() + self.timeout
        out = self.process.stdout.fileno()
        while b"\n" not in self._unread:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                raise RuntimeError(f"the kernel zygote did not answer within {self.timeout} s")
            chunk = os.read(out, 4096)
            if not chunk:
                raise RuntimeError("the kernel zygote is gone")
            self._unread += chunk
        line, self._unread = self._unread.split(b"\n", 1)
        return line.decode()


def copy_to_log(pipe, limit: int = 4 * 1024 * 1024) -> None:
    """Copy what a sandbox's processes write into ``pipe`` to this process's error
    stream (its log), in a thread of its own: the first ``limit`` bytes of it, the
    rest read and dropped. The thread reads its own copy of the pipe, so that the
    pipe's owner may close it."""
    fd = os.dup(pipe.fileno())
    pipe.close()

    def copy() -> None:
        kept = 0
        while chunk := os.read(fd, 65536):
            if kept < limit:
                with contextlib.suppress(OSError):
                    os.write(2, chunk[: limit - kept])
                kept += len(chunk)
                if kept >= limit:
                    with contextlib.suppress(OSError):
                        os.write(2, b"\n[the sandbox wrote more; it is not kept]\n")
        os.close(fd)

    threading.Thread(target=copy, daemon=True).start()


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
    serve(sandboxed="--sandboxed" in sys.argv[1:])
