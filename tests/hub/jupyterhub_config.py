"""JupyterHub configuration of `make test-hub` (read by tests/hub/round_trip.py's hub).

Everything here is what a real deployment of the course needs, except the
authenticator (DummyAuthenticator: a test has no passwords) and the ports,
which the driver picks and passes in CNNLAB_HUB_* variables with the users'
names and its own API token. Who owns what, and why, is in the README
("On JupyterHub").
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

ROOT = Path(os.environ["CNNLAB_HUB_ROOT"])  # venv/, exchange/, etc/, hub/ (the hub's own state)
VENV = ROOT / "venv"
INSTRUCTOR = os.environ["CNNLAB_HUB_INSTRUCTOR"]
LEARNERS = os.environ["CNNLAB_HUB_LEARNERS"].split(",")

# Everything on 127.0.0.1: the proxy (public and API side), the hub, every user's server.
c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ['CNNLAB_HUB_PORT']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['CNNLAB_HUB_INTERNAL_PORT']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['CNNLAB_HUB_PROXY_API_PORT']}"
# The Python port of configurable-http-proxy: no node.js on the machine.
c.ConfigurableHTTPProxy.command = [str(VENV / "bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(ROOT / "hub" / "proxy.pid")
c.Spawner.ip = "127.0.0.1"

c.JupyterHub.db_url = f"sqlite:///{ROOT / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(ROOT / "hub" / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server

c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {INSTRUCTOR, *LEARNERS}
c.Authenticator.admin_users = set()

# The driver acts as a service: it starts servers and makes each user a token, like a
# user logging in would. (JupyterHub refuses role names shorter than 3 characters.)
c.JupyterHub.services = [{"name": "cnnlab-test", "api_token": os.environ["CNNLAB_HUB_TOKEN"]}]
c.JupyterHub.load_roles = [
    {
        "name": "cnnlab-test",
        "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"],
        "services": ["cnnlab-test"],
    }
]

# Each user's server: LocalProcessSpawner, as that Linux user, from the hub's environment
# (built from a Python every user can run), with umask 077, so that whatever a server
# creates (submitted/, autograded/, feedback/, a learner's files) is its owner's alone.
# nbgrader still sets the exchange's own permissions explicitly.
c.Spawner.cmd = [
    "/bin/sh",
    "-c",
    'umask 077 && exec "$0" "$@"',
    str(VENV / "bin" / "jupyterhub-singleuser"),
]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def _config_path(spawner) -> str:
    """The nbgrader and Jupyter settings of a server: a learner's come first."""
    shared = str(ROOT / "etc" / "jupyter")
    if spawner.user.name == INSTRUCTOR:
        return shared
    return os.pathsep.join([str(ROOT / "etc" / "learner"), shared])


c.Spawner.environment = {
    "PATH": os.pathsep.join([str(VENV / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
    # The exchange, for nbgrader in every server and the instructor's course folder.
    "CNNLAB_EXCHANGE": str(ROOT / "exchange"),
    "JUPYTER_CONFIG_PATH": _config_path,
}
