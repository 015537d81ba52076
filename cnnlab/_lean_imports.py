"""Keep a slow, unused import out of the course's tools (grading and the tests).

When the package ``rfc3987-syntax`` is installed (JupyterLab's ``jupyter-events``
asks for it), importing ``jsonschema`` compiles an RFC 3987 grammar with lark:
in every process that imports nbformat, nbclient or nbgrader. ``python -c
"import nbformat"`` takes 1.0-1.1 s with it and 0.2 s without (quiet machine,
2 cores; 2.5-4 s under load).
That grammar only serves the ``"iri"`` format checks of jsonschema, which
nothing here uses: nbformat validates notebooks without format checks. Importing
this module before jsonschema makes jsonschema skip those two checks (it
already does so when the package is absent). ``cnnlab.grading`` imports it,
and pytest loads it as a plugin (``-p cnnlab._lean_imports`` in pyproject.toml).
``tests/test_lean_imports.py`` fails if upstream changes make this unsafe.
"""

import sys

if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)
