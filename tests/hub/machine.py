"""What `make test-hub` changes on the machine: Linux users, their processes, free ports.

Every user it creates carries :data:`MARK` as its comment (GECOS): only such a user
is ever removed, so a real account of the same name stops the test instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

#: The comment of every user `make test-hub` creates; it removes no other user.
MARK = "cnnlab make test-hub"


class MachineError(RuntimeError):
    """The machine cannot run the hub test, and why."""


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure raise with its output."""
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise MachineError(
            f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


def preflight() -> None:
    """Stop early, saying why, unless this is root on Linux with the tools the test needs."""
    if os.geteuid() != 0:
        raise MachineError("make test-hub creates Linux users: run it as root")
    missing = [t for t in ("useradd", "userdel", "bwrap", "make", "git") if not shutil.which(t)]
    if missing:
        raise MachineError(
            f"{', '.join(missing)} not found (apt-get install passwd bubblewrap make git)"
        )


def hold_lock(path: Path):
    """An exclusive lock on ``path`` (an open file: closing it lets go), or MachineError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "w")  # noqa: SIM115 - returned, closed by the caller's with
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise MachineError(
            f"another make test-hub holds {path}: wait for it (both would use the same users)"
        ) from None
    return handle


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------------------------ users


def user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def create_user(name: str) -> Path:
    """A new Linux user ``name`` with a home of its own, readable by nobody else (0700)."""
    if user(name) is not None:
        raise MachineError(f"user {name} exists already")
    run(["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", "-c", MARK, name])
    home = Path(pwd.getpwnam(name).pw_dir)
    home.chmod(0o700)
    return home


def remove_user(name: str) -> None:
    """Remove a user this test made (and its home), after ending its processes."""
    entry = user(name)
    if entry is None:
        return
    if entry.pw_gecos != MARK:
        raise MachineError(
            f"user {name} exists and was not made by make test-hub (its comment is "
            f"{entry.pw_gecos!r}): remove or rename it, or run the test elsewhere"
        )
    kill_processes_of(entry.pw_uid)
    run(["userdel", "--remove", name])


def processes_of(uid: int) -> list[int]:
    """The ids of the live processes running as ``uid`` (real user id; zombies left out)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(
                line.split(":", 1) for line in (entry / "status").read_text().splitlines()
            )
        except (OSError, ValueError):
            continue
        if int(status["Uid"].split()[0]) == uid and not status["State"].strip().startswith("Z"):
            pids.append(int(entry.name))
    return pids


def kill_processes_of(uid: int, timeout: float = 10.0) -> None:
    """End every process of ``uid`` (a user this test made), by its id: TERM, then KILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in processes_of(uid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while processes_of(uid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not processes_of(uid):
            return


def _stat(pid: str) -> tuple[str, int] | None:
    """(state, process group) of a process, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[2])


def group_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (a zombie is not alive: it only waits for
    a parent, maybe a PID 1 that never reaps, to collect it)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := _stat(entry.name)) is not None:
            state, group = info
            if group == pgid and state != "Z":
                members.append(int(entry.name))
    return members


def stop_process_group(pgid: int, timeout: float = 20.0) -> None:
    """Ask the process group ``pgid`` to stop (TERM), then make it (KILL)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_members(pgid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + timeout
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)


def stop_pid_file(path: Path, program: str) -> None:
    """Stop the process group led by the id in ``path`` (left by an earlier run), if that
    process still runs ``program`` (an id may have been given to another process since)."""
    try:
        pid = int(path.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        command = b""
    if program.encode() in command:
        stop_process_group(pid, timeout=10.0)
    path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- files


def tracked_files(repo: Path) -> list[str]:
    """The files of the checkout, as git knows them (committed or not, never ignored ones)."""
    listed = run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo
    ).stdout
    return sorted({name for name in listed.split("\0") if name and (repo / name).is_file()})


def copy_files(repo: Path, names: list[str], dest: Path) -> None:
    """Copy ``names`` (relative to ``repo``) into ``dest``, keeping their modes."""
    for name in names:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, target)


def chown_tree(path: Path, name: str) -> None:
    entry = pwd.getpwnam(name)
    for folder, dirs, files in os.walk(path):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for item in dirs + files:
            os.chown(os.path.join(folder, item), entry.pw_uid, entry.pw_gid, follow_symlinks=False)
