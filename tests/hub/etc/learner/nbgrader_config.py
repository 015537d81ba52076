"""nbgrader settings for a learner's server on the hub (before etc/jupyter/ on its path).

A submission is named after the hub's user, whatever the operating system's user is
(root, or one shared uid as in most containers): otherwise ``collect`` would keep one
submission per name and drop the others.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
