"""One smoke test in a real terminal: tmux runs `tug tui` against a real control plane, keys
are sent with send-keys and the screen is read with capture-pane."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import pytest

from tests.engine.conftest import InProcessServer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30).stdout


def _screen_until(session: str, check: Callable[[str], bool], timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if check(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"the screen never showed it; last screen:\n{screen}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (installed on tugboat's machines)")
def test_tug_tui_in_a_real_terminal(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "smoke"},
                  "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}})
    session = f"tug-smoke-{uuid.uuid4().hex[:8]}"
    command = (f"cd {shlex.quote(REPO)} && TUG_HOME={shlex.quote(str(api_server.home))} "
               f"{shlex.quote(sys.executable)} -m engine.cli tui")
    _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "32", command)
    try:
        _screen_until(session, lambda s: "tugboat" in s and "  connected" in s and "› queues" in s)
        _tmux("send-keys", "-t", session, ":")
        _tmux("send-keys", "-t", session, "po", "Enter")
        screen = _screen_until(session, lambda s: "smoke" in s and "› pods" in s)
        assert "NAME" in screen and "STATUS" in screen
        _tmux("send-keys", "-t", session, "?")
        _screen_until(session, lambda s: "keys of this screen (pods" in s and "Row down" in s)
        _tmux("send-keys", "-t", session, "Escape")  # alone: ESC then q would read as alt+q
        _screen_until(session, lambda s: "keys of this screen" not in s and "› pods" in s)
        _tmux("send-keys", "-t", session, "q")
        _screen_until(session, lambda s: "tugboat" not in s or session not in _tmux("ls"), timeout=30)
    finally:
        _tmux("kill-session", "-t", session)
