"""make test-hub: the course on a real JupyterHub, one round trip with three real users.

Run as root by ``make test-hub``, with the Python of the hub's environment
(``HUB_ROOT/venv``, built from a Python every user can run, outside the checkout).

1. Users ``cnnlab-teacher``, ``cnnlab-alice`` and ``cnnlab-bob`` (any left by an
   earlier run are removed first); the course (this checkout's files) copied to
   the instructor's ``~/cnnlab``, private to the instructor; cnnlab installed into
   the hub's environment; the exchange ``HUB_ROOT/exchange`` (1777, its
   ``cnnlab/`` owned by the instructor); the hub-wide settings (``tests/hub/etc``).
2. JupyterHub (``tests/hub/jupyterhub_config.py``) and its Python proxy on
   127.0.0.1; the three users' servers.
3. The instructor, in a kernel of their server (as in its terminal):
   ``make release LESSON=03`` and ``nbgrader release_assignment``.
4. Each learner, through nbgrader's server extension as JupyterLab's Assignments
   tab calls it: list, fetch, open (a checkpoint, as JupyterLab makes), answer
   (alice right, bob wrong) and save through the contents API, submit.
5. The instructor: ``nbgrader collect``, ``make grade`` (sandboxed kernels),
   ``nbgrader release_feedback``.
6. Each learner fetches their feedback.
7. Checks: the scores; each learner's feedback is theirs and names bob's mistake;
   from each learner's kernel, what they may and may not read, list or write.

Prints each check and ends with ``hub: N passed, M failed``. Whatever happens, the
hub and every server stop and the users are removed.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import shutil
import stat
import subprocess
import sys
import time
import traceback
from pathlib import Path

from clients import RESULT, Hub, HubError, Kernel, Server
from machine import (
    MachineError,
    chown_tree,
    copy_files,
    create_user,
    free_port,
    hold_lock,
    preflight,
    remove_user,
    run,
    stop_pid_file,
    stop_process_group,
    tracked_files,
)

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
INSTRUCTOR = "cnnlab-teacher"
ALICE, BOB = "cnnlab-alice", "cnnlab-bob"
LEARNERS = (ALICE, BOB)
COURSE_ID = "cnnlab"
LESSON = "03-activation"
NOTEBOOK = f"{LESSON}/{LESSON}.ipynb"
#: The learners' answers to the lesson's graded function: alice's right, bob's wrong.
ANSWERS = {
    ALICE: "def relu(x):\n    return np.maximum(x, 0)\n",
    BOB: "def relu(x):\n    return np.abs(x)\n",
}
#: What the check says of bob's answer, and must say in his feedback.
BOB_MISTAKE = "Likely mistake: absolute value instead of clamping"


def signature(name: str) -> str:
    """A comment each learner leaves in their answer, to tell whose work a page shows."""
    return f"# answered by {name}"


class Checks:
    """The test's verdicts: each printed as it comes, counted at the end."""

    def __init__(self):
        self.passed, self.failed = 0, []

    def __call__(self, what: str, ok: bool, detail: str = "") -> bool:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail and not ok else ""))
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
        return ok

    def require(self, what: str, ok: bool, detail: str = "") -> None:
        """A check the rest of the round trip depends on: stop if it fails."""
        if not self(what, ok, detail):
            raise HubError(f"cannot go on: {what}: {detail}")


class Phases:
    """Wall time of each phase, printed at the end."""

    def __init__(self):
        self.start = self.last = time.monotonic()
        self.times: list[tuple[str, float]] = []

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        self.times.append((name, now - self.last))
        self.last = now
        print(f"[{now - self.start:6.1f} s] {name} done")

    def report(self) -> str:
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.times)
        return f"test-hub: {time.monotonic() - self.start:.1f} s ({parts})"


# ------------------------------------------------------------------------ set-up


class Deployment:
    """The hub's folders under ``root`` and the users, made and removed by this test."""

    def __init__(self, root: Path):
        self.root = root
        self.venv = root / "venv"
        self.exchange = root / "exchange"
        self.state = root / "hub"
        self.etc = root / "etc"
        self.stage = root / "course-src"
        self.hub_process: subprocess.Popen | None = None
        self.homes: dict[str, Path] = {}

    @property
    def course(self) -> Path:
        return self.homes[INSTRUCTOR] / "cnnlab"

    def clean(self) -> None:
        """Stop and remove what an earlier run may have left (the venv stays)."""
        stop_pid_file(self.state / "jupyterhub.pid", "jupyterhub")
        stop_pid_file(self.state / "proxy.pid", "configurable-http-proxy")
        for name in (INSTRUCTOR, *LEARNERS):
            remove_user(name)
        for folder in (self.exchange, self.state, self.etc, self.stage):
            shutil.rmtree(folder, ignore_errors=True)

    def set_up(self) -> None:
        self.clean()
        self.root.chmod(0o755)
        self._check_venv_usable()
        for name in (INSTRUCTOR, *LEARNERS):
            self.homes[name] = create_user(name)
        files = tracked_files(REPO)
        # cnnlab from this checkout, built from a clean copy (never from a stale build/).
        self.stage.mkdir(mode=0o700)
        copy_files(REPO, files, self.stage)
        run(
            [
                str(self.venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-build-isolation",
                "--force-reinstall",
                str(self.stage),
            ]
        )
        # The course folder: the instructor's alone (0700), as the README says.
        self.course.mkdir(mode=0o700)
        copy_files(REPO, files, self.course)
        chown_tree(self.course, INSTRUCTOR)
        self.course.chmod(0o700)
        # Only the exchange is shared. Its course folder is made for the instructor now,
        # so that no learner can take the name first.
        self.exchange.mkdir()
        self.exchange.chmod(0o1777)
        (self.exchange / COURSE_ID).mkdir(mode=0o755)
        chown_tree(self.exchange / COURSE_ID, INSTRUCTOR)
        shutil.copytree(HERE / "etc", self.etc)
        for folder, _dirs, files_ in os.walk(self.etc):
            os.chmod(folder, 0o755)
            for name in files_:
                os.chmod(os.path.join(folder, name), 0o644)
        self.state.mkdir(mode=0o700)

    def _check_venv_usable(self) -> None:
        """Every user must run the hub's Python: one under /root (pyenv) cannot be."""
        probe = subprocess.run(
            [
                *("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"),
                *(str(self.venv / "bin" / "python"), "-c", "import nbgrader, cnnlab"),
            ],
            capture_output=True,
            text=True,
        )
        if probe.returncode != 0:
            raise MachineError(
                f"{self.venv} cannot be run by other users ({probe.stderr.strip()[-300:]}): "
                "build it from a Python every user can execute (make test-hub "
                "HUB_PYTHON=/usr/bin/python3), not one under /root"
            )

    def start_hub(self) -> Hub:
        port = free_port()
        token = secrets.token_hex(32)
        env = dict(os.environ)
        env.update(
            CNNLAB_HUB_ROOT=str(self.root),
            CNNLAB_HUB_PORT=str(port),
            CNNLAB_HUB_INTERNAL_PORT=str(free_port()),
            CNNLAB_HUB_PROXY_API_PORT=str(free_port()),
            CNNLAB_HUB_TOKEN=token,
            CNNLAB_HUB_INSTRUCTOR=INSTRUCTOR,
            CNNLAB_HUB_LEARNERS=",".join(LEARNERS),
        )
        with open(self.state / "jupyterhub.log", "wb") as log:
            self.hub_process = subprocess.Popen(
                [str(self.venv / "bin" / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
                cwd=self.state,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.state / "jupyterhub.pid").write_text(str(self.hub_process.pid))
        hub = Hub(f"http://127.0.0.1:{port}", token)
        hub.wait_up(lambda: self.hub_process.poll() is None)
        return hub

    def stop(self) -> None:
        """Stop the hub (which stops the servers and the proxy), remove the users and their
        files; the hub's log stays, as ``HUB_ROOT/jupyterhub-last-run.log``."""
        if self.hub_process is not None:
            stop_process_group(self.hub_process.pid)
            self.hub_process.wait()
        stop_pid_file(self.state / "jupyterhub.pid", "jupyterhub")
        stop_pid_file(self.state / "proxy.pid", "configurable-http-proxy")
        for name in (INSTRUCTOR, *LEARNERS):
            remove_user(name)
        if (self.state / "jupyterhub.log").exists():
            shutil.copy(self.state / "jupyterhub.log", self.root / "jupyterhub-last-run.log")
        # Files of the removed users' ids must not outlive them (a new user could get the id).
        for folder in (self.exchange, self.state, self.etc, self.stage):
            shutil.rmtree(folder, ignore_errors=True)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = (self.state / "jupyterhub.log").read_text(errors="replace")
        except OSError:
            return "(no hub log)"
        return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------------- the steps


def shell(kernel: Kernel, cwd: Path, commands: list[str]) -> list[dict]:
    """Run shell commands in a kernel (as its user would in a terminal), one after another."""
    code = f"""
import json, subprocess
done = []
for command in {commands!r}:
    p = subprocess.run(command, shell=True, cwd={str(cwd)!r}, capture_output=True, text=True)
    done.append({{"command": command, "rc": p.returncode, "output": (p.stdout + p.stderr)[-3000:]}})
    if p.returncode:
        break
print({RESULT!r} + json.dumps(done))
"""
    return kernel.result(code)


def instructor_runs(check: Checks, kernel: Kernel, course: Path, commands: list[str]) -> None:
    done = shell(kernel, course, commands)
    for step in done:
        shown = [line for line in step["output"].splitlines() if "%|" not in line][-12:]
        print("\n".join(f"    | {line}" for line in [f"$ {step['command']}", *shown]))
        check.require(f"instructor: {step['command']}", step["rc"] == 0, step["output"])
    check.require("instructor: every command ran", len(done) == len(commands))


def answer(notebook: dict, name: str) -> dict:
    """The notebook with ``name``'s answer in the solution cell of ``relu``."""
    cells = [
        cell
        for cell in notebook["cells"]
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "relu"
    ]
    if len(cells) != 1:
        raise HubError(f"the fetched {NOTEBOOK} has {len(cells)} cells with grade_id 'relu'")
    cells[0]["source"] = f"{signature(name)}\n{ANSWERS[name]}"
    return notebook


def learner_submits(check: Checks, server: Server) -> None:
    name = server.name
    check.require(f"{name}: the course is listed", COURSE_ID in server.courses())
    listed = {a["assignment_id"]: a["status"] for a in server.assignments(COURSE_ID)}
    check.require(f"{name}: {LESSON} is released", listed.get(LESSON) == "released", str(listed))
    server.assignment_action("fetch", COURSE_ID, LESSON)
    model = server.contents(NOTEBOOK)
    check.require(f"{name}: fetched {NOTEBOOK} is in their home", model is not None)
    server.create_checkpoint(NOTEBOOK)  # as JupyterLab does when it opens a notebook
    server.save_notebook(NOTEBOOK, answer(model["content"], name))
    reply = server.assignment_action("submit", COURSE_ID, LESSON)
    check.require(f"{name}: submit succeeded", reply.get("success") is True, str(reply)[:500])


def fetch_feedback(check: Checks, server: Server) -> str:
    """The learner's feedback page, as fetched into their home (checked on disk)."""
    name = server.name
    server.assignment_action("fetch_feedback", COURSE_ID, LESSON)
    folder = server.contents(f"{LESSON}/feedback")
    pages = []
    for stamp in folder["content"] if folder else []:
        listing = server.contents(stamp["path"])
        pages += [item["path"] for item in listing["content"] if item["name"].endswith(".html")]
    check.require(
        f"{name}: one feedback page fetched into ~/{LESSON}/feedback/", len(pages) == 1, str(pages)
    )
    return server.contents(pages[0], format="text")["content"]


# -------------------------------------------------------------- who may read what


PROBE = """
import json, os

def attempt(op, path):
    try:
        if op == "read":
            with open(path, "rb") as handle:
                handle.read(1)
        elif op == "list":
            os.listdir(path)
        elif op == "write":
            probe = os.path.join(path, ".cnnlab-probe")
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(probe)
        return "allowed"
    except OSError as error:
        return type(error).__name__

print(%r + json.dumps([attempt(op, path) for op, path in %r]))
"""


def permission_rows(dep: Deployment, me: str, other: str) -> list[tuple[str, str, Path, str]]:
    """(what, operation, path, expected outcome) for learner ``me``; ``other`` is a classmate."""
    course, exchange = dep.course, dep.exchange / COURSE_ID
    other_home, my_home = dep.homes[other], dep.homes[me]
    other_page = next((other_home / LESSON / "feedback").glob(f"*/{LESSON}.html"))
    my_page = next((my_home / LESSON / "feedback").glob(f"*/{LESSON}.html"))
    denied, allowed = "PermissionError", "allowed"
    return [
        (
            "read the source lesson (solutions, hidden tests)",
            "read",
            course / "notebooks" / NOTEBOOK,
            denied,
        ),
        ("list the course folder", "list", course, denied),
        ("read the gradebook", "read", course / "gradebook.db", denied),
        ("read grades.csv", "read", course / "grades.csv", denied),
        ("list the instructor's home", "list", dep.homes[INSTRUCTOR], denied),
        ("list the classmate's home", "list", other_home, denied),
        ("read the classmate's notebook", "read", other_home / NOTEBOOK, denied),
        (
            "read the classmate's collected submission",
            "read",
            course / "submitted" / other / NOTEBOOK,
            denied,
        ),
        (
            "read the classmate's graded notebook",
            "read",
            course / "autograded" / other / NOTEBOOK,
            denied,
        ),
        (
            "read the classmate's feedback (course)",
            "read",
            course / "feedback" / other / LESSON / f"{LESSON}.html",
            denied,
        ),
        ("read the classmate's fetched feedback", "read", other_page, denied),
        ("list the exchange's inbound/", "list", exchange / "inbound", denied),
        ("list the exchange's feedback/", "list", exchange / "feedback", denied),
        ("write into the released lesson", "write", exchange / "outbound" / LESSON, denied),
        ("write into the exchange's course folder", "write", exchange, denied),
        ("read the hub's database (tokens)", "read", dep.state / "jupyterhub.sqlite", denied),
        ("read the released lesson", "read", exchange / "outbound" / NOTEBOOK, allowed),
        ("read their own feedback", "read", my_page, allowed),
        ("list the exchange's outbound/", "list", exchange / "outbound", allowed),
    ]


def check_permissions(check: Checks, dep: Deployment, kernel: Kernel, me: str, other: str) -> list:
    rows = permission_rows(dep, me, other)
    for what, _op, path, _expected in rows:
        # A path that does not exist would be refused too, and prove nothing.
        if not path.exists():
            raise HubError(f"cannot check '{what}': {path} does not exist")
    asked = [(op, str(path)) for _what, op, path, _expected in rows]
    got = kernel.result(PROBE % (RESULT, asked))
    for (what, op, path, expected), outcome in zip(rows, got, strict=True):
        check(
            f"{me}'s kernel: {what} ({op} {path}): {outcome}",
            outcome == expected,
            f"expected {expected}",
        )
    return [
        (what, op, path, outcome) for (what, op, path, _e), outcome in zip(rows, got, strict=True)
    ]


def check_umask(check: Checks, kernel: Kernel, name: str) -> None:
    """The umask of a user's kernel: the spawner's 077, inherited through the server."""
    mask = kernel.result(f"import os; m = os.umask(0); os.umask(m); print({RESULT!r} + str(m))")
    check(f"{name}'s server runs with umask 077", mask == 0o077, f"umask {mask:o}")


def by_exact_name(dep: Deployment, kernel: Kernel, other: str) -> list[tuple[str, str]]:
    """What nbgrader's exchange leaves readable to whoever knows an exact name (not asserted)."""
    exchange = dep.exchange / COURSE_ID
    submission = next((exchange / "inbound").glob(f"{other}+{LESSON}+*")) / f"{LESSON}.ipynb"
    pages = sorted((exchange / "feedback").glob("*.html"))
    asked = [("read", str(submission))] + [("read", str(page)) for page in pages]
    got = kernel.result(PROBE % (RESULT, asked))
    return list(zip([str(submission), *map(str, pages)], got, strict=True))


# -------------------------------------------------------------------------- main


def round_trip(dep: Deployment, check: Checks, phase: Phases) -> None:
    dep.set_up()
    phase("set-up (users, course copy, cnnlab installed, exchange)")
    hub = dep.start_hub()
    for name in (INSTRUCTOR, *LEARNERS):
        hub.start_server(name)
    for name in (INSTRUCTOR, *LEARNERS):
        hub.wait_ready(name)
    servers = {name: Server(hub.url, name, hub.token_for(name)) for name in (INSTRUCTOR, *LEARNERS)}
    phase("hub and three servers up")

    teacher = servers[INSTRUCTOR].kernel()
    venv = f"VENV={dep.venv}"
    instructor_runs(
        check,
        teacher,
        dep.course,
        [f"make release LESSON=03 {venv}", f"nbgrader release_assignment {LESSON}"],
    )
    released = dep.exchange / COURSE_ID / "outbound" / NOTEBOOK
    check.require("the lesson is in the exchange's outbound/", released.is_file())
    phase("release")

    for name in LEARNERS:
        learner_submits(check, servers[name])
    inbound = sorted(p.name.split("+")[0] for p in (dep.exchange / COURSE_ID / "inbound").iterdir())
    check(
        "inbound/ holds one submission per learner, named after the hub user",
        inbound == sorted(LEARNERS),
        str(inbound),
    )
    phase("fetch, answer, submit")

    instructor_runs(
        check,
        teacher,
        dep.course,
        [
            f"nbgrader collect {LESSON}",
            f"make grade LESSON=03 {venv}",
            f"nbgrader release_feedback {LESSON}",
        ],
    )
    collected = sorted(p.name for p in (dep.course / "submitted").iterdir())
    check("submitted/ holds both learners", collected == sorted(LEARNERS), str(collected))
    # Each learner's notebook had a checkpoint (.ipynb_checkpoints/), as JupyterLab makes;
    # nbgrader's submit warns of it as an "extra" notebook, but leaves it out.
    for name in LEARNERS:
        (sent,) = (dep.exchange / COURSE_ID / "inbound").glob(f"{name}+{LESSON}+*")
        for where, folder in (
            ("inbound/", sent),
            ("submitted/", dep.course / "submitted" / name / LESSON),
        ):
            notebooks = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.ipynb"))
            check(
                f"{name}'s submission in {where} holds {LESSON}.ipynb alone (no checkpoint)",
                notebooks == [f"{LESSON}.ipynb"],
                str(notebooks),
            )
    with open(dep.course / "grades.csv", newline="") as handle:
        grades = {row["student"]: row for row in csv.DictReader(handle) if row["lesson"] == LESSON}
    check(
        "grades.csv: alice's relu scores 2/2",
        (grades[ALICE]["autograded"], grades[ALICE]["autograded_max"]) == ("2", "2"),
        str(grades.get(ALICE)),
    )
    check(
        "grades.csv: bob's relu scores 0/2",
        (grades[BOB]["autograded"], grades[BOB]["autograded_max"]) == ("0", "2"),
        str(grades.get(BOB)),
    )
    check(
        "grades.csv: both graded, out of 3 (the written answer, left blank, scores 0)",
        all(g["status"] == "graded" and g["max_score"] == "3" for g in grades.values()),
        str(grades),
    )
    # The modes nbgrader gives the exchange (explicitly, whatever the umask), as the README says.
    exchange = dep.exchange / COURSE_ID
    modes = {
        dep.exchange: 0o1777,
        exchange: 0o755,
        exchange / "outbound": 0o755,
        exchange / "inbound": 0o2733,
        exchange / "feedback": 0o711,
    }
    for path, mode in modes.items():
        found = stat.S_IMODE(path.stat().st_mode)
        check(f"{path} has mode {mode:o}", found == mode, f"found {found:o}")
    phase("collect, make grade, release feedback")

    pages = {name: fetch_feedback(check, servers[name]) for name in LEARNERS}
    for name, other in ((ALICE, BOB), (BOB, ALICE)):
        page = pages[name]
        check(f"{name}'s feedback shows their answer", signature(name) in page)
        check(
            f"{name}'s feedback shows nothing of {other}'s",
            signature(other) not in page and other not in page,
        )
    check("bob's feedback names his mistake", BOB_MISTAKE in pages[BOB])
    check("alice's feedback names no mistake", "Likely mistake" not in pages[ALICE])
    check(
        "no feedback page shows a hidden test",
        all("thorough=True" not in page for page in pages.values()),
    )
    phase("fetch feedback")

    table = []
    for me, other in ((ALICE, BOB), (BOB, ALICE)):
        kernel = servers[me].kernel()
        check_umask(check, kernel, me)
        table += check_permissions(check, dep, kernel, me, other)
        if me == ALICE:
            informative = by_exact_name(dep, kernel, other)
        kernel.close()
    check_umask(check, teacher, INSTRUCTOR)
    # What the instructor's server created carries the umask: private even inside the course.
    for path, mode in (
        (dep.course / "submitted", 0o700),
        (dep.course / "gradebook.db", 0o600),
        (dep.course / "grades.csv", 0o600),
    ):
        found = stat.S_IMODE(path.stat().st_mode)
        check(f"{path} has mode {mode:o} (umask 077)", found == mode, f"found {found:o}")
    formgrader = servers[ALICE].request("GET", "formgrader")
    check(
        "alice's server has no formgrader",
        formgrader.status_code == 404,
        f"HTTP {formgrader.status_code}",
    )
    teacher.close()
    phase("permissions from the learners' kernels")

    print("\nwho may do what (asserted, from each learner's kernel):")
    for what, op, path, outcome in table:
        print(f"  {outcome:16} {op:5} {path}   ({what})")
    print(
        "\nnot asserted: by exact name (names in inbound/ and feedback/ cannot be listed "
        "or guessed):"
    )
    for path, outcome in informative:
        print(f"  alice: {outcome:16} read {path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--hub-root", type=Path, required=True, help="venv/ is there; the rest is made"
    )
    args = parser.parse_args(argv)
    check, phase = Checks(), Phases()
    dep = Deployment(args.hub_root.resolve())
    try:
        preflight()
        lock = hold_lock(dep.root / ".lock")
    except MachineError as error:  # nothing was changed: nothing to clean up
        print(f"make test-hub: {error}", file=sys.stderr)
        print("hub: 0 passed, 1 failed")
        return 1
    with lock:
        try:
            round_trip(dep, check, phase)
        except Exception as error:  # any failure: report it, then clean up all the same
            check.failed.append(f"round trip stopped: {error}")
            traceback.print_exc()
            print(f"\nthe hub's log, last lines:\n{dep.log_tail()}", file=sys.stderr)
        finally:
            try:
                dep.stop()
            except Exception as error:
                check.failed.append(f"clean-up failed: {error}")
                traceback.print_exc()
    phase("stop")
    print(phase.report())
    print(f"hub: {check.passed} passed, {len(check.failed)} failed")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
