"""`tug bench tui`: the TUI against a control plane in a process of its own (store, API server,
scheduler; no Ray) holding N simulated nodes x G GPUs and P pods, run headless (App.run_test)
at 200x60: first paint of the pods table (the moment it first drew a row), the app loaded
(every pod in the table and the app idle), p99 of a refresh after a tick of 200 changed pods,
p99 of a key press (down, page down, the `/` filter, `:no` and back) to the first frame
showing its result, the app's RSS; beside Textual's stock DataTable on the same rows in the
same run. Frames are timed once rendered to a terminal's bytes (`_Frames`). key_floor_ms is
what opening a modal prompt costs an app that does nothing else, prompt_floor_ms closing it."""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
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


def _serve(home: str, nodes: int, gpus: int, pods: int, conn: Connection) -> None:
    """The control plane's own process, as the app meets it in use (`tug up`): seeded with the
    nodes and pods and settled (its controllers done with them), then serving until told to
    stop; ("tick", n) relabels TICK pods in one write."""
    loop = asyncio.new_event_loop()
    cp = ControlPlane(Path(home), ray_address=None, port=0)
    loop.run_until_complete(cp.start())
    store = cp.store
    assert store is not None
    for start in range(0, nodes, 500):
        store.apply_all([("create", "nodes", _node(i, gpus), False)
                         for i in range(start, min(start + 500, nodes))])
    for start in range(0, pods, 1000):
        store.apply_all([("create", "pods", _pod(i, nodes)) for i in range(start, min(start + 1000, pods))])
    loop.run_until_complete(_settled())

    def order() -> None:
        got = conn.recv()
        if got[0] != "tick":
            loop.stop()
            return
        items = list(store.list("pods")[0])[(got[1] * TICK) % pods:][:TICK]
        for pod in items:
            pod["metadata"]["labels"] = {"tick": str(got[1])}
        store.apply_all([("update", "pods", p) for p in items])
        conn.send(len(items))
    loop.add_reader(conn.fileno(), order)
    conn.send("ready")
    loop.run_forever()
    loop.run_until_complete(cp.stop())
    conn.send("stopped")


async def _settled(timeout: float = 120.0) -> None:
    """Until this process used under a tenth of a core for a quarter of a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cpu = time.process_time()
        await asyncio.sleep(0.25)
        if time.process_time() - cpu < 0.025:
            return


class _ControlPlane:
    """A control plane in a process of its own, reached by the app's client as in use."""

    def __init__(self, home: Path, nodes: int, gpus: int, pods: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(str(home), nodes, gpus, pods, child), daemon=True)
        self.process.start()
        if not self.conn.poll(600) or self.conn.recv() != "ready":
            raise RuntimeError("the bench's control plane did not start")

    def tick(self, tick: int) -> int:
        self.conn.send(("tick", tick))
        return int(self.conn.recv())

    def close(self) -> None:
        self.conn.send(("stop",))
        if self.conn.poll(60):
            self.conn.recv()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


class _Frames:
    """Each frame the app puts on the terminal, timed once rendered to the terminal's bytes
    (what a real terminal's driver then writes), with what it showed (`shows()`: the screen
    and its table's cursor, scroll and rows). A key's latency runs from the press to the first
    frame showing what the screen shows once idle: neither the pilot's own wait for an idle
    process afterwards nor unrelated later frames (a clock, an age column) count."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.drawn: list[tuple[float, tuple[Any, ...]]] = []
        shown = app._display

        def display(screen: Any, renderable: Any) -> None:
            shown(screen, renderable)
            if renderable is not None:
                renderable.render_segments(app.console)  # the bytes a terminal would get
                self.drawn.append((time.perf_counter(), self.shows()))
        app._display = display  # type: ignore[method-assign]

    def shows(self) -> tuple[Any, ...]:
        screen = self.app.screen
        tables: list[Any] = [*screen.query(FastTable), *screen.query(DataTable)]
        if not tables:
            return (id(screen),)
        table = tables[0]
        return (id(screen), table.cursor_row, table.scroll_offset, table.row_count)

    def since(self, start: float) -> float:
        """Seconds from `start` to the first frame since that shows what the screen shows now."""
        now = self.shows()
        for at, shown in self.drawn:
            if at >= start and shown == now:
                self.drawn.clear()
                return at - start
        raise RuntimeError(f"no frame since the key showed the screen's state {now}")


def _ms(seconds: list[float], p: float) -> float:
    return percentile(seconds, p) * 1000


async def _until(check: Callable[[], Any], pilot: Any, timeout: float = 300.0) -> None:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("the TUI bench waited too long")
        await pilot.pause(0.005)


async def _press(pilot: Any, frames: _Frames, *keys: str) -> float | None:
    """A key's latency; None where it changed nothing (a page down on the last page)."""
    before = frames.shows()
    t = time.perf_counter()
    await pilot.press(*keys)
    await pilot.pause()
    if frames.shows() == before:
        return None
    return frames.since(t)


def _timed(times: list[float | None]) -> list[float]:
    """The latencies of the keys that changed the screen (one at least)."""
    kept = [t for t in times if t is not None]
    if not kept:
        raise RuntimeError("no key changed the screen")
    return kept


async def _tugboat(client: Client, plane: _ControlPlane, pods: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    started = time.perf_counter()
    app = TugApp(client, start="pods")
    async with app.run_test(size=SIZE) as pilot:
        frames = _Frames(app)

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
            want = feed.version + plane.tick(tick)
            await _until(lambda: feed.version >= want, pilot)  # noqa: B023 - awaited here
            await pilot.pause(0.3)  # the app's own redraw of the tick is over
            t = time.perf_counter()
            screen.refresh_data(force=True)
            await pilot.pause()
            refresh.append(frames.since(t))
        out["refresh_p50_ms"], out["refresh_ms"] = _ms(refresh, 50), _ms(refresh, 99)
        await pilot.pause(1.0)
        keys: dict[str, list[float | None]] = {"down": [], "pagedown": [], "filter": [], "command": []}
        for key in ("down", "pagedown"):
            for _ in range(KEYS):
                keys[key].append(await _press(pilot, frames, key))
        for i in range(KEYS):  # typed untimed; timed: enter to the filtered table shown
            await pilot.press("slash", *f"pod-{i:03d}")
            keys["filter"].append(await _press(pilot, frames, "enter"))
        await pilot.press("escape")  # the filter off
        for _ in range(KEYS // 3):  # `:no` then back: the nodes screen drawn, the pods again
            await pilot.press("colon", "n", "o")
            keys["command"].append(await _press(pilot, frames, "enter"))
            keys["command"].append(await _press(pilot, frames, "escape"))
        timed = {key: _timed(times) for key, times in keys.items()}
        for key, times in timed.items():
            out[f"key_{key}_p99_ms"] = _ms(times, 99)
        out["key_p99_ms"] = _ms([t for times in timed.values() for t in times], 99)
        out["rss_mb"] = psutil.Process().memory_info().rss / 2**20
    return out


class _Still(App[None]):
    """Nothing but the screen: the time a pilot key press takes here is the pilot's own."""

    BINDINGS = [Binding("slash", "prompt")]

    def action_prompt(self) -> None:
        self.push_screen(Prompt("/"), lambda _: None)


async def _floor() -> tuple[float, float]:
    """Medians of a key press to its frame, and of enter on the `/` prompt to the prompt gone,
    on an app that does nothing else: Textual's own cost of a key and of closing a modal."""
    app = _Still()
    async with app.run_test(size=SIZE) as pilot:
        frames = _Frames(app)
        keys: list[float | None] = []
        prompts: list[float | None] = []
        for i in range(KEYS):
            keys.append(await _press(pilot, frames, "slash"))
            await pilot.press(*f"pod-{i:03d}")
            prompts.append(await _press(pilot, frames, "enter"))
    return _ms(_timed(keys), 50), _ms(_timed(prompts), 50)


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


async def _stock(headers: list[str], rows: list[list[str]]) -> dict[str, Any]:
    """Textual's DataTable on the same rows: all added at once, then rebuilt on each tick (as
    a table that does not update rows in place does); timed to frames as tugboat's table."""
    out: dict[str, Any] = {}
    started = time.perf_counter()
    app = _Stock()
    async with app.run_test(size=SIZE) as pilot:
        frames = _Frames(app)
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
            refresh.append(frames.since(t))
        out["refresh_p50_ms"], out["refresh_ms"] = _ms(refresh, 50), _ms(refresh, 99)
        table.focus()
        times = [await _press(pilot, frames, key) for key in ["down"] * KEYS + ["pagedown"] * KEYS]
        out["key_p99_ms"] = _ms(_timed(times), 99)
    return out


def run(*, nodes: int, gpus_per_node: int, pods: int,
        progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tug-bench-tui-") as tmp:
        plane = _ControlPlane(Path(tmp) / "tug", nodes, gpus_per_node, pods)
        try:
            progress(f"{nodes} nodes x {gpus_per_node} GPUs and {pods} pods stored")
            client = Client.from_config(Path(tmp) / "tug", timeout=60)
            ours = asyncio.run(_tugboat(client, plane, pods))
            progress("tugboat's table measured; now the stock DataTable on the same rows")
            items = sorted(client.list("pods", namespace=None)["items"], key=lambda o: o["metadata"]["name"])
            headers, rows = table_cells("pods", items, now=utcnow())
            stock = asyncio.run(_stock(headers, rows))
            floor, prompt = asyncio.run(_floor())
        finally:
            plane.close()
    return {"nodes": nodes, "gpus_per_node": gpus_per_node, "pods": pods, "size": f"{SIZE[0]}x{SIZE[1]}",
            **ours, "baseline": stock, "key_floor_ms": floor, "prompt_floor_ms": prompt,
            "first_paint_speedup": stock["first_paint_ms"] / max(ours["first_paint_ms"], 1e-9),
            "refresh_speedup": stock["refresh_ms"] / max(ours["refresh_ms"], 1e-9)}
