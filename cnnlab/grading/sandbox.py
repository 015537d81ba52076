"""A sandbox for each grading kernel: bubblewrap, namespaces, limits.

A submission's kernel runs the learner's code, so it gets nothing it does not
need (Linux only; `bubblewrap <https://github.com/containers/bubblewrap>`_,
Debian package ``bubblewrap``):

* user, PID, network, IPC, UTS and cgroup namespaces of its own: every
  process it starts dies with it, it sees no other process and no network,
  and cannot make user namespaces of its own;
* a read-only view of the system (``/usr``), the Python installation, the
  virtual environment and the cnnlab package, and nothing else of the disk:
  no course folder (source lessons, releases, submissions, gradebooks, other
  graders' scratch folders), no home folder;
* a private ``/tmp``, ``/dev/shm``, ``/dev/mqueue`` and an empty working
  folder, in memory and of limited size (as root, limited in files too:
  :func:`limited_tmpfs`); the kernel gets the notebook's cells from the
  grader, not the file (nbgrader's copy of it holds the hidden tests);
  everything else read-only, bubblewrap's own skeleton (``/``, ``/dev``)
  included;
* limits on memory (address space, 2 GiB by default), on the size of a file
  it writes and on the number of its processes and threads.

Run as root, the grader first drops to an unprivileged user of its own
(:data:`SANDBOX_UID` plus the worker's number) before it starts bubblewrap,
so the kernel is nobody on the host either; the folders that user cannot
reach (a Python installed under ``/root``) are bind-mounted for it in a mount
namespace private to the worker (:func:`private_mounts`), which also holds the
kernel's socket folder in a small tmpfs. Run as another user, the kernel runs
as that user inside its own user namespace.

The kernel talks to the grader over Unix sockets (jupyter_client's ``ipc``
transport) in a folder bound into the sandbox: there is no network. The
:class:`SandboxProvisioner` is the jupyter_client kernel provisioner that
starts a kernel this way; :class:`Sandbox` holds the settings.

A new sandbox and a new Python for every kernel cost half a second of CPU
(Python, ipykernel, numpy, matplotlib and cnnlab imported each time). So by
default each worker keeps one sandbox whose :class:`SandboxedZygote` has
imported them once and forks the worker's kernels, one at a time; between
two kernels it kills every process the last one left, empties the folders it
could write and removes its IPC objects, and a zygote that a kernel
tampered with (its limits, priority, CPUs) is replaced by a new sandbox
(:mod:`cnnlab.grading.prefork`). ``make grade --fresh-kernels`` gives each
kernel a sandbox of its own instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Bool, Unicode

from cnnlab.grading.prefork import BLAS_THREADS, ForkedKernel, Zygote, _forkable, copy_to_log

__all__ = [
    "SANDBOX_UID",
    "Sandbox",
    "SandboxError",
    "SandboxProvisioner",
    "SandboxedZygote",
    "available",
    "limited_tmpfs",
    "private_mounts",
    "searchable_by_others",
    "stop_zygotes",
]

#: The host user id of worker 0's kernels when grading as root (worker k: + k).
SANDBOX_UID = 61000
GIB = 1024**3
MIB = 1024**2
SHM_SIZE = 16 * MIB

#: What the kernel may keep of the grader's environment (everything else is cleared).
PASSED_ENVIRONMENT = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "MPLBACKEND",
    "PYDEVD_DISABLE_FILE_VALIDATION",
    "LANG",
    "LC_ALL",
)
#: Where the kernel's IPython folder is, inside the sandbox, and its settings file.
IPYTHON, KERNEL_CONFIG = "/tmp/ipython", "ipython_kernel_config.py"
#: The parts of /etc a Python kernel reads: the dynamic linker's cache, fonts, time zone.
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts", "localtime", "mime.types")


class SandboxError(RuntimeError):
    """The sandbox cannot be used here, and why."""


@dataclass
class Sandbox:
    """The settings of one kernel's sandbox.

    ``readable`` are the host folders the
    kernel may read (the Python installation, the virtual environment, the
    package; more for tests), each seen at its own path; ``mounts`` maps a
    folder of ``readable`` that the sandbox user cannot reach to the place
    :func:`private_mounts` bound it. ``sockets`` is the folder of the kernel's
    Unix sockets (the only one it writes on the host).
    """

    sockets: str
    readable: list = field(default_factory=list)
    mounts: dict = field(default_factory=dict)
    uid: int | None = None  # None: this process's own user (not root)
    memory: int = 2 * GIB
    file_size: int = 256 * MIB
    processes: int = 64
    tmp_size: int = 256 * MIB
    work: str = "/work/submission"
    kernel_config: str = ""  # an ipython_kernel_config.py for the kernel (tests: no figures)
    #: {folder inside: a tmpfs of the worker's} for the writable folders, when the worker
    #: could mount them (as root: :func:`limited_tmpfs`) with a limit on their files too;
    #: else bubblewrap makes each a tmpfs limited in size only.
    tmpfs: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Sandbox:
        return cls(**json.loads(text))

    def environment(self) -> dict[str, str]:
        """The kernel's environment variables: nothing else of the grader's."""
        environment = {k: os.environ[k] for k in PASSED_ENVIRONMENT if k in os.environ}
        environment |= {
            "HOME": "/tmp",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "MPLCONFIGDIR": "/tmp/matplotlib",
        }
        if self.kernel_config:
            environment["IPYTHONDIR"] = IPYTHON
        return environment

    def memory_folders(self) -> list[tuple[str, int, int]]:
        """The in-memory folders a kernel writes: (the folder inside, bytes, files at most;
        the files are limited where the worker mounts them, :func:`limited_tmpfs`)."""
        return [
            ("/dev/shm", SHM_SIZE, 1024),
            ("/tmp", self.tmp_size, 16384),
            (self.work, self.tmp_size, 16384),
        ]

    def writable(self) -> list[str]:
        """The folders a kernel may write inside the sandbox (but its socket folder); POSIX
        message queues are files in ``/dev/mqueue``."""
        return [folder for folder, _, _ in self.memory_folders()] + ["/dev/mqueue"]

    def command(
        self, argv: list[str], data: dict[str, int], environment: dict | None = None
    ) -> list[str]:
        """The command that runs ``argv`` in this sandbox.

        ``data`` maps a path inside the sandbox to an open file descriptor whose
        content becomes that (read-only) file: the connection file, whose host
        folder the sandbox user may not read. ``environment`` adds to (or
        overrides) :meth:`environment`.
        """
        bwrap = shutil.which("bwrap") or "bwrap"
        args = [
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for name in ("bin", "lib", "lib32", "lib64", "sbin"):
            if os.path.islink(f"/{name}"):
                args += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
            elif os.path.isdir(f"/{name}"):
                args += ["--ro-bind", f"/{name}", f"/{name}"]
        for name in ETC:
            if os.path.exists(f"/etc/{name}"):
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        for inside, size, _ in self.memory_folders():
            if inside in self.tmpfs:
                args += ["--bind", self.tmpfs[inside], inside]
            else:
                args += ["--size", str(size), "--tmpfs", inside]
        args += ["--mqueue", "/dev/mqueue"]
        # After the tmpfs on /tmp: a course (and its .venv) may itself live under /tmp.
        for folder in self.readable:
            args += ["--ro-bind", self.mounts.get(folder, folder), folder]
        for inside, fd in data.items():
            args += ["--ro-bind-data", str(fd), inside]
        args += ["--bind", self.sockets, self.sockets]
        args += ["--chdir", self.work]
        environment = self.environment() | (environment or {})
        if self.kernel_config:
            # IPython writes into its folder: the settings file alone, in the private /tmp.
            folder, name = os.path.split(self.kernel_config)
            source = os.path.join(self.mounts.get(folder, folder), name)
            args += ["--ro-bind", source, f"{IPYTHON}/profile_default/{KERNEL_CONFIG}"]
        # Last of the mounts: bubblewrap's own skeleton (the root folder, /dev) read-only.
        # It is a tmpfs without a size limit, writable by the sandbox's user: memory
        # outside every limit, and a place for one kernel to leave something for the next.
        args += ["--remount-ro", "/dev", "--remount-ro", "/"]
        for key, value in environment.items():
            args += ["--setenv", key, value]
        limits = [
            shutil.which("prlimit") or "/usr/bin/prlimit",
            f"--as={self.memory}",
            f"--fsize={self.file_size}",
            f"--nproc={self.processes}",
            "--core=0",
            "--",
        ]
        command = [bwrap, *args, "--", *limits, *argv]
        if self.uid is not None:
            setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
            command = [
                setpriv,
                f"--reuid={self.uid}",
                f"--regid={self.uid}",
                "--clear-groups",
                "--no-new-privs",
                "--",
                *command,
            ]
        return command


# --------------------------------------------------------------- the worker's mounts


def searchable_by_others(path: str) -> bool:
    """Whether a user with no special rights can pass through every folder to ``path``."""
    current = Path(path).resolve()
    for folder in [*reversed(current.parents), current]:
        try:
            if not folder.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _reachable_by_others(path: str) -> bool:
    """Whether a user with no special rights could read ``path`` (every parent searchable)."""
    current = Path(path).resolve()
    for folder in [*reversed(current.parents), current]:
        try:
            mode = folder.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return bool(current.stat().st_mode & stat.S_IROTH)


_CLONE_NEWNS = 0x00020000


def private_mounts(scratch: Path, folders: list[str]) -> dict[str, str]:
    """Give this process (a root worker) a mount namespace of its own, and in it:

    * a small tmpfs on ``scratch/sockets`` for the kernels' sockets (16 MB,
      4096 files and folders), so that a kernel can fill neither the disk nor
      the memory through the one host folder it may write;
    * each folder of ``folders`` that an unprivileged user cannot reach,
      bound read-only under ``scratch/mnt``.

    Returns the second as {folder: where it is bound}. The mounts vanish with
    the process; the host never sees them. Must run before the process starts
    threads (unshare refuses a multi-threaded process).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNS) != 0:
        raise SandboxError(f"unshare(CLONE_NEWNS) failed: {os.strerror(ctypes.get_errno())}")
    _mount(["--make-rprivate", "/"])
    sockets = scratch / "sockets"
    sockets.mkdir(exist_ok=True)
    _mount(["-t", "tmpfs", "-o", "size=16m,nr_inodes=4096,mode=0711", "tmpfs", str(sockets)])
    bound = {}
    for number, folder in enumerate(folders):
        if _reachable_by_others(folder):
            continue
        target = scratch / "mnt" / str(number)
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(0o755)
        _mount(["--bind", folder, str(target)])
        _mount(["-o", "remount,bind,ro", str(target)])
        bound[folder] = str(target)
    return bound


def limited_tmpfs(scratch: Path, spec: Sandbox) -> dict[str, str]:
    """In the worker's own mount namespace (after :func:`private_mounts`): a tmpfs for each
    folder a kernel writes, limited in size and in files, owned by the sandbox's user.

    bubblewrap's own tmpfs has a size limit only, and a file's inode is not counted in
    its size: millions of empty files would hold gigabytes of the host's memory.
    Returns ``{folder inside the sandbox: its tmpfs here}`` for :attr:`Sandbox.tmpfs`.
    """
    made = {}
    for number, (inside, size, files) in enumerate(spec.memory_folders()):
        target = scratch / "tmpfs" / str(number)
        target.mkdir(parents=True, exist_ok=True)
        options = f"size={size},nr_inodes={files},mode=0700,uid={spec.uid},gid={spec.uid}"
        _mount(["-t", "tmpfs", "-o", options, "tmpfs", str(target)])
        made[inside] = str(target)
    (scratch / "tmpfs").chmod(0o711)
    return made


def _mount(args: list[str]) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SandboxError(f"mount {' '.join(args)}: {result.stderr.strip()}")


def available() -> str | None:
    """None if sandboxed kernels can run here, else why not (in a sentence)."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (this is {sys.platform})"
    missing = [tool for tool in ("bwrap", "prlimit", "setpriv") if shutil.which(tool) is None]
    if missing:
        return (
            f"{', '.join(missing)} not found: install bubblewrap and util-linux "
            "(apt-get install bubblewrap)"
        )
    probe = Sandbox(sockets="/tmp").command(["/usr/bin/true"], {})
    probe = probe[probe.index(shutil.which("bwrap")) :]
    with contextlib.suppress(OSError):
        result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            return None
        return f"bubblewrap cannot make a sandbox here: {result.stderr.strip()[:300]}"
    return "bubblewrap cannot be run"


# ------------------------------------------------------------------ the provisioner


class SandboxedZygote(Zygote):
    """A kernel zygote (:mod:`cnnlab.grading.prefork`) inside a :class:`Sandbox`.

    One per worker: it runs that worker's kernels one after the other and,
    before each (and after each, when :meth:`clear` is called), leaves nothing
    of the last one in the sandbox. If it ends, stops answering or finds its
    settings changed, the next kernel gets a new sandbox.
    """

    def __init__(self, spec: Sandbox, python: str = sys.executable):
        self.spec = spec
        blas = dict.fromkeys(BLAS_THREADS, "1")
        command = spec.command([python, "-m", "cnnlab.grading.prefork", "--sandboxed"], {}, blas)
        super().__init__(python, command, untrusted=True)

    @classmethod
    def for_sandbox(cls, spec: Sandbox) -> SandboxedZygote:
        key = spec.to_json()
        zygote = _SANDBOXED.get(key)
        if zygote is None or zygote.process.poll() is not None:
            zygote = _SANDBOXED[key] = cls(spec)
        return zygote

    def fork(self, args: list[str], env: dict, cwd: str | None, files: dict | None = None) -> int:
        """Fork a kernel; returns its pid as this process sees it."""
        request = {"args": args, "env": env, "cwd": cwd, "files": files or {}}
        request["writable"] = self.spec.writable()
        inner = self._answer_of(request)
        return self._host_pid(int(inner))

    def clear(self) -> None:
        """Kill what the last kernel left running and empty its folders now."""
        self._answer_of({"clear": self.spec.writable()})

    def _answer_of(self, request: dict) -> str:
        self._stop_leftovers()
        try:
            answer = self._ask(request)
        except RuntimeError:
            self.stop()
            raise
        if answer.startswith("tampered"):
            self.stop()
            raise RuntimeError(f"the kernel zygote found its sandbox {answer}")
        return answer

    def _stop_leftovers(self) -> None:
        """From outside too: kill what the last kernel left running, wake the zygote.

        The zygote kills them as well, but it runs as their user: they may have
        stopped it (SIGSTOP) or keep it busy.
        """
        for _ in range(100):
            processes = self._processes()
            left = [pid for inner, pid in processes.items() if inner > 2]
            if not left:
                break
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        if 2 in processes:  # the zygote itself (1 is bubblewrap's init)
            with contextlib.suppress(OSError):
                os.kill(processes[2], signal.SIGCONT)

    def _processes(self) -> dict[int, int]:
        """The live processes of the sandbox: {pid inside: pid here}."""
        found = {}
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.process.pid).children(recursive=True):
                with contextlib.suppress(OSError, ValueError):
                    status = Path(f"/proc/{child.pid}/status").read_text()
                    fields = dict(line.split(":", 1) for line in status.splitlines())
                    if fields["State"].split()[0] not in ("Z", "X"):
                        found[int(fields["NSpid"].split()[-1])] = child.pid
        return found

    def _host_pid(self, inner: int) -> int:
        """The pid of the sandbox's process ``inner`` in this process's PID namespace."""
        pid = self._processes().get(inner)
        if pid is None:
            raise RuntimeError(f"the sandbox's process {inner} is not there")
        return pid


#: The sandboxed zygote of each sandbox, in this process (a worker has one).
_SANDBOXED: dict[str, SandboxedZygote] = {}


def stop_zygotes() -> None:
    """End this process's sandboxed zygotes, and everything in their sandboxes."""
    for zygote in _SANDBOXED.values():
        zygote.stop()
    _SANDBOXED.clear()


class SandboxProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, starting the kernel inside a :class:`Sandbox`.

    The sandbox comes from the kernel spec's provisioner config
    (``{"sandbox": Sandbox.to_json()}``), set by the grader for each kernel.
    With ``forked``, a Python kernel is forked from the worker's
    :class:`SandboxedZygote` (one sandbox for all of the worker's kernels,
    cleared between them); otherwise each kernel gets a sandbox of its own.
    """

    sandbox = Unicode("", help="The Sandbox, as JSON.").tag(config=True)
    forked = Bool(False, help="Fork Python kernels from a zygote in the sandbox.").tag(config=True)

    async def launch_kernel(self, cmd: list[str], **kwargs):
        spec = Sandbox.from_json(self.sandbox)
        connection_file = self.parent.connection_file if self.parent else None
        if self.forked and _forkable(cmd) and connection_file:
            return self._fork(spec, cmd, connection_file, kwargs.get("env") or {})
        spec.tmpfs = {}  # a sandbox of its own: new folders too (no zygote to empty the worker's)
        data, keep = {}, []
        try:
            if connection_file:
                fd = os.open(connection_file, os.O_RDONLY)
                data[connection_file] = fd
                keep.append(fd)
            # Its output through a pipe: an open file of the grader's (its log) would be
            # one the kernel could reopen, read or truncate.
            self.process = subprocess.Popen(
                spec.command(cmd, data),
                pass_fds=keep,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            for fd in keep:
                os.close(fd)
        copy_to_log(self.process.stdout)
        self.pid = self.process.pid
        self.pgid = self.process.pid
        self.cwd = spec.work
        return self.connection_info

    def _fork(self, spec: Sandbox, cmd: list[str], connection_file: str, env: dict):
        inside = "/tmp/kernel-connection.json"
        args = [inside if arg == connection_file else arg for arg in cmd[3:]]
        files = {inside: Path(connection_file).read_text()}
        # What jupyter_client adds for the kernel (JPY_*), nothing else of the grader's.
        env = spec.environment() | {k: v for k, v in env.items() if k.startswith("JPY_")}
        zygote = SandboxedZygote.for_sandbox(spec)
        try:
            pid = zygote.fork(args, env, spec.work, files)
        except RuntimeError:  # it ended or was tampered with: a new sandbox, once
            zygote = SandboxedZygote.for_sandbox(spec)
            pid = zygote.fork(args, env, spec.work, files)
        self.process = ForkedKernel(pid)
        self.pid = self.pgid = pid  # the kernel leads a session, and so a process group
        self.cwd = spec.work
        self._zygote = zygote
        return self.connection_info

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart)
        zygote = getattr(self, "_zygote", None)
        if zygote is not None and not restart:
            with contextlib.suppress(RuntimeError):  # then the next kernel gets a new one
                zygote.clear()
