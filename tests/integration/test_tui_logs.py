"""The TUI's logs screen on the real cluster: the last lines, then followed as the pod writes;
f stops following, w unwraps, s saves what is shown, t puts each line's time in front."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.client import Client
from engine.clock import parse_time
from tests.tui.waiting import until
from tui.app import TugApp
from tui.logs import LogsScreen

from .conftest import ControlPlaneProc, gone, pod_phase, wait_for

pytestmark = pytest.mark.integration


def _numbers(screen: LogsScreen) -> list[int]:
    return [int(line.split()[1]) for line in screen.lines if line.startswith("line ")]


async def test_the_logs_screen_follows_a_running_pod(control_plane: ControlPlaneProc, client: Client,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tui-logs"},
                   "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                       "name": "main", "image": "busybox",
                       "command": ["sh", "-c",
                                   "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.2; done"],
                       "resources": {"requests": {"cpu": "10m"}}}]}})
    monkeypatch.chdir(tmp_path)  # where `s` saves
    try:
        pod = wait_for(pod_phase(client, "tui-logs", "Running"), what="tui-logs to run")
        app = TugApp(control_plane.client())
        async with app.run_test(size=(120, 40)) as pilot:
            app.show_logs(pod)
            screen = await until(lambda: isinstance(app.screen, LogsScreen) and app.screen)
            await until(lambda: len(_numbers(screen)) >= 3)
            seen = max(_numbers(screen))
            await until(lambda: max(_numbers(screen)) > seen + 2)  # followed: it keeps coming
            numbers = _numbers(screen)
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # in order, none lost
            await pilot.press("f")  # stop following: what is read once, then nothing more
            await until(lambda: not screen.follow and screen.lines)
            await pilot.press("w")
            assert screen.wrap is False
            await pilot.press("s")
            saved = await until(lambda: list(tmp_path.glob("default_tui-logs_*.log")))
            assert saved[0].read_text().startswith("line ")
            await pilot.press("t")  # each line's time in front, as kubectl logs --timestamps
            stamped = await until(lambda: screen.timestamps and screen.lines and screen.lines)
            when, _, text = stamped[0].partition(" ")
            assert text.startswith("line ") and when.endswith("Z")
            started = parse_time(pod["status"]["startTime"])
            assert started - timedelta(seconds=1) <= datetime.fromisoformat(when[:26] + "+00:00") \
                <= datetime.now(UTC)
            await pilot.press("f")  # following again, then left: ending the stream is no error
            await until(lambda: screen.follow and len(screen.lines) > 3)
            await pilot.press("escape")
            await until(lambda: not isinstance(app.screen, LogsScreen))
            await pilot.pause(0.5)
            assert not [n.message for n in app._notifications if "lost the stream" in str(n.message)]
    finally:
        client.delete("pods", "tui-logs", grace_seconds=0)
        wait_for(lambda: gone(client, "tui-logs"), what="tui-logs to go")
