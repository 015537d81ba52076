"""FeedbackHTMLExporter: nbconvert's HTML page, made faster, and tied to the nbconvert it copies.

Its ``from_notebook_node`` is nbconvert's ``HTMLExporter.from_notebook_node``
without the second parse of the whole page (BeautifulSoup), whose two jobs it
does otherwise (alt text on images by a regular expression; the tabindex of
JupyterLab-template cells, which the feedback template does not have). The
first test fails when nbconvert changes that method, so that the copy is
read again; the second shows the page says the same as nbconvert's.
"""

import hashlib
import html
import inspect
import re

import nbformat
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cnnlab.grading.preprocessors import FeedbackHTMLExporter

#: sha256 of nbconvert 7.17.2's HTMLExporter.from_notebook_node, which the exporter copies.
COPIED = "3dccafff45cc4e749766089c7de2f5385ac071e03f4f5a15bfb3b025f54893b9"

PIXEL = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
    "awAAAABJRU5ErkJggg=="
)


def test_the_copied_method_is_the_one_nbconvert_has():
    source = inspect.getsource(HTMLExporter.from_notebook_node)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == COPIED, (
        "nbconvert's HTMLExporter.from_notebook_node changed: read it again, bring "
        "FeedbackHTMLExporter.from_notebook_node in line, then record the new digest here"
    )


def text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_page_says_what_nbconverts_page_says():
    nb = new_notebook(
        cells=[
            new_markdown_cell("# A lesson\n\nSome *text* & a formula $x^2$."),
            new_code_cell(
                "print('relu: 6/6 checks passed')\nx = 1 < 2",
                outputs=[
                    new_output("stream", name="stdout", text="relu: 6/6 checks passed\n"),
                    new_output("display_data", data={"image/png": PIXEL, "text/plain": "fig"}),
                ],
                execution_count=3,
            ),
        ],
        metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}},
    )
    nbformat.validate(nb)
    theirs, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    ours, _ = FeedbackHTMLExporter(template_name="classic").from_notebook_node(nb)
    assert text(ours) == text(theirs)
    assert "relu: 6/6 checks passed" in text(ours)
    images = re.findall(r"<img\b[^>]*>", ours)
    assert images and all("alt=" in image for image in images)
