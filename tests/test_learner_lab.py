"""`make lab` shows a learner's JupyterLab: no nbgrader instructor tools, no news prompt.

The settings live in jupyter-learner/, which `make lab` puts first on
JUPYTER_CONFIG_PATH; an instructor's `.venv/bin/jupyter lab` does not read
them. The slow test starts JupyterLab as `make lab` does and asks the running
server: the page config it serves, and the formgrader's address.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LEARNER = ROOT / "jupyter-learner"
JUPYTER = Path(sys.executable).with_name("jupyter")
NBGRADER_SERVER = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
]


def test_the_learner_settings_switch_off_nbgrader_and_the_news():
    page = json.loads((LEARNER / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"] == {
        "@jupyter/nbgrader": True,
        "@jupyterlab/apputils-extension:announcements": True,
    }
    server = json.loads((LEARNER / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"] == dict.fromkeys(NBGRADER_SERVER, False)
    assert server["LabApp"]["news_url"] is None


def _lab_command(*variables: str) -> str:
    """The command `make lab` would run, as `make -n` prints it (not run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # not a sub-make
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "lab", *variables],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = dry_run.replace("\\\n", " ").splitlines()
    return next(line for line in lines if "jupyter lab" in line)


def test_make_lab_reads_them_and_takes_a_port_and_a_token():
    command = _lab_command("PORT=8890", "TOKEN=abc")
    assert f"JUPYTER_CONFIG_PATH={LEARNER} " in command
    assert "jupyter lab --notebook-dir=work" in command
    assert "--port=8890" in command and "--IdentityProvider.token=abc" in command
    default = _lab_command()
    assert "--port=8888" in default and "token" not in default
    assert "--notebook-dir=/tmp/elsewhere " in _lab_command("WORK=/tmp/elsewhere")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.mark.slow
def test_a_running_learner_lab_serves_no_instructor_tools(tmp_path):
    port, token = _free_port(), "learner-test"
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(LEARNER), "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [
            str(JUPYTER),
            "lab",
            f"--notebook-dir={tmp_path}",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--no-browser",
            "--allow-root",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:  # wait until the server answers (or has died)
            assert server.poll() is None, "jupyter lab exited"
            try:
                if _get(f"{base}/api/status?token={token}")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "jupyter lab did not start"
            time.sleep(0.5)
        status, html = _get(f"{base}/lab?token={token}")
        assert status == 200
        data = re.search(r'<script id="jupyter-config-data"[^>]*>(.*?)</script>', html, re.S)
        page = json.loads(data.group(1))
        disabled = set(page["disabledExtensions"])  # served as a list of names
        assert {"@jupyter/nbgrader", "@jupyterlab/apputils-extension:announcements"} <= disabled
        assert page["news"] == {"disabled": True}
        assert _get(f"{base}/formgrader?token={token}")[0] == 404
        assert _get(f"{base}/formgraders?token={token}")[0] == 404
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_without_them_nbgrader_is_there_for_the_instructor():
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_CONFIG_PATH"}
    listing = subprocess.run(
        [str(JUPYTER), "labextension", "list"], env=env, capture_output=True, text=True
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    assert re.search(r"@jupyter/nbgrader v\S+ enabled", text)
    learner = subprocess.run(
        [str(JUPYTER), "labextension", "list"],
        env={**env, "JUPYTER_CONFIG_PATH": str(LEARNER)},
        capture_output=True,
        text=True,
    )
    assert re.search(
        r"@jupyter/nbgrader v\S+ disabled",
        re.sub(r"\x1b\[[0-9;]*m", "", learner.stdout + learner.stderr),
    )
