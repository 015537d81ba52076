"""The grading workflow of the course, on top of nbgrader.

* :func:`release` makes the student version of every lesson (``release/``)
  and checks it gives nothing away; :func:`make_working_copy` copies it once
  into a learner's ``work/`` folder.
* :func:`grade` autogrades every ``submitted/<student>/<lesson>/`` on a pool
  of worker processes (nbgrader's own autograde is serial), each submission
  in a scratch course with its own copy of the gradebook and within a
  wall-clock limit; then records the grades, writes the HTML feedback (with
  no hidden test in it) and reports a score table and ``grades.csv``.
* :func:`selfgrade` does the same for a learner's own working copy.

From the command line: ``python -m cnnlab.grading release|workcopy|grade|selfgrade|feedback``
(see ``--help``), or the Makefile targets ``release``, ``lab``, ``grade`` and
``selfgrade``. The modules: :mod:`~cnnlab.grading.course` (folders, release,
working copy), :mod:`~cnnlab.grading.preprocessors` (what nbgrader_config.py
adds to nbgrader), :mod:`~cnnlab.grading.worker` (one submission),
:mod:`~cnnlab.grading.pool` (the processes), :mod:`~cnnlab.grading.sandbox`
(each kernel in a sandbox of its own), :mod:`~cnnlab.grading.remote` (test
cells judged outside the kernel), :mod:`~cnnlab.grading.prefork` (unsandboxed
kernels forked from a warm process), :mod:`~cnnlab.grading.batch` (the class,
the gradebook, the reports).
"""

import importlib

from cnnlab import _lean_imports  # noqa: F401 - before anything imports jsonschema

#: Where each public name lives; imported on first use, so that importing one
#: module (the preprocessors nbgrader loads, the pool a worker runs) stays light.
_HOMES = {
    "grade": "batch",
    "score_table": "batch",
    "self_report": "batch",
    "selfgrade": "batch",
    "write_csv": "batch",
    "Course": "course",
    "GradingError": "course",
    "make_working_copy": "course",
    "release": "course",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"cnnlab.grading.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'cnnlab.grading' has no attribute {name!r}")
