"""nbgrader settings for every user's server on the hub (on each server's JUPYTER_CONFIG_PATH).

A learner has no course folder, so nothing else tells their server where the exchange
is; the instructor's course folder reads the same variable (its nbgrader_config.py).
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.Exchange.root = os.environ["CNNLAB_EXCHANGE"]
