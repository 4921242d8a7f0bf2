"""A headless JupyterLab and Debian's Chromium for the browser tests (tests/test_browser.py).

Not collected (leading underscore). The JupyterLab server runs in its own session
with a private Jupyter config/data/runtime dir in a temporary folder; its kernels
inherit ``ATTUNE_DB_URL`` from it, so they use the database the pytest process owns
and never start a server. :func:`jupyter_lab` stops the server and every process
it started (kernels run in sessions of their own, so they are found by ancestry),
also when the test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

__all__ = ["CHROMIUM_ARGS", "Lab", "find_chromium", "jupyter_lab", "write_notebook"]

_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

# No sandbox (root in a container), and nothing that reaches out to the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# JupyterLab's news and update check would pop a toast over the widgets.
_DISABLED_PLUGINS = {"@jupyterlab/apputils-extension:announcements": True}
# Every cell rendered, also when scrolled out of sight (the tests look at all outputs).
_NOTEBOOK_SETTINGS = {"windowingMode": "none"}


def find_chromium() -> str | None:
    """Debian's chromium (or another Chromium found on PATH), or None."""
    for candidate in _CHROMIUMS:
        if os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code cells for the ``python3`` kernel, without outputs."""
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))
    return path


@dataclass
class Lab:
    """A running JupyterLab: where it listens and where its notebooks live."""

    base: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen[bytes]

    def url(self, notebook: str) -> str:
        return f"{self.base}/doc/tree/{notebook}?token={self.token}"

    def api(self, path: str, *, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"{self.base}/api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _wait_until_up(lab: Lab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited with {lab.process.returncode}:\n{lab.log_tail()}"
            )
        with suppress(OSError, urllib.error.URLError, ValueError):
            lab.api("status")
            return
        time.sleep(0.2)
    raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{lab.log_tail()}")


def _stop(lab: Lab) -> None:
    """Shut the kernels down, then the server; kill whatever is left of them."""
    try:
        started = psutil.Process(lab.process.pid).children(recursive=True)
    except psutil.Error:
        started = []
    with suppress(Exception):
        for kernel in lab.api("kernels"):
            lab.api(f"kernels/{kernel['id']}", method="DELETE")
    if lab.process.poll() is None:
        lab.process.send_signal(signal.SIGTERM)
        try:
            lab.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            lab.process.kill()
            lab.process.wait(timeout=5)
    for process in started:
        with suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(started, timeout=5)


@contextmanager
def jupyter_lab(root: Path, *, env: dict[str, str], timeout: float = 60) -> Iterator[Lab]:
    """Serve ``root`` with JupyterLab on a free localhost port until the block ends.

    ``env`` is added to this process's environment for the server and its kernels.
    Jupyter's own config, data, runtime, settings and workspaces dirs are private to
    the run.
    """
    home = root.parent / f"{root.name}_jupyter"
    config = home / "config"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": _DISABLED_PLUGINS})
    )
    settings = home / "settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps(_NOTEBOOK_SETTINGS)
    )
    token = secrets.token_hex(16)
    port = _free_port()
    full_env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    log = home / "jupyter.log"
    jupyter = Path(sys.executable).with_name("jupyter")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(jupyter),
                "lab",
                "--no-browser",
                "--allow-root",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--port-retries=0",
                f"--ServerApp.token={token}",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.password=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            cwd=root,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, root, log, process)
    try:
        _wait_until_up(lab, timeout)
        yield lab
    finally:
        _stop(lab)
