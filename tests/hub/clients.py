"""Talking to the hub, to a user's server and to a kernel in it, as a browser would.

:class:`Hub` is JupyterHub's REST API (as the test's service); :class:`Server`
is one user's single-user server behind the proxy, with a token of that user's
(the contents API, nbgrader's ``assignments`` endpoints); :class:`Kernel` runs
code in a kernel of that server over its websocket, the channel JupyterLab uses.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import requests
import websocket

#: The line a kernel prints before the JSON it hands back.
RESULT = "CNNLAB-RESULT "


class HubError(RuntimeError):
    """The hub or a server did not do what was asked."""


def _checked(response: requests.Response, *expected: int) -> requests.Response:
    if response.status_code not in expected:
        raise HubError(
            f"{response.request.method} {response.url}: HTTP {response.status_code} "
            f"(expected {', '.join(map(str, expected))}): {response.text[:500]}"
        )
    return response


@dataclass
class Hub:
    """JupyterHub's REST API at ``url`` (``http://127.0.0.1:PORT``), with a service token."""

    url: str
    token: str
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self):
        self.session.headers["Authorization"] = f"token {self.token}"

    def api(self, method: str, path: str, *expected: int, **kwargs) -> requests.Response:
        response = self.session.request(method, f"{self.url}/hub/api/{path}", timeout=60, **kwargs)
        return _checked(response, *expected)

    def wait_up(self, alive, timeout: float = 90.0) -> None:
        """Wait until the hub answers (``alive()`` says whether its process still runs)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive():
                raise HubError("the hub stopped while starting (see its log)")
            try:
                if self.session.get(f"{self.url}/hub/api/", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.25)
        raise HubError(f"the hub did not answer at {self.url} within {timeout:g} s")

    def start_server(self, name: str) -> None:
        self.api("POST", f"users/{name}/server", 201, 202)

    def wait_ready(self, name: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", f"users/{name}", 200).json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return
            if not model.get("pending") and not server:
                raise HubError(f"the server of {name} failed to start (see the hub's log)")
            time.sleep(0.25)
        raise HubError(f"the server of {name} was not ready within {timeout:g} s")

    def token_for(self, name: str) -> str:
        """A new API token of user ``name`` (with that user's rights, as after logging in)."""
        body = {"note": "make test-hub", "expires_in": 900}
        return self.api("POST", f"users/{name}/tokens", 201, json=body).json()["token"]

    def stop_server(self, name: str) -> None:
        self.api("DELETE", f"users/{name}/server", 202, 204)


@dataclass
class Server:
    """User ``name``'s server behind the hub's proxy, used with that user's token."""

    hub_url: str
    name: str
    token: str
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self):
        self.session.headers["Authorization"] = f"token {self.token}"
        self.base = f"{self.hub_url}/user/{self.name}/"

    def request(self, method: str, path: str, *expected: int, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 120)
        response = self.session.request(method, self.base + path, **kwargs)
        return _checked(response, *expected) if expected else response

    # The endpoints of nbgrader's assignment_list server extension, as JupyterLab's
    # Assignments tab calls them (JSON bodies). They answer 200 and often "success" even
    # when nothing happened: callers check the files instead.
    def assignments(self, course: str) -> list[dict]:
        reply = self.request("GET", f"assignments?course_id={course}", 200).json()
        if not reply.get("success"):
            raise HubError(f"{self.name}: listing the assignments failed: {reply.get('value')}")
        return reply["value"]

    def courses(self) -> list[str]:
        reply = self.request("GET", "courses", 200).json()
        if not reply.get("success"):
            raise HubError(f"{self.name}: listing the courses failed: {reply.get('value')}")
        return reply["value"]

    def assignment_action(self, action: str, course: str, lesson: str) -> dict:
        body = {"course_id": course, "assignment_id": lesson}
        return self.request("POST", f"assignments/{action}", 200, json=body).json()

    # The contents API, as JupyterLab opens and saves files.
    def contents(self, path: str, *, format: str | None = None) -> dict | None:
        """The contents model of ``path``, or None if it does not exist."""
        query = f"?format={format}" if format else ""
        response = self.request("GET", f"api/contents/{path}{query}")
        if response.status_code == 404:
            return None
        return _checked(response, 200).json()

    def save_notebook(self, path: str, notebook: dict) -> None:
        body = {"type": "notebook", "format": "json", "content": notebook}
        self.request("PUT", f"api/contents/{path}", 200, 201, json=body)

    def create_checkpoint(self, path: str) -> None:
        self.request("POST", f"api/contents/{path}/checkpoints", 201)

    def kernel(self) -> Kernel:
        model = self.request("POST", "api/kernels", 201, json={"name": "python3"}).json()
        return Kernel(self, model["id"])


class Kernel:
    """A kernel of a user's server, driven over its websocket (Jupyter's JSON protocol)."""

    def __init__(self, server: Server, kernel_id: str):
        self.server, self.id = server, kernel_id
        self.session_id = uuid.uuid4().hex
        url = server.base.replace("http://", "ws://", 1)
        self.socket = websocket.create_connection(
            f"{url}api/kernels/{kernel_id}/channels?session_id={self.session_id}",
            header=[f"Authorization: token {server.token}"],
            timeout=600,
        )

    def execute(self, code: str, timeout: float = 600.0) -> str:
        """Run ``code``; return what it printed. Raise if it raised."""
        msg_id = uuid.uuid4().hex
        self.socket.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": self.server.name,
                        "session": self.session_id,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        printed, error, replied, idle = [], None, False, False
        deadline = time.monotonic() + timeout
        while not (replied and idle):
            if time.monotonic() > deadline:
                raise HubError(f"{self.server.name}: the kernel did not finish in {timeout:g} s")
            message = json.loads(self.socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind == "error":
                error = "\n".join(content["traceback"])
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        if error is not None:
            raise HubError(f"{self.server.name}: the kernel raised:\n{error}")
        return "".join(printed)

    def result(self, code: str, timeout: float = 600.0):
        """Run ``code``, which prints ``RESULT`` and a JSON value last; return that value."""
        printed = self.execute(code, timeout)
        for line in reversed(printed.splitlines()):
            if line.startswith(RESULT):
                return json.loads(line[len(RESULT) :])
        raise HubError(f"{self.server.name}: the kernel printed no result:\n{printed[-2000:]}")

    def close(self) -> None:
        self.socket.close()
        self.server.request("DELETE", f"api/kernels/{self.id}", 204)
