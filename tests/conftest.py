"""Settings shared by the whole test suite.

* matplotlib draws off-screen (Agg), so tests that plot run on a machine with no display.
* hypothesis is deterministic: the same examples on every run and every machine
  (derandomized, and no example database carried over from earlier runs), so a
  red CI build can be reproduced locally; and no deadline, because a loaded
  2-core CI runner makes timings meaningless.
"""

import matplotlib

matplotlib.use("Agg")

from hypothesis import HealthCheck, settings

settings.register_profile(
    "cnnlab",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=50,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("cnnlab")
