"""The nbgrader preprocessors the course adds, named in ``nbgrader_config.py``.

* :class:`SandboxedExecute` runs a submission like nbgrader's ``Execute``,
  with the kernel in a sandbox (:mod:`cnnlab.grading.sandbox`) and the test
  cells judged here, outside it (:mod:`cnnlab.grading.remote`); a kernel that
  dies or stops answering fails the cell where it happened and every later
  one, and the cells that ran before keep the grade they earned.
* :class:`HideHiddenTests` makes the HTML feedback safe to hand out. nbgrader's
  ``ClearHiddenTests`` removes the hidden region from a test cell's *source*,
  but the traceback of a failing test cell still quotes it (IPython prints the
  lines around the failing one). This removes the region from the source and
  every line of hidden code from the outputs, and drops the traceback frames
  that show the test cell's code.
* :class:`ClearWidgetState` drops saved ipywidgets state from the student
  version: it is large, stale, and can carry the source notebook's values.
* :class:`TagUnfinishedCells` tags the cells of the student version that
  raise while an exercise is unfinished, so that Run All reaches the end.
* :class:`FeedbackHTMLExporter` is nbconvert's HTML exporter, made for one
  page per submission: templates compiled and shared cells highlighted once
  per process, and no second pass over the page with BeautifulSoup (together,
  about two thirds of the cost of a page).
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

import jinja2
import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Integer, Unicode

from cnnlab.grading.markers import DEFAULT, Markers, split
from cnnlab.grading.prefork import empty_folder
from cnnlab.grading.remote import KernelLost, judge
from cnnlab.grading.sandbox import Sandbox

__all__ = [
    "ClearWidgetState",
    "FeedbackHTMLExporter",
    "HideHiddenTests",
    "SandboxedExecute",
    "TagUnfinishedCells",
    "hidden_lines",
    "learner_cells",
    "scrub_outputs",
]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# A code line quoted in a traceback: "      5 code", "----> 5 code" or "--> 5 code".
_QUOTED = re.compile(r"^\s*(?:-*>)?\s*\d+\s?(.*)$")
# A traceback frame inside the checks: their code is public, but it is noise in feedback.
_CHECKS_FRAME = re.compile(r"cnnlab[/\\]checks[/\\]")


def _cell_frame(count) -> re.Pattern:
    """The header IPython writes for a frame in the cell run as ``In[count]`` (any cell if None)."""
    n = r"\d+" if count is None else str(count)
    return re.compile(rf"Cell In\s*\[{n}\]|<ipython-input-{n}-|Input In\s*\[{n}\]")


# ------------------------------------------------------------------- execution


def _is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _is_solution(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def _error(ename: str, evalue: str):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def learner_cells(nb, release) -> list[tuple[str, bool]]:
    """Every cell's source as Python reads it, and whether the learner wrote it.

    The learner wrote the solution cells and every code cell that is not, as
    it stands, a cell of the student version (an added or edited cell).
    Markdown cells count as empty, so that "cell 14" is the 14th cell.
    """
    given = {
        cell.source
        for cell in (release.cells if release is not None else [])
        if cell.cell_type == "code" and not _is_solution(cell)
    }
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code" or _is_test(cell):
            cells.append(("", False))
        else:
            cells.append((cell.source, _is_solution(cell) or cell.source not in given))
    return cells


class _OneKernelSpec(KernelSpecManager):
    """A kernel spec manager that knows one spec: the sandboxed kernel of a submission."""

    def __init__(self, spec: KernelSpec, **kwargs):
        super().__init__(**kwargs)
        self._spec = spec

    def get_kernel_spec(self, kernel_name):
        return self._spec


class SandboxedExecute(Execute):
    """nbgrader's ``Execute`` for untrusted notebooks.

    * The kernel runs in a :class:`~cnnlab.grading.sandbox.Sandbox` (when
      ``sandbox`` is set), talking over Unix sockets in ``sockets``.
    * Test cells never run in the kernel: their checks run here, on the
      learner's functions in the kernel (:func:`cnnlab.grading.remote.judge`),
      with hidden cases drawn from ``seed``; the cell's outputs are what the
      checks printed, and the failure's message as an error. nbgrader scores
      the cell from those outputs, which only this process writes.
    * A kernel that dies (``os._exit``, a crash, out of memory) or stops
      answering (a loop that ignores the interrupt) no longer aborts the
      notebook: that cell and every later code cell get an error output and
      score 0; the cells before keep what they earned. Plain nbgrader gives up
      on the whole notebook and leaves its grades empty.
    """

    sandbox = Unicode("", help="The Sandbox of every kernel, as JSON (empty: none).").tag(
        config=True
    )
    sockets = Unicode("", help="A folder for the kernels' Unix sockets (empty: TCP).").tag(
        config=True
    )
    forked = Bool(
        True, help="Fork the kernels from a zygote in one sandbox per worker (Linux)."
    ).tag(config=True)
    seed = Integer(0, help="The seed of the hidden cases of the thorough checks.").tag(config=True)
    release_directory = Unicode("", help="Where the student versions are.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._stopped_at = None  # why the kernel can no longer run cells
        self._cells = learner_cells(nb, self._release(resources))
        return super().preprocess(nb, resources, km)

    def _release(self, resources):
        info = (resources or {}).get("nbgrader", {})
        if not self.release_directory or "assignment" not in info:
            return None
        path = Path(self.release_directory) / info["assignment"] / f"{info['notebook']}.ipynb"
        return nbformat.read(path, as_version=4) if path.exists() else None

    # the kernel ---------------------------------------------------------------------

    def create_kernel_manager(self):
        if not self.sandbox:
            return super().create_kernel_manager()
        spec = Sandbox.from_json(self.sandbox)
        spec.sockets = self.sockets  # bound into the sandbox; one folder per kernel in it
        for old in os.scandir(self.sockets):  # the last kernel's is done with
            # Its kernel could write there: no depth of folders may stop the removal.
            if old.is_dir(follow_symlinks=False):
                left = empty_folder(Path(old.path))
                with contextlib.suppress(OSError):
                    os.rmdir(old.path)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(old.path)
                left = []
            if left or os.path.lexists(old.path):
                self.log.warning("could not remove %s of the last kernel", left or old.path)
        folder = tempfile.mkdtemp(prefix="k", dir=self.sockets)
        if spec.uid is not None:
            os.chown(folder, spec.uid, spec.uid)
        kernel = KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3 (sandboxed)",
            language="python",
            interrupt_mode="message",  # a signal could not cross into the sandbox's session
            metadata={
                "kernel_provisioner": {
                    "provisioner_name": "cnnlab-sandbox",
                    "config": {"sandbox": spec.to_json(), "forked": self.forked},
                }
            },
        )
        self.km = AsyncKernelManager(
            kernel_name="python3",
            kernel_spec_manager=_OneKernelSpec(kernel),
            transport="ipc",
            ip=os.path.join(folder, "kernel"),
            config=self.config,
        )
        return self.km

    def _channel(self, code: str, name: str) -> str:
        """Run grader code in the kernel; the repr of ``name`` afterwards."""
        try:
            reply = run_sync(self.kc.execute_interactive)(
                code,
                silent=True,
                store_history=False,
                user_expressions={"value": name},
                allow_stdin=False,
                stop_on_error=False,
                timeout=self.timeout,
                output_hook=lambda msg: None,
            )
        except TimeoutError:
            self._interrupt()
            raise KernelLost(
                f"it ran past the {self.timeout} s limit on one of the check's cases and was "
                "interrupted"
            ) from None
        except Exception as error:  # the kernel died under us
            self._stopped_at = self._stopped_at or "the kernel died while it was being checked"
            raise KernelLost(f"the kernel died while it was being checked ({error})") from None
        content = reply["content"]
        if content.get("status") != "ok":
            ename = content.get("ename", "Error")
            raise KernelLost(f"the kernel refused the check's call ({ename})")
        value = content.get("user_expressions", {}).get("value", {})
        if value.get("status") != "ok":
            raise KernelLost(f"the kernel refused the check's call ({value.get('ename')})")
        return value["data"]["text/plain"]

    def _interrupt(self) -> None:
        """Interrupt the kernel; if it does not come back, it can run nothing more."""
        with contextlib.suppress(Exception):
            run_sync(self.km.interrupt_kernel)()
        try:
            run_sync(self.kc.execute_interactive)(
                "", silent=True, timeout=self.interrupt_timeout or 10, output_hook=lambda m: None
            )
        except Exception:
            self._stopped_at = "the kernel stopped answering while it was being checked"
            with contextlib.suppress(Exception):
                run_sync(self.km.shutdown_kernel)(now=True)

    # the cells ----------------------------------------------------------------------

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        if self._stopped_at is not None:
            cell.outputs = [_error("KernelNotRunning", f"not run: {self._stopped_at}")]
            return cell, self.resources
        if _is_test(cell):
            cell.outputs = self._judge(cell)
            cell.execution_count = None
            return cell, self.resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._stopped_at = f"the kernel died in cell {index}"
            why = (
                "The kernel died while this cell ran (os._exit, a crash, or out of memory). "
                "This cell and every later one count as failed."
            )
            cell.outputs.append(_error("DeadKernelError", why))
        except CellTimeoutError:
            self._stopped_at = f"the kernel stopped answering in cell {index}"
            why = (
                f"This cell ran past the {self.timeout} s limit and did not stop when "
                "interrupted. This cell and every later one count as failed."
            )
            cell.outputs.append(_error("KernelUnresponsiveError", why))
        self.log.warning("Cell %d: %s", index, self._stopped_at)
        return cell, self.resources

    def _judge(self, cell) -> list:
        """The outputs of a test cell, from the checks run here."""
        try:
            verdict = judge(cell.source, self._channel, self._cells, self.seed)
        except KernelLost as lost:
            return [_error("CheckInterrupted", f"The check could not finish: {lost}.")]
        except ValueError as error:  # the course's own test cell is not one the grader runs
            return [_error("GradingError", f"This test cell cannot be graded: {error}")]
        outputs = []
        if verdict.printed:
            text = "\n".join(verdict.printed) + "\n"
            outputs.append(new_output("stream", name="stdout", text=text))
        if verdict.failure is not None:
            outputs.append(_error("AssertionError", verdict.failure))
        return outputs


# -------------------------------------------------------------------- feedback


def hidden_lines(nb, markers: Markers = DEFAULT) -> set[str]:
    """Every non-blank line of hidden test code in a notebook, stripped."""
    lines = set()
    for cell in nb.cells:
        for line in split(cell.source, *markers.hidden)[1]:
            if line.strip():
                lines.add(line.strip())
    return lines


def _quotes_hidden(text: str, hidden: set[str]) -> bool:
    for line in _ANSI.sub("", text).split("\n"):
        quoted = _QUOTED.match(line)
        if line.strip() in hidden or (quoted and quoted.group(1).strip() in hidden):
            return True
    return False


def _without_hidden(text: str, hidden: set[str]) -> str:
    return "\n".join(line for line in text.split("\n") if not _quotes_hidden(line, hidden))


def scrub_outputs(outputs, hidden: set[str], *, test_cell: bool, count=None) -> list:
    """Outputs with no line of hidden code in them.

    In a traceback, a frame that quotes hidden code is dropped. In a test cell
    (one that held hidden tests, run as ``In[count]``) so are the frames of
    the cell itself (IPython shows a few lines around the failing one, which
    may be hidden ones) and those inside cnnlab's checks; the frames of the
    learner's own functions stay. The last entry, ``Error: message``, always
    stays: it is what the check says.
    """
    note = "(part of this test is hidden: its code is not shown)"
    own_frame = _cell_frame(count)
    clean = []
    for output in outputs:
        output = output.copy()
        if output.output_type == "stream":
            output.text = _without_hidden(output.text, hidden)
        elif output.output_type in ("execute_result", "display_data"):
            output.data = {
                mime: _without_hidden(value, hidden)
                if mime.startswith("text/") and isinstance(value, str)
                else value
                for mime, value in output.data.items()
            }
        elif output.output_type == "error":
            output.evalue = _without_hidden(output.evalue, hidden)
            *frames, last = output.traceback or [""]
            kept = []
            for frame in frames:
                plain = _ANSI.sub("", frame)
                if test_cell and _CHECKS_FRAME.search(plain):
                    continue
                if (test_cell and own_frame.search(plain)) or _quotes_hidden(frame, hidden):
                    if note not in kept:
                        kept.append(note)
                else:
                    kept.append(frame)
            output.traceback = [*kept, _without_hidden(last, hidden)]
        clean.append(output)
    return clean


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden tests from the sources *and* the outputs of a graded notebook."""

    begin_test_delimeter = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end_test_delimeter = Unicode("END HIDDEN TESTS").tag(config=True)

    def preprocess(self, nb, resources):
        begin, end = self.begin_test_delimeter, self.end_test_delimeter
        hidden = hidden_lines(nb, Markers(begin_hidden=begin, end_hidden=end))
        for cell in nb.cells:
            kept, removed = split(cell.source, begin, end)
            cell.source = "\n".join(kept)
            if cell.cell_type == "code":
                cell.outputs = scrub_outputs(
                    cell.outputs, hidden, test_cell=bool(removed), count=cell.execution_count
                )
        return nb, resources


# --------------------------------------------------------------------- release


class ClearWidgetState(NbGraderPreprocessor):
    """Drop saved widget state: the notebook's, each cell's, and widget views in outputs."""

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:
            cell.metadata.pop("widgets", None)
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
        return nb, resources


#: The cell tag with which JupyterLab's Run All and nbclient go on past an error.
RAISES = "raises-exception"


class TagUnfinishedCells(NbGraderPreprocessor):
    """Let Run All reach the end of a student version whose exercises are unfinished.

    A stub raises ``NotImplementedError``; so does every cell that calls it
    (the "try it" cells, the lesson's own cells that use the learner's
    function) and every test cell. Each of those gets the ``raises-exception``
    tag, which JupyterLab and nbclient honour: the error shows in place, and
    the next cell runs. The source lessons, whose solutions are filled in,
    stay untagged (nbval runs them as they are).
    """

    def preprocess(self, nb, resources):
        functions = set()
        for cell in nb.cells:
            if cell.cell_type == "code" and _is_solution(cell):
                functions |= _defined_functions(cell.source)
        for cell in nb.cells:
            if cell.cell_type != "code" or _is_solution(cell):
                continue
            if _is_test(cell) or _calls_any(cell.source, functions):
                tags = cell.metadata.setdefault("tags", [])
                if RAISES not in tags:
                    tags.append(RAISES)
        return nb, resources


def _parse(source: str):
    from cnnlab.checks._source import python_source

    try:
        return ast.parse(python_source(source))
    except SyntaxError:
        return None


def _defined_functions(source: str) -> set[str]:
    tree = _parse(source)
    if tree is None:
        return set()
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def _calls_any(source: str, names: set[str]) -> bool:
    """Whether the cell uses one of ``names`` as a plain name (not ``cnnlab.relu``)."""
    tree = _parse(source)
    return tree is not None and any(
        isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load)
        for node in ast.walk(tree)
    )


# --------------------------------------------------------------- feedback pages


class _MemoryBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates, kept for the life of the process (keyed by name and source)."""

    def __init__(self):
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self._store:
            bucket.bytecode_from_string(self._store[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES = _MemoryBytecodeCache()


#: An <img> tag with no alt attribute (base64 image data holds no ">").
_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)(?=[\s/>])", re.IGNORECASE)
_NO_ALT = 'alt="No description has been provided for this image"'
#: Highlighted code, by (source, language): most cells of a lesson are the same in
#: every submission, so a grader highlights each of them once.
_HIGHLIGHTED: dict[tuple, str] = {}


class _CachedHighlight:
    """nbconvert's ``highlight_code`` filter, remembering what it highlighted."""

    def __init__(self, highlight):
        self.highlight = highlight

    def __call__(self, source, language=None, metadata=None):
        magics = (metadata or {}).get("magics_language")
        key = (source, language, magics, getattr(self.highlight, "pygments_lexer", None))
        if key not in _HIGHLIGHTED:
            if len(_HIGHLIGHTED) > 20_000:
                _HIGHLIGHTED.clear()
            _HIGHLIGHTED[key] = self.highlight(source, language, metadata)
        return _HIGHLIGHTED[key]


class FeedbackHTMLExporter(HTMLExporter):
    """nbconvert's HTML exporter, made for writing one page per submission.

    * Its compiled templates outlive the exporter (nbgrader makes a new one per page).
    * A code cell's highlighting is computed once per process: the cells every
      submission shares are highlighted once for the whole class.
    * The page is not parsed again with BeautifulSoup, which ``HTMLExporter``
      does to add alt text to images and ``tabindex`` to JupyterLab-template
      cells: half the cost of a page. Alt text is added with a regular
      expression instead; the feedback template is the classic one, which has
      none of those JupyterLab cells.
    """

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _TEMPLATES
        return environment

    def from_notebook_node(self, nb, resources=None, **kw):
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        highlight = self.filters.get(
            "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
        )
        resources = self._init_resources(resources)
        data_types = WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources
        )
        self.register_filter("highlight_code", _CachedHighlight(highlight))
        self.register_filter("filter_data_type", data_types)
        page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return _IMG_WITHOUT_ALT.sub(f"<img {_NO_ALT}", page), resources
