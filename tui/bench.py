"""`tug bench tui`: the TUI against an in-process control plane (store, API server, scheduler;
no Ray) holding N simulated nodes x G GPUs and P pods, run headless (App.run_test) at 200x60:
first paint of the pods table (the moment it first drew a row), the app loaded (every pod in
the table and the app idle), p99 of a refresh after a tick of 200 changed pods, p99 of a
key press to the screen updated, RSS; beside Textual's stock DataTable on the same rows in the
same run. RSS is this process's, control plane included. A pilot key press costs some tens of
milliseconds of the pilot's own waiting; key_floor_ms is that on an app that does nothing, and
prompt_floor_ms what closing the `/` prompt costs there (in every filter figure)."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.strip import Strip
from textual.widgets import DataTable

from engine.client import Client
from engine.clock import utcnow
from engine.controlplane import ControlPlane
from engine.printers.table import table_cells
from engine.stats import percentile
from tui.app import Prompt, TugApp
from tui.screens import TableScreen
from tui.table import FastTable

SIZE = (200, 60)
TICK = 200  # pods changed per tick
TICKS = 10
KEYS = 30  # presses of each key measured


def _node(i: int, gpus: int) -> dict[str, Any]:
    alloc = {"cpu": "64", "memory": "512Gi", "pods": "110", "nvidia.com/gpu": str(gpus)}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i:04d}"},
            "status": {"allocatable": alloc, "capacity": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "gpus": [{"index": g, "product": "Simulated GPU", "memoryMiB": 81920,
                                 "health": "Healthy", "simulated": True} for g in range(gpus)]}}


def _pod(i: int, nodes: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pod-{i:05d}", "namespace": "default", "labels": {"tick": "0"}},
            "spec": {"nodeName": f"node-{i % nodes:04d}",  # bound at create: nothing to place
                     "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1"]}]}}


class _ControlPlane:
    """A control plane on its own loop in a thread, as the app's client sees a remote one."""

    def __init__(self, home: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.cp = ControlPlane(home, ray_address=None, port=0)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.cp.start)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        async def run() -> Any:
            out = fn(*args)
            return await out if asyncio.iscoroutine(out) else out
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(600)

    def close(self) -> None:
        self.call(self.cp.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _ms(seconds: list[float], p: float) -> float:
    return percentile(seconds, p) * 1000


async def _until(check: Callable[[], Any], pilot: Any, timeout: float = 300.0) -> None:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("the TUI bench waited too long")
        await pilot.pause(0.005)


async def _tugboat(client: Client, plane: _ControlPlane, pods: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    started = time.perf_counter()
    app = TugApp(client, start="pods")
    async with app.run_test(size=SIZE) as pilot:
        def shown() -> bool:
            tables = app.screen.query(FastTable)
            return bool(tables) and tables.first().row_count == pods
        await _until(shown, pilot)
        await pilot.pause()
        out["loaded_ms"] = (time.perf_counter() - started) * 1000
        drawn = app.screen.query_one(FastTable).first_row_drawn_at
        assert drawn is not None, "the pods table has rows but drew none"
        out["first_paint_ms"] = (drawn - started) * 1000
        screen = app.screen
        assert isinstance(screen, TableScreen)
        feed = app._feeds["pods"]
        refresh = []
        for tick in range(1, TICKS + 1):
            before = feed.version
            items = list(plane.cp.store.list("pods")[0])[(tick * TICK) % pods:][:TICK]
            for pod in items:
                pod["metadata"]["labels"] = {"tick": str(tick)}
            plane.call(plane.cp.store.apply_all, [("update", "pods", p) for p in items])
            want = before + len(items)
            await _until(lambda w=want: feed.version >= w, pilot)
            await pilot.pause(0.3)  # the control plane's own work on the tick is over
            t = time.perf_counter()
            screen.refresh_data(force=True)
            await pilot.pause()
            refresh.append(time.perf_counter() - t)
        out["refresh_p50_ms"], out["refresh_ms"] = _ms(refresh, 50), _ms(refresh, 99)
        await pilot.pause(1.0)  # the app's own redraw of the last tick is over
        keys: dict[str, list[float]] = {"down": [], "pagedown": [], "filter": []}
        for key in ("down", "pagedown"):
            for _ in range(KEYS):
                t = time.perf_counter()
                await pilot.press(key)
                await pilot.pause()
                keys[key].append(time.perf_counter() - t)
        for i in range(KEYS):  # typed untimed; timed: enter to the filtered table shown
            await pilot.press("slash", *f"pod-{i:03d}")
            t = time.perf_counter()
            await pilot.press("enter")
            await pilot.pause()
            keys["filter"].append(time.perf_counter() - t)
        for key, times in keys.items():
            out[f"key_{key}_p99_ms"] = _ms(times, 99)
        out["key_p99_ms"] = _ms([t for times in keys.values() for t in times], 99)
        out["rss_mb"] = psutil.Process().memory_info().rss / 2**20
    return out


class _Still(App[None]):
    """Nothing but the screen: the time a pilot key press takes here is the pilot's own."""

    BINDINGS = [Binding("slash", "prompt")]

    def action_prompt(self) -> None:
        self.push_screen(Prompt("/"), lambda _: None)


async def _floor() -> tuple[float, float, float]:
    """Medians of a key press to the screen updated, of a pause alone, and of enter on the `/`
    prompt to the prompt gone, on an app that does nothing else: what the pilot's own waiting
    and Textual's closing of a modal screen add to the figures."""
    async with _Still().run_test(size=SIZE) as pilot:
        keys, pauses, prompts = [], [], []
        for i in range(KEYS):
            t = time.perf_counter()
            await pilot.press("down")
            await pilot.pause()
            keys.append(time.perf_counter() - t)
            t = time.perf_counter()
            await pilot.pause()
            pauses.append(time.perf_counter() - t)
            await pilot.press("slash", *f"pod-{i:03d}")
            t = time.perf_counter()
            await pilot.press("enter")
            await pilot.pause()
            prompts.append(time.perf_counter() - t)
    return _ms(keys, 50), _ms(pauses, 50), _ms(prompts, 50)


class _StockTable(DataTable[str]):
    """The stock DataTable, noting when it first drew a row, as FastTable does."""

    first_row_drawn_at: float | None = None

    def render_line(self, y: int) -> Strip:
        if y > 0 and self.row_count and self.first_row_drawn_at is None:
            self.first_row_drawn_at = time.perf_counter()
        return super().render_line(y)


class _Stock(App[None]):
    def compose(self) -> ComposeResult:
        yield _StockTable(id="t", cursor_type="row")


async def _stock(headers: list[str], keys: list[str], rows: list[list[str]]) -> dict[str, Any]:
    """Textual's DataTable on the same rows: all added at once, then rebuilt on each tick (as
    a table that does not update rows in place does)."""
    out: dict[str, Any] = {}
    started = time.perf_counter()
    app = _Stock()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(_StockTable)
        table.add_columns(*headers)
        table.add_rows(rows)
        await pilot.pause()
        out["loaded_ms"] = (time.perf_counter() - started) * 1000
        assert table.first_row_drawn_at is not None, "the stock table has rows but drew none"
        out["first_paint_ms"] = (table.first_row_drawn_at - started) * 1000
        refresh = []
        for _ in range(TICKS):
            t = time.perf_counter()
            table.clear()
            table.add_rows(rows)
            await pilot.pause()
            refresh.append(time.perf_counter() - t)
        out["refresh_p50_ms"], out["refresh_ms"] = _ms(refresh, 50), _ms(refresh, 99)
        table.focus()
        times = []
        for key in ["down"] * KEYS + ["pagedown"] * KEYS:
            t = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            times.append(time.perf_counter() - t)
        out["key_p99_ms"] = _ms(times, 99)
    return out


def run(*, nodes: int, gpus_per_node: int, pods: int,
        progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tug-bench-tui-") as tmp:
        plane = _ControlPlane(Path(tmp) / "tug")
        try:
            store = plane.cp.store
            assert store is not None
            for start in range(0, nodes, 500):
                plane.call(store.apply_all, [("create", "nodes", _node(i, gpus_per_node), False)
                                             for i in range(start, min(start + 500, nodes))])
            for start in range(0, pods, 1000):
                plane.call(store.apply_all, [("create", "pods", _pod(i, nodes))
                                             for i in range(start, min(start + 1000, pods))])
            progress(f"{nodes} nodes x {gpus_per_node} GPUs and {pods} pods stored")
            client = Client.from_config(Path(tmp) / "tug", timeout=60)
            ours = asyncio.run(_tugboat(client, plane, pods))
            progress("tugboat's table measured; now the stock DataTable on the same rows")
            items = sorted(store.list("pods")[0], key=lambda o: o["metadata"]["name"])
            headers, rows = table_cells("pods", items, now=utcnow())
            stock = asyncio.run(_stock(headers, [o["metadata"]["uid"] for o in items], rows))
            floor, pause, prompt = asyncio.run(_floor())
        finally:
            plane.close()
    return {"nodes": nodes, "gpus_per_node": gpus_per_node, "pods": pods, "size": f"{SIZE[0]}x{SIZE[1]}",
            **ours, "baseline": stock, "key_floor_ms": floor, "pause_floor_ms": pause,
            "prompt_floor_ms": prompt,
            "first_paint_speedup": stock["first_paint_ms"] / max(ours["first_paint_ms"], 1e-9),
            "refresh_speedup": stock["refresh_ms"] / max(ours["refresh_ms"], 1e-9)}
