"""Each screen at 80x24 and 200x60 against stored pictures (pytest-textual-snapshot), on fixed
data: a real in-process control plane whose parts all read one fixed clock, the app reading
another fixed five minutes later, and generated names and uids counted, not drawn at random. A
change that alters a screen fails here; look at the report, then accept it on purpose with
`pytest tests/tui/test_snapshots.py --snapshot-update`."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import InProcessServer
from tests.engine.conftest import until as _wait
from tests.tui.waiting import until
from tui.app import TugApp
from tui.screens import FeedScreen, JobLens, TableScreen, TextScreen

SERVER_TIME = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
APP_TIME = SERVER_TIME + timedelta(minutes=5)
SIZES = [(80, 24), (200, 60)]


def _node(name: str) -> dict[str, Any]:
    alloc = {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": "4"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"allocatable": alloc, "capacity": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "gpus": [{"index": i, "product": "Simulated GPU", "memoryMiB": 16384,
                                 "health": "Healthy", "simulated": True} for i in range(4)]}}


def _job(name: str, *, gpus: int, completions: int = 1) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "default", "labels": {"tugboat.dev/queue": "lab"}},
            "spec": {"completions": completions, "parallelism": completions, "completionMode": "Indexed",
                     "template": {"spec": {"restartPolicy": "Never", "containers": [
                         {"name": "train", "image": "busybox", "command": ["sleep", "600"],
                          "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}}}}


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """Two nodes of four simulated GPUs, a queue with a quota of 2 GPUs, a Job using both
    (two Indexed pods, bound) and a Job waiting for quota, a CronJob; all made at SERVER_TIME."""
    names, uids = itertools.count(), itertools.count()
    mp = pytest.MonkeyPatch()
    # generated names and uids from counters, not at random (all made in a fixed order)
    mp.setattr("engine.store.objects.random_suffix", lambda: f"{next(names):05d}")
    mp.setattr("engine.store.objects.new_uid", lambda: str(uuid.UUID(int=next(uids))))
    srv = InProcessServer(Path(tmp_path_factory.mktemp("snap")) / "tug", clock=lambda: SERVER_TIME)
    try:
        store = srv.cp.store
        assert store is not None
        for name in ("gpu-a", "gpu-b"):
            srv.call(store.create, "nodes", _node(name), namespaced=False)
        with srv.client() as c:
            c.create({"apiVersion": "tugboat.dev/v1", "kind": "Queue", "metadata": {"name": "lab"},
                      "spec": {"quota": {"nvidia.com/gpu": "2"}}})
            c.create(_job("train", gpus=1, completions=2))
            until_bound = lambda: len([p for p in c.list("pods")["items"]  # noqa: E731
                                       if (p.get("spec") or {}).get("nodeName")]) == 2
            _wait(until_bound)
            c.create(_job("sweep", gpus=2))
            _wait(lambda: any(w.get("name") == "sweep" for w in (c.get("queues", "lab").get("status") or {})
                              .get("pending") or []))
            c.create({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
                      "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                          "restartPolicy": "Never",
                          "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}}})
        yield srv
    finally:
        srv.close()
        mp.undo()


def _app(srv: InProcessServer, start: str | None = None) -> TugApp:
    return TugApp(srv.client(), cluster="snapshot", clock=lambda: APP_TIME, start=start)


async def _settled(pilot: Any, ready: Callable[[TugApp], bool]) -> None:
    """Until the app is connected and `ready` holds, then the screen redrawn from it."""
    app = pilot.app
    await until(lambda: "nodes" in app._feeds and app.connected and ready(app))  # the header's too
    if isinstance(app.screen, FeedScreen):
        app.screen.refresh_data(force=True)
    await pilot.pause()


def _rows(app: TugApp) -> int:
    tables = app.screen.query("FastTable")
    return tables.first().row_count if tables else 0


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_queues_home(fixed: InProcessServer, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Any) -> None:
        await _settled(pilot, lambda app: _rows(app) == 1 and "lab" in str(
            app.screen.query_one("#queues").render()))
    assert snap_compare(_app(fixed), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_nodes(fixed: InProcessServer, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Any) -> None:
        await _settled(pilot, lambda app: _rows(app) == 10 and len(app.snapshot("pods").items) == 2)
    assert snap_compare(_app(fixed, "nodes"), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_pods_table(fixed: InProcessServer, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Any) -> None:
        await _settled(pilot, lambda app: _rows(app) == 2)
    assert snap_compare(_app(fixed, "pods"), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_jobs_table_sorted(fixed: InProcessServer, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Any) -> None:
        await _settled(pilot, lambda app: _rows(app) == 2)
        await pilot.press("o", "o")  # by NAME, the other way
        await _settled(pilot, lambda app: isinstance(app.screen, TableScreen)
                       and app.screen.sort_by == (0, True))
    assert snap_compare(_app(fixed, "jobs"), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_job_lens(fixed: InProcessServer, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Any) -> None:
        app = pilot.app
        await _settled(pilot, lambda app: _rows(app) == 2)
        table = app.screen.query_one("FastTable")
        table.move_cursor(row=[r[0] for r in table.rows].index("train"))
        await pilot.press("enter")
        await _settled(pilot, lambda app: isinstance(app.screen, JobLens) and _rows(app) == 2
                       and "no log" in app.screen.log_tail)
    assert snap_compare(_app(fixed, "jobs"), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_describe_pod(fixed: InProcessServer, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Any) -> None:
        await _settled(pilot, lambda app: _rows(app) == 2)
        await pilot.press("d")
        await until(lambda: isinstance(pilot.app.screen, TextScreen))
        await pilot.pause()
    assert snap_compare(_app(fixed, "pods"), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(fixed: InProcessServer, snap_compare: Any, size: tuple[int, int]) -> None:
    async def ready(pilot: Any) -> None:
        await _settled(pilot, lambda app: app.connected)
        await pilot.press("question_mark")
        await until(lambda: isinstance(pilot.app.screen, TextScreen))
        await pilot.pause()
    assert snap_compare(_app(fixed), terminal_size=size, run_before=ready)
