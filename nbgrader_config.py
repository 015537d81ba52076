"""nbgrader configuration of the cnnlab course.

The source lessons (with solutions and hidden tests) live in notebooks/; the
folders nbgrader creates (release/, submitted/, autograded/, feedback/) and
the gradebook stay inside this folder and are never committed.
"""

import os
from pathlib import Path

from cnnlab.grading import settings

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

HERE = Path(__file__).resolve().parent

c.CourseDirectory.root = str(HERE)
c.CourseDirectory.course_id = "cnnlab"
c.CourseDirectory.source_directory = "notebooks"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = f"sqlite:///{HERE / 'gradebook.db'}"
# Only the lesson notebooks are assignments; data files the lessons write stay out.
c.CourseDirectory.notebook_id = "*"

# The exchange: on a JupyterHub, the one folder shared by every user's server, named by
# the hub in each server's environment (CNNLAB_EXCHANGE; see the README); otherwise
# exchange/ in this folder, never the system-wide /srv/nbgrader/exchange.
c.Exchange.root = os.environ.get("CNNLAB_EXCHANGE") or str(HERE / "exchange")

# Limits. A cell that runs longer than this is interrupted and its test counts as
# failed; `make grade` also stops a whole submission after --time-limit seconds
# (600 by default). A kernel is killed, not asked, once a notebook is done.
c.Execute.timeout = 120
c.Execute.shutdown_kernel = "immediate"
# At most this much output per cell is kept in the graded notebook and feedback.
c.LimitOutput.max_lines = 500
c.LimitOutput.max_traceback = 100

# The steps are nbgrader's own defaults with the course's put in by name
# (cnnlab/grading/settings.py), so they follow nbgrader's version:
# - release: saved widget state dropped, and the cells that raise while an exercise is
#   unfinished tagged raises-exception (Run All goes on past them);
# - autograde: SandboxedExecute for Execute: the kernel runs in a sandbox (make grade)
#   and the test cells are judged in the grader, outside it. A kernel that dies or
#   ignores the interrupt fails the cell it was in and every later one; plain nbgrader
#   would drop the whole notebook's grades instead.
c.GenerateAssignment.preprocessors = settings.release_preprocessors()
c.Autograde.autograde_preprocessors = settings.autograde_preprocessors()
# A test cell the learner deleted is put back (and run), not silently skipped.
c.OverwriteCells.add_missing_cells = True

# Feedback shows the learner's work and the visible tests, never the hidden ones:
# ClearHiddenTests alone leaves them in the tracebacks of failing test cells, so
# HideHiddenTests also removes every hidden line and test-cell frame from the outputs.
# (FeedbackHTMLExporter: the HTML exporter, compiling its templates once per grader process.)
c.GenerateFeedback.exporter_class = "cnnlab.grading.preprocessors.FeedbackHTMLExporter"
c.GenerateFeedback.preprocessors = settings.feedback_preprocessors()
