"""Keep a slow, unused import out of the course's tools (grading and the tests).

When the package ``rfc3987-syntax`` is installed (JupyterLab's ``jupyter-events``
asks for it), importing ``jsonschema`` compiles an RFC 3987 grammar with lark:
2.5 to 4 seconds in every process that imports nbformat, nbclient or nbgrader.
That grammar only serves the ``"iri"`` format checks of jsonschema, which
nothing here uses: nbformat validates notebooks without format checks. Importing
this module before jsonschema makes jsonschema skip those two checks (it
already does so when the package is absent). ``cnnlab.grading`` imports it,
and pytest loads it as a plugin (``-p cnnlab._lean_imports`` in pyproject.toml).
"""

import sys

if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)
