"""``cnnlab._lean_imports`` hides one optional package from jsonschema; these
tests fail when jsonschema or nbformat change in a way that makes that unsafe.

STYLE 11: a speed-up that leans on an upstream detail is scoped and tested.
"""

import importlib.metadata
import json
import subprocess
import sys

import pytest

CHECKERS = """
import json, sys
{prelude}
import jsonschema
print(json.dumps(sorted(jsonschema.FormatChecker().checkers)))
"""


def _format_checkers(prelude):
    # a fresh interpreter, without pytest's plugin (which loads the module)
    out = subprocess.run(
        [sys.executable, "-c", CHECKERS.format(prelude=prelude)],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout))


def _installed(dist):
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(
    not _installed("rfc3987-syntax"),
    reason="rfc3987-syntax is not installed: there is nothing to hide",
)
def test_only_the_two_iri_format_checks_go_missing():
    plain = _format_checkers("")
    lean = _format_checkers("import cnnlab._lean_imports")
    assert lean <= plain
    assert plain - lean == {"iri", "iri-reference"}


def test_nbformat_validation_uses_no_format_checks(tmp_path):
    """nbformat validates without a format checker, so the two missing
    checks cannot change whether a notebook is valid."""
    from pathlib import Path

    import nbformat

    folder = Path(nbformat.__file__).parent / "v4"
    schemas = [json.loads(p.read_text()) for p in folder.glob("*.schema.json")]
    assert schemas

    def formats(node):
        if isinstance(node, dict):
            if isinstance(node.get("format"), str) and node.get("type") == "string":
                yield node["format"]
            for value in node.values():
                yield from formats(value)
        elif isinstance(node, list):
            for value in node:
                yield from formats(value)

    for schema in schemas:
        assert not {"iri", "iri-reference"} & set(formats(schema))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nbformat.validate(nb)


def test_does_nothing_once_jsonschema_is_imported():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, jsonschema, cnnlab._lean_imports\n"
            "print(sys.modules.get('rfc3987_syntax', 'absent') is None)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"
