"""Cheating submissions graded the way ``make grade`` grades: sandboxed, judged outside.

One batch (lessons 1 and 3) holds two correct submissions (the victims) and,
for every kind of attack in tests/attacks.py, a wrong answer with the attack
around it; plus symbolic links to the solutions and to a classmate's work,
and an edited test cell. Graded on two workers at once, so that the victims
run beside the attackers. Then:

* every attacker scores 0 on every exercise, and each victim full marks;
* no feedback page holds a line of a hidden test, nor of a solution;
* no process of the sandboxes outlives the batch;
* nothing outside the sandboxes changed: source lessons, release, the
  victims' submissions, the environment (no .pth file), the gradebook (its
  tests still those of the source), and no file anywhere holds the marker
  the attacks write;
* after the batch, a plain wrong resubmission still scores 0.

A second batch runs on one worker, whose kernels share one sandbox: after each
trap (files, a lurking process, IPC objects, the zygote's settings) a correct
submission finds nothing of it and keeps full marks.
"""

from __future__ import annotations

import csv
import hashlib
import html
import os
import re
import secrets
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import psutil
import pytest
from attacks import ATTACKS, PROBE, TRAPS, WRONG_RELU
from grading_helpers import (
    graded_cell,
    make_course,
    replace_function,
    solved,
    submit,
)
from nbgrader.api import Gradebook

from cnnlab.grading import sandbox
from cnnlab.grading.batch import grade
from cnnlab.grading.course import Course, check_gradebook, release
from cnnlab.grading.markers import DEFAULT, split

pytestmark = pytest.mark.skipif(
    sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}"
)

TEMPLATES, ACTIVATION = "01-template-matching", "03-activation"
LESSONS = (TEMPLATES, ACTIVATION)
CELL_TIMEOUT = 30
TIME_LIMIT = 300


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def sandbox_processes(batch_folder: str) -> list[psutil.Process]:
    """The sandboxes of one batch: bubblewrap processes bound to its scratch folder.

    A sandboxed process (a kernel, what it started) lives in the PID namespace
    of its bubblewrap, and dies with it: none of them left means none of theirs.
    """
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if "bwrap" in command and batch_folder in command:
            found.append(process)
    return found


def sandboxes_left(batch_folder: str) -> list[psutil.Process]:
    """The batch's sandboxes still there after a while (none, once they all ended)."""
    deadline = time.monotonic() + 60  # a hang detector: the kernels die with their sandbox
    while sandbox_processes(batch_folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    return sandbox_processes(batch_folder)


def grade_in_a_folder_of_its_own(course, prefix: str, ipython_dir: Path, **options):
    """``grade()`` as `make grade` runs it, its kernels drawing no figure; returns the
    results and the batch's scratch folder (and so its sockets): a folder of this test's
    own, short enough for a Unix socket's path, so that its sandboxes can be told from
    others'."""
    batch_folder = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(batch_folder, 0o711)  # the sandbox users must pass through to their sockets
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPYTHONDIR", str(ipython_dir))
        patch.setattr(tempfile, "tempdir", batch_folder)
        results = grade(course, time_limit=TIME_LIMIT, log=lambda *_: None, **options)
    return results, batch_folder


def _submissions(root: Path, marker: str) -> dict[str, str]:
    """Every submission of the batch; returns attacker -> the attack it tries."""
    for student in ("victim-a", "victim-b"):
        for lesson in LESSONS:
            submit(root, student, lesson, solved(root, lesson))
    attackers = {}
    for name, (around, cell) in ATTACKS.items():
        student = f"attack-{slug(name)}"
        attackers[student] = name
        nb = solved(root, ACTIVATION)
        replace_function(nb, "relu", WRONG_RELU + around.replace("{marker}", marker))
        if cell:
            nb.cells.append(nbformat.v4.new_code_cell(cell.replace("{marker}", marker)))
        submit(root, student, ACTIVATION, nb)

    # A test cell edited to print a pass and end in a non-numeric value, which plain
    # nbgrader would score as full marks.
    nb = solved(root, TEMPLATES)
    replace_function(nb, "match_score", "def match_score(image, template):\n    return 0.0\n")
    replace_function(nb, "count_placements", "def count_placements(a, b):\n    return 0\n")
    graded_cell(nb, "match_score").source = "print('match_score: 8/8 checks passed')\n'passed'"
    submit(root, "attack-edited-test-cell", TEMPLATES, nb)
    attackers["attack-edited-test-cell"] = "an edited test cell"

    # Symbolic links: to the source lesson (its solutions), to a classmate's notebook,
    # and a whole student folder that is a classmate's.
    folder = root / "submitted" / "attack-link-to-source" / ACTIVATION
    folder.mkdir(parents=True)
    (folder / f"{ACTIVATION}.ipynb").symlink_to(
        root / "notebooks" / ACTIVATION / f"{ACTIVATION}.ipynb"
    )
    folder = root / "submitted" / "attack-link-to-classmate" / ACTIVATION
    folder.mkdir(parents=True)
    (folder / f"{ACTIVATION}.ipynb").symlink_to(
        root / "submitted" / "victim-a" / ACTIVATION / f"{ACTIVATION}.ipynb"
    )
    (root / "submitted" / "attack-folder-link").symlink_to(root / "submitted" / "victim-b")
    attackers |= {
        "attack-link-to-source": "a link to the source lesson",
        "attack-link-to-classmate": "a link to a classmate's notebook",
        "attack-folder-link": "a classmate's folder as its own",
    }
    return attackers


def gradebook_scores(course: Course) -> dict:
    scores = {}
    with Gradebook(course.db_url, course.course_id) as gb:
        for student in gb.students:
            for submission in student.submissions:
                for notebook in submission.notebooks:
                    scores[student.id, submission.assignment.name] = {
                        g.name: g.auto_score for g in notebook.grades if g.cell_type == "code"
                    }
    return scores


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, figureless_ipython_dir):
    root = make_course(tmp_path_factory.mktemp("course"), list(LESSONS), cell_timeout=CELL_TIMEOUT)
    course = Course.find(root)
    release(course, log=lambda *_: None)
    marker = f"cnnlab-attack-{secrets.token_hex(8)}"
    attackers = _submissions(root, marker)
    before = {
        "notebooks": fingerprint(root / "notebooks"),
        "release": fingerprint(root / "release"),
        "victims": fingerprint(root / "submitted" / "victim-a"),
    }
    results, batch_folder = grade_in_a_folder_of_its_own(
        course, "att", figureless_ipython_dir, workers=2
    )
    return SimpleNamespace(
        root=root,
        course=course,
        marker=marker,
        attackers=attackers,
        before=before,
        results={(r.student, r.lesson): r for r in results},
        scores=gradebook_scores(course),
        batch_folder=batch_folder,
    )


def code_points(result) -> tuple[float, float]:
    cells = [c for c in result.cells if c.kind == "code"]
    return sum(c.score or 0 for c in cells), sum(c.max for c in cells)


def test_every_attack_scores_zero(attacked):
    scored = {}
    for (student, _lesson), result in attacked.results.items():
        if student.startswith("attack-"):
            scored[attacked.attackers[student]] = code_points(result)[0]
    assert set(scored) == set(attacked.attackers.values())
    assert {name: points for name, points in scored.items() if points} == {}
    for student in attacked.attackers:  # the gradebook agrees
        for lesson in LESSONS:
            for points in attacked.scores.get((student, lesson), {}).values():
                assert not points, (student, lesson)


def test_the_victims_keep_full_marks(attacked):
    for student in ("victim-a", "victim-b"):
        for lesson in LESSONS:
            got, most = code_points(attacked.results[student, lesson])
            assert got == most > 0, (student, lesson, attacked.results[student, lesson])
            assert set(attacked.scores[student, lesson].values()) != {0.0}


def test_links_are_refused_and_said_so(attacked):
    for student in ("attack-link-to-source", "attack-link-to-classmate", "attack-folder-link"):
        results = [r for (s, _), r in attacked.results.items() if s == student]
        assert results
        for result in results:
            assert result.status == "invalid"
            assert "symbolic link" in result.notes[0]


def test_an_edited_test_cell_is_graded_with_the_original(attacked):
    result = attacked.results["attack-edited-test-cell", TEMPLATES]
    assert any("edited: graded with the original" in note for note in result.notes)


def _secret_lines(root: Path, lesson: str) -> tuple[set[str], set[str]]:
    """(hidden test lines, solution lines) of a source lesson, stripped, long enough."""
    nb = nbformat.read(root / "notebooks" / lesson / f"{lesson}.ipynb", as_version=4)
    hidden, solution = set(), set()
    for cell in nb.cells:
        for region, into in ((DEFAULT.hidden, hidden), (DEFAULT.solution, solution)):
            for line in split(cell.source, *region)[1]:
                if len(line.strip()) >= 12 and not any(m in line for m in region):
                    into.add(line.strip())
    return hidden, solution


def test_no_feedback_page_holds_a_hidden_test_or_a_solution(attacked):
    pages = list((attacked.root / "feedback").rglob("*.html"))
    assert len(pages) >= len(attacked.attackers)
    for lesson in LESSONS:
        hidden, solution = _secret_lines(attacked.root, lesson)
        assert hidden and solution
        for page in pages:
            if page.stem != lesson:
                continue
            text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
            for line in hidden:
                assert line not in text, (page, line)
            if "victim" not in str(page):  # a victim's page shows the victim's own code
                for line in solution:
                    assert line not in text, (page, line)


def test_no_process_outlives_the_batch(attacked):
    assert sandboxes_left(attacked.batch_folder) == []


def test_nothing_outside_the_sandboxes_changed(attacked):
    root = attacked.root
    assert fingerprint(root / "notebooks") == attacked.before["notebooks"]
    assert fingerprint(root / "release") == attacked.before["release"]
    assert fingerprint(root / "submitted" / "victim-a") == attacked.before["victims"]
    folders = {*site.getsitepackages(), *(p for p in os.sys.path if p)}
    for folder in folders:
        if os.path.isdir(folder):
            assert not any(attacked.marker in name for name in os.listdir(folder)), folder
    for path in root.rglob("*"):
        own = any(part.startswith("attack-") for part in path.relative_to(root).parts)
        if path.is_file() and not own:  # an attacker's own pages show its own code
            assert attacked.marker.encode() not in path.read_bytes(), path
    check_gradebook(attacked.course, list(LESSONS))  # its tests are still the source's


def test_a_plain_wrong_resubmission_still_scores_zero(attacked, figureless_ipython_dir):
    """Graded after the batch by the command `make grade` runs, in a process of its own."""
    nb = solved(attacked.root, ACTIVATION)
    replace_function(nb, "relu", WRONG_RELU)
    submit(attacked.root, "late", ACTIVATION, nb)
    command = [sys.executable, "-m", "cnnlab.grading", "--course", str(attacked.root), "grade"]
    command += ["--student", "late", "--time-limit", str(TIME_LIMIT), ACTIVATION]
    env = dict(os.environ, IPYTHONDIR=str(figureless_ipython_dir))
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = list(csv.DictReader((attacked.root / "grades.csv").open()))
    (late,) = [row for row in rows if row["student"] == "late"]
    assert late["status"] == "graded" and float(late["autograded"]) == 0
    page = attacked.root / "feedback" / "late" / ACTIVATION / f"{ACTIVATION}.html"
    assert "absolute value instead of clamping" in page.read_text()
    victim = gradebook_scores(attacked.course)["victim-a", ACTIVATION]
    assert set(victim.values()) != {0.0}


def test_the_attacks_are_named_in_the_feedback(attacked):
    """A learner who tried sees why: the construct and where, not a bare zero."""
    result = attacked.results["attack-the-grader-s-kernel-side-replaced", ACTIVATION]
    message = " ".join(c.message for c in result.cells)
    assert "cnnlab.checks" in message
    result = attacked.results["attack-another-program-computes-it", ACTIVATION]
    assert "subprocess" in " ".join(c.message for c in result.cells)


def test_nothing_is_written_where_no_size_limit_holds(attacked):
    page = attacked.root / "feedback" / "attack-writing-where-no-size-limit-holds"
    assert "OUTSIDE []" in (page / ACTIVATION / f"{ACTIVATION}.html").read_text()


def test_no_open_file_of_the_grader_reaches_a_kernel(attacked):
    page = attacked.root / "feedback" / "attack-the-grader-s-log-through-an-inherited-descriptor"
    text = html.unescape(
        re.sub(r"<[^>]+>", "", (page / ACTIVATION / f"{ACTIVATION}.html").read_text())
    )
    seen = [line for line in text.splitlines() if line.startswith("FD ")]
    assert seen[0].startswith("FD 0 /dev/null")  # the attack ran, and listed what it had open
    for secret in ("worker-", "cnnlab-grade-", ".log", str(attacked.root), "victim-"):
        assert not [line for line in seen if secret in line], secret


def test_the_folders_a_kernel_writes_hold_a_limited_number_of_files(attacked):
    """An empty file costs no space, but an inode of the host's memory: counted too."""
    if os.geteuid() != 0:
        pytest.skip("the file limit needs the tmpfs a root grader mounts (bubblewrap has none)")
    page = attacked.root / "feedback" / "attack-a-million-empty-files" / ACTIVATION
    text = (page / f"{ACTIVATION}.html").read_text()
    made = int(re.search(r"FILES (\d+)", text).group(1))
    assert 1000 < made < 40_000  # 16384 + 1024 + 16384 at most, not 600,000


def test_sandboxed_kernels_saw_nothing_of_the_course(attacked):
    page = attacked.root / "feedback" / "attack-solutions-and-gradebook-from-the-disk"
    text = (page / ACTIVATION / f"{ACTIVATION}.html").read_text()
    assert "DISK" in text  # the attack ran
    seen = text.split("DISK", 1)[1]
    assert "site-packages" in seen  # it could read the installed packages, and only those
    for secret in (str(attacked.root), "victim-a", "victim-b", "cnnlab-grade-"):
        assert secret not in seen, secret


# ------------------------------------------------------------- one sandbox, in turn

ZYGOTE_STARTED = "print('STARTED', open('/proc/2/stat').read().rsplit(')', 1)[1].split()[19])\n"


def _printed(root: Path, student: str, prefix: str) -> str:
    """What a graded notebook's cells printed on the line starting with ``prefix``."""
    path = root / "autograded" / student / ACTIVATION / f"{ACTIVATION}.ipynb"
    assert path.exists(), f"{student} has no graded notebook"
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(prefix + " "):
                    return line[len(prefix) + 1 :]
    raise AssertionError(f"{student} printed no {prefix} line")


@pytest.fixture(scope="module")
def in_turn(tmp_path_factory, figureless_ipython_dir):
    root = make_course(tmp_path_factory.mktemp("turns"), [ACTIVATION], cell_timeout=CELL_TIMEOUT)
    course = Course.find(root)
    release(course, log=lambda *_: None)
    marker = f"cnnlab-trap-{secrets.token_hex(8)}"
    order = []
    for number, (name, code) in enumerate(TRAPS.items()):
        trap, probe = f"t{2 * number:02}-trap-{slug(name)}"[:60], f"t{2 * number + 1:02}-probe"
        nb = solved(root, ACTIVATION)
        replace_function(nb, "relu", WRONG_RELU + code.replace("{marker}", marker))
        nb.cells.append(nbformat.v4.new_code_cell(ZYGOTE_STARTED))
        submit(root, trap, ACTIVATION, nb)
        nb = solved(root, ACTIVATION)
        nb.cells.append(nbformat.v4.new_code_cell(PROBE))
        submit(root, probe, ACTIVATION, nb)
        order.append((name, trap, probe))
    results, batch_folder = grade_in_a_folder_of_its_own(
        course, "turn", figureless_ipython_dir, workers=1
    )
    return SimpleNamespace(
        root=root,
        marker=marker,
        order=order,
        results={r.student: r for r in results},
        batch_folder=batch_folder,
    )


def test_in_one_sandbox_each_trap_scores_zero_and_the_next_kernel_full_marks(in_turn):
    assert [r for r in sorted(in_turn.results)] == [s for _, *pair in in_turn.order for s in pair]
    for _name, trap, probe in in_turn.order:
        assert code_points(in_turn.results[trap])[0] == 0, trap
        got, most = code_points(in_turn.results[probe])
        assert got == most > 0, (probe, in_turn.results[probe])


CLEARED = (
    "files and IPC objects left for the next kernel",
    "message queues and keys left for the next kernel",
    "a process lying in wait for the next kernel",
    "folders nested past every limit, and /tmp full",
)
TAMPERED = ("the zygote's limits, priority and CPUs", "the zygote's I/O priority")


def test_every_trap_is_tested():
    assert set(CLEARED) | set(TAMPERED) == set(TRAPS)


def test_the_next_kernel_finds_nothing_of_the_last(in_turn):
    for name, trap, probe in in_turn.order:
        if name not in CLEARED:
            continue
        seen = eval(_printed(in_turn.root, probe, "PROBE"))  # a dict literal of plain values
        assert not [path for path in seen["found"] if "TRAP" in path], seen["found"]
        # its own connection file, a file again: not the folder a trap put in its place
        assert not [path for path in seen["found"] if "kernel-connection.json/" in path]
        assert seen["segments"] == 0
        assert seen["keys"] == []
        others = set(seen["processes"]) - {1, 2}
        assert len(others) == 1, seen["processes"]  # the kernel alone, beside init and zygote
        # The same sandbox, cleared, not a new one: the zygote is the one the trap saw.
        assert seen["zygote started"] == int(_printed(in_turn.root, trap, "STARTED")), name


def test_the_queue_and_keys_were_there_to_be_found(in_turn):
    """The trap worked: what the next kernel does not find, the trap's own kernel had."""
    (trap,) = [t for name, t, _ in in_turn.order if name.startswith("message queues")]
    page = in_turn.root / "autograded" / trap / ACTIVATION / f"{ACTIVATION}.ipynb"
    text = page.read_text()
    assert "TRAP-" in text.split("KEYS", 1)[1]  # /proc/keys listed the planted keys
    assert os.uname().machine != "x86_64" or text.split("KEYS", 1)[1].count("TRAP-") >= 2


def test_a_zygote_a_kernel_tampered_with_is_replaced(in_turn):
    for name, trap, probe in in_turn.order:
        if name not in TAMPERED:
            continue
        seen = eval(_printed(in_turn.root, probe, "PROBE"))
        assert seen["niceness"] == os.getpriority(os.PRIO_PROCESS, 0)
        assert seen["cpus"] == len(os.sched_getaffinity(0))
        assert seen["memory"] == 2 * 1024**3
        assert seen["zygote started"] != int(_printed(in_turn.root, trap, "STARTED")), name


def test_no_process_outlives_the_batch_in_turn(in_turn):
    assert sandboxes_left(in_turn.batch_folder) == []


def test_a_sandbox_for_each_kernel_grades_the_same(tmp_path, figureless_ipython_dir):
    """`make grade --fresh-kernels`: no zygote, a new sandbox for every kernel."""
    root = make_course(tmp_path / "fresh", [ACTIVATION], cell_timeout=CELL_TIMEOUT)
    course = Course.find(root)
    release(course, log=lambda *_: None)
    submit(root, "right", ACTIVATION, solved(root, ACTIVATION))
    nb = solved(root, ACTIVATION)
    replace_function(nb, "relu", WRONG_RELU + ATTACKS["writing where no size limit holds"][0])
    submit(root, "wrong", ACTIVATION, nb)
    results, batch_folder = grade_in_a_folder_of_its_own(
        course, "fresh", figureless_ipython_dir, workers=1, prefork=False
    )
    scores = {r.student: code_points(r) for r in results}
    assert scores["right"][0] == scores["right"][1] > 0
    assert scores["wrong"][0] == 0
    page = root / "feedback" / "wrong" / ACTIVATION / f"{ACTIVATION}.html"
    assert "OUTSIDE []" in page.read_text()
    assert sandboxes_left(batch_folder) == []
