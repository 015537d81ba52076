"""nbgrader configuration of the cnnlab course.

The source lessons (with solutions and hidden tests) live in notebooks/; the
folders nbgrader creates (release/, submitted/, autograded/, feedback/) and
the gradebook stay inside this folder and are never committed.
"""

from pathlib import Path

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

# The exchange (for JupyterHub deployments) lives in the course folder, never in
# the system-wide /srv/nbgrader/exchange.
c.Exchange.root = str(HERE / "exchange")

# A cell that runs longer than this is stopped and its test counts as failed.
c.Execute.timeout = 120

# Feedback shows the learner's work and the visible tests, never the hidden ones.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
