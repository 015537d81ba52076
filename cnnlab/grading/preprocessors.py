"""The nbgrader preprocessors the course adds, named in ``nbgrader_config.py``.

* :class:`GuardedExecute` runs a submission like nbgrader's ``Execute``, but a
  kernel that dies (``os._exit``, a crash, out of memory) or stops answering
  (a loop that ignores the interrupt) no longer aborts the notebook: the cell
  where it happened and every later code cell get an error output, so they
  score 0, while the cells that ran before keep the grade they earned. Plain
  nbgrader gives up on the whole notebook instead and leaves its grades
  empty. It also puts back, before every test cell, whatever the learner's
  code replaced in the checks (:mod:`cnnlab.grading.guard`).
* :class:`HideHiddenTests` makes the HTML feedback safe to hand out. nbgrader's
  ``ClearHiddenTests`` removes the hidden region from a test cell's *source*,
  but the traceback of a failing test cell still quotes it (IPython prints the
  lines around the failing one). This removes the region from the source and
  every line of hidden code from the outputs, and drops the traceback frames
  that show the test cell's code.
* :class:`ClearWidgetState` drops saved ipywidgets state from the student
  version: it is large, stale, and can carry the source notebook's values.
* :class:`FeedbackHTMLExporter` is nbconvert's HTML exporter, made for one
  page per submission: templates compiled and shared cells highlighted once
  per process, and no second pass over the page with BeautifulSoup (together,
  about two thirds of the cost of a page).
"""

from __future__ import annotations

import ast
import re
import secrets

import jinja2
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Unicode

__all__ = [
    "GUARD_NOTE",
    "ClearWidgetState",
    "FeedbackHTMLExporter",
    "GuardedExecute",
    "HideHiddenTests",
    "hidden_lines",
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

#: How a test cell's output starts when the guard put back what the learner's code replaced.
GUARD_NOTE = "The grader put back what the code of this notebook had replaced:"


def _is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def _error(ename: str, evalue: str):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class GuardedExecute(Execute):
    """nbgrader's ``Execute`` that survives a dead or unresponsive kernel, and
    keeps the learner's code from replacing the checks.

    When the kernel dies while a cell runs, or does not come back after the
    per-cell timeout and an interrupt, that cell gets an error output and so
    does every later code cell, without running: they score 0. The cells
    before keep the outputs (and the grades) they earned.

    With ``guard_checks`` (on by default), :func:`cnnlab.grading.guard.install`
    runs in the kernel before the first cell, and before every test cell the
    grader puts back whatever the learner's code replaced in the checks,
    cnnlab, numpy or the builtins; the test cell then starts with a line
    saying what was put back (:data:`GUARD_NOTE`).
    """

    guard_checks = Bool(
        True, help="Put back the checks (and what they use) before every test cell."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._stopped_at = None  # why the kernel can no longer run cells
        self._guard = None  # the builtin name the guard's restore function has in the kernel
        return super().preprocess(nb, resources, km)

    def _run_quietly(self, code: str, expression: str | None = None):
        """Run code the notebook does not show; the repr of ``expression`` afterwards."""
        expressions = {"value": expression} if expression else {}
        reply = run_sync(self.kc.execute_interactive)(
            code,
            silent=True,
            store_history=False,
            user_expressions=expressions,
            allow_stdin=False,
            stop_on_error=False,
            timeout=self.timeout,
            output_hook=lambda msg: None,
        )
        content = reply["content"]
        if content["status"] != "ok":
            raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")
        if expression is None:
            return None
        value = content["user_expressions"]["value"]
        if value.get("status") != "ok":
            raise RuntimeError(f"{value.get('ename')}: {value.get('evalue')}")
        return value["data"]["text/plain"]

    def _put_back(self) -> list[str]:
        """Install the guard (before the first cell) or let it put back what changed."""
        if self._guard is None:
            self._guard = f"_cnnlab_guard_{secrets.token_hex(8)}"
            self._run_quietly(
                f"import cnnlab.grading.guard as _g\n_g.install({self._guard!r})\ndel _g"
            )
            return []
        try:
            changed = ast.literal_eval(self._run_quietly("", f"{self._guard}()"))
        except (RuntimeError, ValueError, SyntaxError) as error:
            return [f"the guard itself ({error})"]
        return changed if isinstance(changed, list) else ["the guard itself"]

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        if self._stopped_at is not None:
            cell.outputs = [_error("KernelNotRunning", f"not run: {self._stopped_at}")]
            return cell, self.resources
        try:
            changed = []
            if self.guard_checks and (self._guard is None or _is_test(cell)):
                changed = self._put_back()
            cell, resources = super().preprocess_cell(cell, resources, index)
            if changed:
                note = f"{GUARD_NOTE} {', '.join(changed)}.\n"
                cell.outputs.insert(0, new_output("stream", name="stdout", text=note))
            return cell, resources
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


# -------------------------------------------------------------------- feedback


def _split_hidden(source: str, begin: str, end: str) -> tuple[str, list[str]]:
    """The source without its hidden regions, and the lines they held (markers included)."""
    kept, hidden, inside = [], [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
        if inside:
            hidden.append(line)
        else:
            kept.append(line)
        if end in line:
            inside = False
    return "\n".join(kept), hidden


def hidden_lines(nb, begin="BEGIN HIDDEN TESTS", end="END HIDDEN TESTS") -> set[str]:
    """Every non-blank line of hidden test code in a notebook, stripped."""
    lines = set()
    for cell in nb.cells:
        for line in _split_hidden(cell.source, begin, end)[1]:
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
        hidden = hidden_lines(nb, begin, end)
        for cell in nb.cells:
            cell.source, removed = _split_hidden(cell.source, begin, end)
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
