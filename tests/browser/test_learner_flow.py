"""The learner's flow in a real browser: `make lab`, Run All, the explorers, an exercise, selfgrade.

    make test-browser

Playwright drives Debian's ``chromium`` (``CHROMIUM=/path`` for another
Chrome or Chromium; ``playwright install`` would download a browser from
outside the package registries, which CI cannot reach). One ``make lab``, with
a fixed token, serves a fresh working copy in a scratch folder: the real
``work/`` is never opened. Each lesson opens in a JupyterLab workspace of its
own, so no tab of an earlier lesson is restored next to it. Cells are found
by what they contain, never by their position.

Checked, as a learner would see it:

* lessons 00, 02, 03 and 09: Run All reaches the last code cell, the stubs of
  the unfinished exercises notwithstanding, and every cell that draws shows a
  loaded picture;
* lessons 02 and 03: the explorer renders as controls (not ``VBox(...)``),
  and moving a slider, choosing in a dropdown (a toggle button in lesson 3)
  redraws its picture;
* lesson 09: the training cell shows a progress bar that reaches 100 %;
* lesson 03: a wrong ``relu`` typed into the stub gets the mistake named and no
  checker traceback; the right one passes; the saved notebook gets every
  check point from ``make selfgrade LESSON=03``;
* the browser console shows no error on any page.

Screenshots go to ``browser-screenshots/`` (git-ignored; CI keeps it).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("playwright", reason="make test-browser installs it (the browser extra)")
from playwright.sync_api import Locator, Page, expect

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "browser-screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: Chromium as root needs --no-sandbox; the others keep it from reaching out to
#: Google's services (updates, sync, field trials), which a closed CI network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The longest a lesson's Run All may take (lesson 9 trains for about 15 s on an idle machine).
RUN_ALL_SECONDS = 240
#: A cell that draws a figure: the course's viz helpers, or matplotlib directly.
DRAWS = re.compile(r"\bviz\.(show|compare|plot)\w*\(|\bplt\.subplots\(|\.imshow\(")

# A page waits for the kernel, which on a loaded 2-core machine can take a while.
expect.set_options(timeout=60_000)


# ------------------------------------------------------------------ JupyterLab


@dataclass(frozen=True)
class Lab:
    """A running `make lab` on a scratch working copy."""

    url: str
    token: str
    work: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    """`make lab PORT=... TOKEN=... WORK=<scratch>`, stopped (with its kernels) at the end."""
    scratch = tmp_path_factory.mktemp("learner")
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # not a sub-make
    env.update(
        # JupyterLab would try to open a browser of its own: `true` is a browser that does nothing.
        BROWSER="true",
        # The learner's own JupyterLab settings, workspaces and runtime files stay untouched.
        JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
    )
    log_path = scratch / "make-lab.log"
    command = ["make", "--no-print-directory", "lab", f"PORT={port}", f"TOKEN={token}"]
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [*command, f"WORK={scratch / 'work'}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make and jupyter in a group of their own, stopped together
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a fresh clone releases the lessons first
        while not _answers(f"{url}/api/status?token={token}"):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make lab did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield Lab(url, token, scratch / "work")
    finally:
        # SIGTERM: jupyter shuts its kernels down before it exits.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Debian's chromium, headless, with a profile of its own."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no browser at {CHROMIUM}: apt-get install chromium (or set CHROMIUM=...)")
    SHOTS.mkdir(exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(60_000)
        yield context
        context.close()


@dataclass
class Console:
    """Every error the page logs to its console, and every uncaught exception."""

    errors: list[str] = field(default_factory=list)

    def listen(self, page: Page) -> None:
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _message(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.errors.append(f"{message.text} ({where})")


@dataclass
class Reply:
    """An execute_reply, as the kernel sent it to the page."""

    status: str  # ok, error, or aborted (a request queued after an error that stops the run)
    execution_count: int | None


class KernelMessages:
    """The execute requests the page sends its kernel, and the replies it gets.

    Run All sends one execute_request per code cell at once; the kernel answers
    each in turn (``aborted`` for those it skips after an error that stops the
    run), so when every request has its reply, the run is over.
    """

    def __init__(self, page: Page):
        self.page = page
        self.socket = None
        self.requests = 0
        self.replies: list[Reply] = []
        page.on("websocket", self._connected)

    def _connected(self, socket) -> None:
        if "/api/kernels/" in socket.url:
            self.socket = socket
            socket.on("framesent", self._sent)
            socket.on("framereceived", self._received)

    def _sent(self, payload) -> None:
        channel, header, _ = _kernel_message(payload)
        if channel == "shell" and header.get("msg_type") == "execute_request":
            self.requests += 1

    def _received(self, payload) -> None:
        channel, header, content = _kernel_message(payload)
        if channel == "shell" and header.get("msg_type") == "execute_reply":
            self.replies.append(Reply(content.get("status"), content.get("execution_count")))

    def start_counting(self) -> None:
        self.requests, self.replies = 0, []

    def wait_for_replies(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.requests or len(self.replies) < self.requests:
            left = deadline - time.monotonic()
            assert left > 0 and self.socket, (
                f"{self.requests} cells sent to the kernel, {len(self.replies)} answered "
                f"after {seconds} s"
            )
            self.socket.wait_for_event("framereceived", timeout=left * 1000)


def _kernel_message(payload: str | bytes) -> tuple[str, dict, dict]:
    """Channel, header and content of a message on a kernel's websocket.

    Jupyter Server speaks either JSON text, or its binary v1 protocol: a count
    of offsets, the offsets (little-endian uint64), then the channel, header,
    parent header, metadata, content and buffers at those offsets.
    """
    if isinstance(payload, str):
        message = json.loads(payload)
        return message.get("channel", ""), message.get("header", {}), message.get("content", {})
    count = int.from_bytes(payload[:8], "little")
    offsets = [int.from_bytes(payload[8 * i : 8 * i + 8], "little") for i in range(1, count + 1)]
    parts = [payload[a:b] for a, b in zip(offsets, [*offsets[1:], len(payload)], strict=True)]
    if len(parts) < 5:
        return "", {}, {}
    return parts[0].decode(), json.loads(parts[1]), json.loads(parts[4])


class Notebook:
    """One lesson of the working copy, open in JupyterLab in a workspace of its own."""

    def __init__(self, browser, lab: Lab, lesson: str):
        self.lesson = lesson
        self.path = lab.work / lesson / f"{lesson}.ipynb"
        self.console = Console()
        self.page = browser.new_page()
        self.console.listen(self.page)
        self.kernel = KernelMessages(self.page)
        self.page.goto(
            f"{lab.url}/lab/workspaces/{lesson}/tree/{lesson}/{lesson}.ipynb?token={lab.token}"
        )
        # Every cell is on the page (JupyterLab attaches them while it loads) ...
        cells = len(json.loads(self.path.read_text())["cells"])
        expect(self.page.locator(".jp-Notebook .jp-Cell")).to_have_count(cells)
        # ... and the kernel has started: Run All before that is silently lost.
        self.kernel_status = self.page.locator(".jp-StatusBar-TextItem[title^='Change kernel']")
        expect(self.kernel_status).to_have_text(re.compile(r"Idle$"))

    # cells ---------------------------------------------------------------------

    def cell(self, text: str) -> Locator:
        """The one code cell whose source contains ``text``."""
        cells = self.page.locator(".jp-CodeCell").filter(
            has=self.page.locator(".jp-InputArea-editor", has_text=text)
        )
        expect(cells, f"exactly one code cell of {self.lesson} has {text!r}").to_have_count(1)
        return cells

    def source_on_disk(self, text: str) -> str:
        """The source, as saved, of the one code cell that contains ``text``."""
        sources = [c for c in self._sources_on_disk() if text in c]
        assert len(sources) == 1, f"{len(sources)} code cells of {self.path} have {text!r}"
        return sources[0]

    def _sources_on_disk(self) -> list[str]:
        cells = json.loads(self.path.read_text())["cells"]
        return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]

    def code_cells(self) -> list[dict]:
        """Source, prompt, output text, error shown, pictures: one dict per code cell.

        The sources are read from the file (CodeMirror draws only the lines near
        the screen); the rest from the page, where the cells are in the same order.
        """
        shown = self.page.eval_on_selector_all(
            ".jp-Notebook .jp-CodeCell",
            """cells => cells.map(cell => ({
                prompt: cell.querySelector('.jp-InputPrompt').textContent.trim(),
                output: cell.querySelector('.jp-Cell-outputArea').textContent,
                error: [...cell.querySelectorAll('[data-mime-type$="stderr"]')]
                    .some(e => /Error|Exception/.test(e.textContent)),
                images: [...cell.querySelectorAll('.jp-Cell-outputArea img')].map(img => ({
                    loaded: img.complete && img.naturalWidth > 0,
                    width: img.naturalWidth,
                    height: img.naturalHeight,
                })),
            }))""",
        )
        sources = self._sources_on_disk()
        assert len(shown) == len(sources), f"{len(shown)} code cells shown, {len(sources)} saved"
        return [{"source": source, **cell} for source, cell in zip(sources, shown, strict=True)]

    def last_code_cell(self) -> Locator:
        return self.page.locator(".jp-Notebook .jp-CodeCell").last

    @staticmethod
    def prompt(cell: Locator) -> str:
        return cell.locator(".jp-InputPrompt").text_content().strip()

    # running -------------------------------------------------------------------

    def run_all(self) -> list[dict]:
        """Run → Run All Cells, as a learner does; wait until the kernel has answered every cell."""
        self.kernel.start_counting()
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
        # Not the [*] prompts: once a cell tagged raises-exception has raised, JupyterLab
        # takes the [*] off the cells after it, though the kernel still runs them.
        self.kernel.wait_for_replies(RUN_ALL_SECONDS)
        expect(self.kernel_status).to_have_text(re.compile(r"Idle$"))
        return self.code_cells()

    def run(self, cell: Locator) -> str:
        """Run one cell (click into it, Shift+Enter); its output text."""
        before = self.prompt(cell)
        cell.locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Shift+Enter")
        expect(cell.locator(".jp-InputPrompt")).not_to_have_text(before)
        expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"^\[\d+\]:$"))
        return cell.locator(".jp-Cell-outputArea").text_content()

    def type_into(self, cell: Locator, source: str) -> None:
        """Replace the cell's source as a learner would: click, select all, type."""
        cell.locator(".jp-InputArea-editor .cm-content").click()
        self.page.keyboard.press("ControlOrMeta+a")
        # insert_text: CodeMirror's auto-indent would indent typed lines a second time.
        self.page.keyboard.insert_text(source)
        self.page.keyboard.press("Escape")  # back to command mode, the cell still selected

    def save(self) -> None:
        self.page.keyboard.press("ControlOrMeta+s")
        expect(self.page.locator(".jp-mod-current.jp-mod-dirty")).to_have_count(0)

    # pictures ------------------------------------------------------------------

    def shot(self, name: str, target: Locator | None = None) -> Path:
        """A screenshot of the page, or of one element, into browser-screenshots/."""
        path = SHOTS / f"{self.lesson[:2]}-{name}.png"
        if target is None:
            self.page.screenshot(path=path)
        else:
            # Scroll first and let the cells around settle: JupyterLab lays out cells
            # (content-visibility) as they come into view, which moves the target.
            target.scroll_into_view_if_needed()
            self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
            target.scroll_into_view_if_needed()
            target.screenshot(path=path)
        return path

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def open_lesson(browser, lab):
    """Open lessons; at the end, the browser console must have logged no error."""
    opened: list[Notebook] = []

    def open_(lesson: str) -> Notebook:
        notebook = Notebook(browser, lab, lesson)
        opened.append(notebook)
        return notebook

    yield open_
    for notebook in opened:
        notebook.close()
        assert notebook.console.errors == [], f"{notebook.lesson}: errors in the browser console"


# ----------------------------------------------------------------- assertions


def assert_ran_to_the_end(nb: Notebook, cells: list[dict]) -> None:
    """Every code cell ran, in order; none was skipped by the kernel after an error."""
    lesson = nb.lesson
    skipped = [r for r in nb.kernel.replies if r.status == "aborted"]
    code = [c for c in cells if c["source"].strip()]
    assert code, f"{lesson}: no code cell found"
    ran = [bool(re.fullmatch(r"\[\d+\]:", c["prompt"])) for c in code]
    if not all(ran):
        stop = ran.index(False)
        seen = "\n".join(
            f"{c['prompt']:>6} {c['source'].splitlines()[0][:50]!r}: {c['output'][-300:]!r}"
            for c in code[max(stop - 3, 0) : stop + 1]
        )
        pytest.fail(f"{lesson}: Run All stopped before the end; the cells up to where:\n{seen}")
    assert not skipped, f"{lesson}: the kernel skipped {len(skipped)} cells after an error"
    counts = [int(c["prompt"][1:-2]) for c in code]
    assert counts == sorted(counts), f"{lesson}: cells ran out of order: {counts}"


def assert_figures_render(lesson: str, cells: list[dict]) -> None:
    drawing = [c for c in cells if DRAWS.search(c["source"]) and not c["error"]]
    assert drawing, f"{lesson}: no cell that draws"
    for c in drawing:
        assert c["images"], f"{lesson}: no picture under {c['source'].splitlines()[0]!r}"
    for c in cells:
        for image in c["images"]:
            assert image["loaded"], f"{lesson}: a picture did not load: {c['source'][:60]!r}"
            assert image["width"] > 50 and image["height"] > 50, f"{lesson}: {image}"


def run_all_to_the_end(nb: Notebook) -> None:
    """Run All: every code cell runs, in order, every figure renders; the last cell shot."""
    cells = nb.run_all()
    assert_ran_to_the_end(nb, cells)
    assert_figures_render(nb.lesson, cells)
    nb.shot("last-cell", nb.last_code_cell())


def figure(explorer: Locator) -> Locator:
    """The picture an explorer draws (a PNG in an ipywidgets Output)."""
    return explorer.locator(".widget-output img")


def assert_renders_as_controls(lesson: str, cell: Locator) -> Locator:
    output = cell.locator(".jp-Cell-outputArea")
    explorer = output.locator(".jupyter-widgets.widget-vbox").first
    expect(explorer, f"{lesson}: the explorer shows no widget").to_be_visible()
    text = output.text_content()
    assert "VBox(" not in text, f"{lesson}: the explorer shows as text: {text[:200]!r}"
    assert "Error displaying widget" not in text, text
    expect(explorer.locator(".widget-slider").first).to_be_visible()
    expect(figure(explorer)).to_have_count(1)
    return explorer


def changes_picture(explorer: Locator, action) -> None:
    """``action()`` must redraw the explorer's picture."""
    before = figure(explorer).get_attribute("src")
    action()
    expect(figure(explorer)).not_to_have_attribute("src", before)


def slider(explorer: Locator, label: str) -> Locator:
    return explorer.locator(".widget-slider").filter(
        has=explorer.page.locator(".widget-label", has_text=re.compile(f"^{label}$"))
    )


# ----------------------------------------------------------------------- tests


def test_the_console_listener_hears_errors(browser):
    """The check on the console can fail: an error logged or thrown by a page is caught."""
    page = browser.new_page()
    console = Console()
    console.listen(page)
    with page.expect_event("pageerror"), page.expect_console_message(lambda m: m.type == "error"):
        page.set_content("<script>console.error('logged')</script><script>throw 1</script>")
    page.close()
    assert len(console.errors) == 2 and "logged" in console.errors[0], console.errors


def test_lesson_00_runs_to_the_end_with_its_figures(open_lesson):
    nb = open_lesson("00-images")
    run_all_to_the_end(nb)
    nb.shot("channels", nb.cell("viz.show_channels(photo)"))


def test_lesson_02_the_convolution_explorer_reacts(open_lesson):
    nb = open_lesson("02-convolution")
    run_all_to_the_end(nb)

    explorer = assert_renders_as_controls(nb.lesson, nb.cell("widgets.convolution_explorer()"))
    nb.shot("explorer-before", explorer)
    stride = slider(explorer, "stride")

    def stride_2():
        stride.locator(".noUi-handle").press("ArrowRight")  # the keyboard moves a slider too
        expect(stride.locator(".widget-readout")).to_have_text("2")

    changes_picture(explorer, stride_2)
    kernel = explorer.locator(".widget-dropdown").filter(has_text="kernel").locator("select")
    changes_picture(explorer, lambda: kernel.select_option(label="box blur"))
    expect(explorer).to_contain_text("// 2 + 1 = 31 rows")  # its numbers follow the slider too
    nb.shot("explorer-after", explorer)


def test_lesson_03_relu_feedback_explorer_and_selfgrade(open_lesson, lab):
    nb = open_lesson("03-activation")
    run_all_to_the_end(nb)

    explorer = assert_renders_as_controls(nb.lesson, nb.cell("widgets.activation_explorer()"))
    bias = slider(explorer, "bias")
    changes_picture(explorer, lambda: bias.locator(".noUi-handle").press("End"))
    function = explorer.locator(".widget-toggle-buttons button", has_text="leaky ReLU")
    changes_picture(explorer, function.click)
    nb.shot("explorer", explorer)

    stub, test = nb.cell("def relu("), nb.cell("check_relu(relu)")
    source = nb.source_on_disk("def relu(")
    assert "raise NotImplementedError" in source, source

    # A wrong answer: the check names the mistake, and shows the learner's line, not its own.
    nb.type_into(stub, source.replace("raise NotImplementedError()", "return np.abs(x)"))
    nb.run(stub)
    said = nb.run(test)
    assert "Likely mistake: absolute value instead of clamping" in said, said
    assert "check_relu(relu)" in said, said
    for noise in ("Traceback", "cnnlab/checks", "_core.py", 'File "'):
        assert noise not in said, f"the checker's traceback shows ({noise!r}):\n{said}"
    nb.shot("relu-wrong", test)

    nb.type_into(stub, source.replace("raise NotImplementedError()", "return np.maximum(x, 0)"))
    nb.run(stub)
    said = nb.run(test)
    assert re.search(r"relu: (\d+)/\1 checks passed", said), said
    nb.shot("relu-right", test)

    nb.save()
    saved = json.loads(nb.path.read_text())
    assert any("np.maximum(x, 0)" in "".join(c["source"]) for c in saved["cells"])

    grade = subprocess.run(
        ["make", "--no-print-directory", "selfgrade", "LESSON=03", f"WORK={lab.work}"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = grade.stdout + grade.stderr
    assert grade.returncode == 0, report
    exercises = re.findall(r"^\s+(\d+)/(\d+)\s+(Exercise .*?): (.*)$", report, re.M)
    checked = [e for e in exercises if "graded by a person" not in e[3]]
    assert checked, f"no exercise graded by its checks:\n{report}"
    for score, points, label, outcome in checked:
        assert (score, outcome) == (points, "passed"), f"{label}: {score}/{points}\n{report}"


def test_lesson_09_shows_a_training_progress_bar(open_lesson):
    nb = open_lesson("09-training")
    run_all_to_the_end(nb)

    training = nb.cell("history = nn.fit(")
    bar = training.locator(".jupyter-widgets.widget-hprogress")
    expect(bar, "no progress bar under nn.fit").to_be_visible()
    assert "HBox(" not in training.locator(".jp-Cell-outputArea").text_content()
    expect(bar.locator(".progress-bar")).to_have_attribute("style", re.compile(r"width: 100%"))
    expect(training.locator(".widget-html-content").last).to_contain_text("batch/s")
    nb.shot("progress-bar", training)
