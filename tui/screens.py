"""The TUI's screens: queues (home), nodes with their GPUs, any resource as kubectl's table,
and text (describe, YAML, help; a pod's log is tui/logs.py). Screens read the app's feeds'
snapshots and redraw when a feed they show changed; columns and describe text come from
engine/printers."""

from __future__ import annotations

import bisect
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import get_current_worker

from engine.errors import TugError
from engine.labels import parse_field_selector, parse_selector, selector_from_label_selector
from engine.printers.columns import event_time
from engine.printers.fmt import estimated
from engine.printers.table import CLUSTER_SCOPED, table_cells
from tui.chrome import Header, KeyBar
from tui.format import NA, bar, gpu_holders, mib, node_state, percent, quota_lines, sparkline
from tui.table import FastTable

Obj = dict[str, Any]
AGES_EVERY_S = 2.0  # a table redraws this often though nothing changed (AGE, "5m ago" move on)
WARM_FROM = 500  # rows: a table this long has its filter/sort cells made in the background
WARM_AFTER_S = 0.5  # ... once no refresh came for this long


class FeedScreen(Screen[None]):
    """A screen fed by some of the app's feeds; `refresh_data` redraws it from snapshots."""

    resources: tuple[str, ...] = ()
    crumb = ""

    @property
    def tug(self) -> Any:
        """The TugApp (tui/app.py), which imports this module: typed loosely, no import back."""
        return self.app

    def compose(self) -> ComposeResult:
        yield Header(id="header")
        yield from self.body()
        yield KeyBar()

    def body(self) -> ComposeResult:
        yield from ()

    def on_screen_resume(self) -> None:
        if self.app.screen is not self:  # covered already (the home under `tug tui -c :pods`)
            return
        for resource in self.resources:
            self.tug.follow(resource)
        self.refresh_data()  # what changed while it was covered (each screen knows what it shows)

    def refresh_data(self, *, force: bool = False) -> None:
        self.query_one(Header).show(self.tug.header_text(self))


class TableScreen(FeedScreen):
    """One resource as `tug get` shows it, in the app's namespace (or all), filtered by text."""

    BINDINGS = [Binding("d", "describe", "Describe"), Binding("y", "yaml", "YAML"),
                Binding("l", "logs", "Logs"), Binding("enter", "drill", "Open", show=False),
                Binding("e", "edit", "Edit"), Binding("s", "scale", "Scale"),
                Binding("r", "restart", "Restart", show=False), Binding("t", "trigger", "Trigger"),
                Binding("o", "sort", "Sort"),
                Binding("ctrl+d", "delete", "Delete"), Binding("ctrl+k", "kill", "Kill")]

    WIDE = frozenset({"pods"})  # shown with -o wide's columns (a pod's node, as k9s)

    def __init__(self, resource: str, *, text_filter: str = "", selector: str = "", fields: str = "") -> None:
        super().__init__()
        self.resource = resource
        self.resources = (resource,)
        self.text_filter, self.selector = text_filter, selector
        self.opened_with = (text_filter, selector)  # a drill-down's own selector: esc keeps it
        self.fields = fields  # "spec.nodeName=n1": a node's pods, in every namespace
        self._shown: tuple[Any, ...] | None = None
        self._uids: list[str] = []
        self.sort_by: tuple[int, bool] | None = None  # (column, descending)
        self._cache: dict[str, tuple[str | None, tuple[list[str], str]]] = {}  # uid -> (rv, (cells, text))
        self._warm_timer: Timer | None = None

    @property
    def namespace(self) -> str | None:
        """The namespace shown: the app's, or every one for a field-selected screen."""
        return None if self.fields or self.resource in CLUSTER_SCOPED else self.tug.namespace

    @property
    def crumb(self) -> str:  # type: ignore[override]
        where = "" if self.resource in CLUSTER_SCOPED else (
            " (all namespaces)" if self.namespace is None else f" ({self.namespace})")
        text = "".join(f" {f}" for f in (self.fields, self.selector and f"-l {self.selector}",
                                         self.text_filter and f"/{self.text_filter}") if f)
        return f"{self.resource}{where}{text}"

    def body(self) -> ComposeResult:
        yield FastTable(id="table")

    def on_mount(self) -> None:
        self.set_interval(AGES_EVERY_S, self._ages)

    def shown_items(self) -> list[Obj]:
        """The feed's objects this screen shows, in order."""
        return self._shown_items()[0]

    def _shown_items(self) -> tuple[list[Obj], list[str]]:
        """The objects shown, in order, and their uids. A snapshot is in namespace, name order,
        so one namespace's objects are a slice of it, found by bisection."""
        snap = self.tug.snapshot(self.resource)
        items = list(snap.items.values()) if snap.ordered else snap.sorted()
        uids: list[str] | None = list(snap.items.keys()) if snap.ordered else None
        ns = self.namespace
        if self.resource == "events":
            items.sort(key=event_time)
            items = items if ns is None else [o for o in items if _namespace_of(o) == ns]
            uids = None
        elif ns is not None:
            lo = bisect.bisect_left(items, ns, key=_namespace_of)
            hi = bisect.bisect_right(items, ns, lo=lo, key=_namespace_of)
            items, uids = items[lo:hi], uids and uids[lo:hi]
        if self.selector or self.fields:
            labels = parse_selector(self.selector) if self.selector else None
            fields = parse_field_selector(self.fields) if self.fields else None
            items = [o for o in items if (labels is None or labels.matches(o["metadata"].get("labels")))
                     and (fields is None or fields.matches(o))]
            uids = None
        if uids is None:
            uids = [o["metadata"]["uid"] for o in items]
        return items, uids

    def refresh_data(self, *, force: bool = False) -> None:
        super().refresh_data(force=force)
        version = self.tug.snapshot(self.resource).version
        key = (version, self.namespace or "", self.text_filter, self.selector, self.sort_by)
        if not force and key == self._shown:
            return
        self._shown = key
        items, uids = self._shown_items()
        now = self.tug.clock()
        with_ns = self.namespace is None and self.resource not in CLUSTER_SCOPED
        wide = self.resource in self.WIDE

        def row_of(obj: Obj) -> list[str]:  # fresh cells (ages move on) for a row drawn
            cells = table_cells(self.resource, [obj], now=now, wide=wide)[1][0]
            return [obj["metadata"].get("namespace") or "", *cells] if with_ns else cells

        headers = table_cells(self.resource, items[:1], now=now, wide=wide)[0]
        headers = ["NAMESPACE", *headers] if with_ns else headers
        if self.text_filter or self.sort_by is not None:  # these read every row: cached cells
            cells = self._cells_of(items, now, wide)
            if self.text_filter:
                needle = self.text_filter.lower()
                kept = [i for i, (row, text) in enumerate(cells) if needle in text
                        or (with_ns and needle in _namespace_of(items[i]).lower())]
                items, cells = [items[i] for i in kept], [cells[i] for i in kept]
            if self.sort_by is not None and 0 <= self.sort_by[0] < len(headers):
                column, reverse = self.sort_by
                column -= with_ns  # the NAMESPACE column is the screen's, not the cached row's
                order = sorted(range(len(items)), reverse=reverse, key=lambda i: _sort_key(
                    _namespace_of(items[i]) if column < 0 else cells[i][0][column]))
                items = [items[i] for i in order]
            uids = [o["metadata"]["uid"] for o in items]
            self._prune()
        self._uids = uids
        shown = items
        self.query_one(FastTable).set_rows(headers, self._uids, lambda i: row_of(shown[i]))
        if len(items) >= WARM_FROM:  # once the table is quiet: new rows and rows changed since
            if self._warm_timer is not None:
                self._warm_timer.stop()
            self._warm_timer = self.set_timer(WARM_AFTER_S, lambda: self.run_worker(
                lambda: self._warm(items, now, wide), thread=True, exclusive=True, group="warm",
                exit_on_error=False))

    def _warm(self, items: list[Obj], now: Any, wide: bool) -> None:
        """Make the filter/sort cells of rows not cached or changed since, off the UI's thread,
        so the first `/` or sort on a long table costs what a cached one does; gives up when
        cancelled. It runs once the table has been quiet a moment, not beside each refresh."""
        worker = get_current_worker()
        for i, obj in enumerate(items):
            if i % 256 == 0 and worker.is_cancelled:
                return
            meta = obj["metadata"]
            hit = self._cache.get(meta["uid"])
            if hit is None or hit[0] != meta.get("resourceVersion"):
                self._cell(obj, now, wide)

    def _cells_of(self, items: list[Obj], now: Any, wide: bool) -> list[tuple[list[str], str]]:
        """Each object's cells and its text in lower case, for filtering and sorting: kept per
        uid until the object changes (so a cell's age may be some seconds old here, never
        shown). The cached entries themselves are returned: no new object per row."""
        cache = self._cache
        out = []
        for obj in items:
            meta = obj["metadata"]
            hit = cache.get(meta["uid"])
            if hit is None or hit[0] != meta.get("resourceVersion"):
                hit = self._cell(obj, now, wide)
            out.append(hit[1])
        return out

    def _cell(self, obj: Obj, now: Any, wide: bool) -> tuple[str | None, tuple[list[str], str]]:
        meta = obj["metadata"]
        cells = table_cells(self.resource, [obj], now=now, wide=wide)[1][0]
        hit = self._cache[meta["uid"]] = (meta.get("resourceVersion"), (cells, " ".join(cells).lower()))
        return hit

    def _prune(self) -> None:
        """Forget the cells of objects that are gone, once they outnumber those that are not."""
        items = self.tug.snapshot(self.resource).items
        if len(self._cache) > 2 * len(items) + 100:  # a copy first: a warm-up may be adding
            self._cache = {uid: c for uid, c in dict(self._cache).items() if uid in items}

    def _ages(self) -> None:
        """Redraw the rows on screen, nothing else: their ages move on."""
        self.query_one(FastTable).redraw()

    def selected(self) -> Obj | None:
        table = self.query_one(FastTable)
        if not self._uids or not 0 <= table.cursor_row < len(self._uids):
            return None
        return self.tug.snapshot(self.resource).items.get(self._uids[table.cursor_row])

    def on_fast_table_row_selected(self, event: FastTable.RowSelected) -> None:
        """enter on a row (the table takes the key before the screen's binding)."""
        event.stop()
        self.action_drill()

    def action_describe(self) -> None:
        if (obj := self.selected()) is not None:
            self.tug.show_describe(self.resource, obj)

    def action_yaml(self) -> None:
        if (obj := self.selected()) is not None:
            self.tug.show_yaml(obj)

    def action_logs(self) -> None:
        obj = self.selected()
        if obj is None:
            return
        if self.resource != "pods":
            self.notify("logs: select a pod (or open a Job's pods with enter)", severity="warning")
            return
        self.tug.show_logs(obj)

    def action_drill(self) -> None:
        obj = self.selected()
        if obj is None:
            return
        meta = obj["metadata"]
        if self.resource == "nodes":
            self.tug.push_screen(TableScreen("pods", fields=f"spec.nodeName={meta['name']}"))
        elif self.resource == "jobs":
            self.tug.push_screen(JobLens(obj))
        elif self.resource == "queues":
            self.tug.push_screen(QueuesScreen(only=meta["name"]))
        elif self.resource in ("deployments", "replicasets"):  # their pods, by their selector
            try:
                selector = str(selector_from_label_selector((obj.get("spec") or {}).get("selector")))
            except TugError as exc:
                self.notify(f"{meta['name']}: {exc.message}", severity="error")
                return
            self.tug.push_screen(TableScreen("pods", selector=selector))
        else:
            self.tug.show_describe(self.resource, obj)

    def action_edit(self) -> None:
        if (obj := self.selected()) is not None:
            self.tug.edit(self.resource, obj)

    def action_scale(self) -> None:
        if (obj := self.selected()) is not None:
            self.tug.scale(self.resource, obj)

    def action_restart(self) -> None:
        obj = self.selected()
        if obj is None:
            return
        if self.resource != "deployments":
            self.notify("r restarts a Deployment's pods (a rollout): open them with :deploy",
                        severity="warning")
            return
        self.tug.restart(obj)

    def action_trigger(self) -> None:
        obj = self.selected()
        if obj is None:
            return
        if self.resource != "cronjobs":
            self.notify("t triggers a CronJob now: open them with :cj", severity="warning")
            return
        self.tug.trigger(obj)

    def action_sort(self) -> None:
        """Sort by the column the cursor is in; again: the other way."""
        table = self.query_one(FastTable)
        column = table.cursor_column
        reverse = self.sort_by == (column, False)
        self.sort_by = (column, reverse)
        self.refresh_data(force=True)

    def action_delete(self) -> None:
        if (obj := self.selected()) is not None:
            self.tug.confirm_delete(self.resource, obj, grace=None)

    def action_kill(self) -> None:
        if (obj := self.selected()) is not None:
            self.tug.confirm_delete(self.resource, obj, grace=0)


def _namespace_of(obj: Obj) -> str:
    return obj["metadata"].get("namespace") or ""


def _sort_key(cell: str) -> tuple[int, float, str]:
    """Numbers (and "3/4"-style counts) in numeric order, ahead of text."""
    head = cell.split("/", 1)[0].split(" ", 1)[0]
    try:
        return (0, float(head), cell)
    except ValueError:
        return (1, 0.0, cell)


class QueuesScreen(FeedScreen):
    """Home: each queue's quota bars and counts, and its waiting workloads in order with their
    position, priority, estimated start and the scheduler's why-pending sentence."""

    resources = ("queues", "jobs")
    BINDINGS = [Binding("enter", "open", "Open", show=False)]

    def __init__(self, *, only: str | None = None) -> None:
        super().__init__()
        self.only = only
        self._shown = -1

    @property
    def crumb(self) -> str:  # type: ignore[override]
        return f"queues/{self.only}" if self.only else "queues"

    def body(self) -> ComposeResult:
        yield Static(id="queues", classes="panel")
        yield FastTable(id="waiting")

    def refresh_data(self, *, force: bool = False) -> None:
        super().refresh_data(force=force)
        snap = self.tug.snapshot("queues")
        if not force and snap.version == self._shown:
            return
        self._shown = snap.version
        queues = [q for q in snap.sorted() if self.only in (None, q["metadata"]["name"])]
        now = self.tug.clock()
        lines = []
        for q in queues:
            status = q.get("status") or {}
            lines.append(f"[b]{q['metadata']['name']}[/b]  admitted {status.get('admittedWorkloads', 0)}  "
                         f"running {status.get('runningWorkloads', 0)}  "
                         f"pending {status.get('pendingWorkloads', 0)}")
            for res, drawn, text in quota_lines(q):
                lines.append(f"  {res:<20} {drawn} {text}")
        if not queues:
            lines.append("no queues" if snap.connected else "waiting for the control plane…")
        self.query_one("#queues", Static).update("\n".join(lines))
        keys, rows = [], []
        for q in queues:
            for w in (q.get("status") or {}).get("pending") or []:
                keys.append(f"{q['metadata']['name']}/{w.get('kind')}/{w.get('namespace')}/{w.get('name')}")
                rows.append([q["metadata"]["name"], str(w.get("position", "")), str(w.get("kind", "")),
                             f"{w.get('namespace')}/{w.get('name')}", str(w.get("priority", 0)),
                             estimated(w, now), _one_line(w.get("message") or w.get("reason") or "")])
        self.query_one("#waiting", FastTable).set_data(
            ("QUEUE", "POS", "KIND", "NAME", "PRIORITY", "START", "WHY"), keys, rows)

    def on_fast_table_row_selected(self, event: FastTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        table = self.query_one("#waiting", FastTable)
        if table.row_count and 0 <= table.cursor_row < table.row_count:
            kind, name = table.get_row_at(table.cursor_row)[2:4]
            ns, _, name = name.partition("/")
            job = next((j for j in self.tug.snapshot("jobs").items.values()
                        if j["metadata"]["name"] == name and j["metadata"].get("namespace") == ns), None)
            if kind == "Job" and job is not None:
                self.tug.push_screen(JobLens(job))


class NodesScreen(FeedScreen):
    """One row per node and one per GPU under it: product, utilization and memory bars, the
    pod holding it; simulated GPUs marked, their unknown values n/a. enter: the row's pods."""

    resources = ("nodes", "pods")
    crumb = "nodes"
    HEADERS = ("NODE / GPU", "STATUS", "PRODUCT", "UTIL", "HISTORY", "MEMORY", "TEMP", "POWER", "POD")

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[int, int, int] | None = None
        self._row_nodes: list[str] = []  # the node of each row

    def body(self) -> ComposeResult:
        yield FastTable(id="nodes")

    def refresh_data(self, *, force: bool = False) -> None:
        super().refresh_data(force=force)
        nodes, pods = self.tug.snapshot("nodes"), self.tug.snapshot("pods")
        key = (nodes.version, pods.version, self.tug.top_version)
        if not force and key == self._shown:
            return
        self._shown = key
        holders = gpu_holders(pods.sorted())
        entries: list[tuple[Obj, Obj | None]] = []  # (node, None) or (node, one of its GPUs)
        keys: list[str] = []
        for node in nodes.sorted():
            name = node["metadata"]["name"]
            entries.append((node, None))
            keys.append(name)
            gpus = (self.tug.top.get(name) or {}).get("gpus") or (node.get("status") or {}).get("gpus") or []
            for gpu in sorted(gpus, key=lambda g: g.get("index") or 0):
                entries.append((node, gpu))
                keys.append(f"{name}/gpu{gpu.get('index')}")
        self._row_nodes = [n["metadata"]["name"] for n, _ in entries]

        def row(i: int) -> list[str]:
            node, gpu = entries[i]
            return self._node_row(node) if gpu is None else self._gpu_row(node, gpu, holders)
        self.query_one(FastTable).set_rows(self.HEADERS, keys, row)

    def _node_row(self, node: Obj) -> list[str]:
        name = node["metadata"]["name"]
        live = self.tug.top.get(name) or {}
        cpu, cpus = live.get("cpuCores"), live.get("cpuCapacity")
        mem, mems = live.get("memoryBytes"), live.get("memoryCapacity")
        share = None if cpu is None or not cpus else 100 * cpu / cpus
        cpu_cell = f"{bar(cpu, cpus, 8)} cpu {percent(share)}"
        mem_cell = (f"{bar(mem, mems, 8)} {mib(None if mem is None else mem / 2**20)}/"
                    f"{mib(None if mems is None else mems / 2**20)}")
        return [name, node_state(node), "", cpu_cell, "", mem_cell, "", "", ""]

    def _gpu_row(self, node: Obj, gpu: Obj, holders: dict[tuple[str, str], str]) -> list[str]:
        name, index = node["metadata"]["name"], gpu.get("index")
        product = str(gpu.get("product") or NA)
        sim = " (simulated)" if gpu.get("simulated") and "simulated" not in product.lower() else ""
        util, used = gpu.get("utilizationGpu"), gpu.get("memoryUsedMiB")
        total = gpu.get("memoryTotalMiB") or gpu.get("memoryMiB")
        temp, power = gpu.get("temperatureC"), gpu.get("powerW")
        health = str(gpu.get("health") or NA) + (" IDLE" if gpu.get("idle") else "")
        return [f"  gpu {index}", health, f"{product}{sim}",
                f"{bar(util, 100, 8)} {percent(util)}",
                sparkline(self.tug.history.get((name, index), []), width=12),
                f"{bar(used, total, 8)} {mib(used)}/{mib(total)}",
                NA if temp is None else f"{temp}C", NA if power is None else f"{power:.0f}W",
                ",".join(gpu.get("pods") or []) or holders.get((name, str(index)), "")]

    def on_fast_table_row_selected(self, event: FastTable.RowSelected) -> None:
        """enter on a node or one of its GPUs: the pods on that node (all namespaces)."""
        event.stop()
        table = self.query_one(FastTable)
        if 0 <= table.cursor_row < len(self._row_nodes):
            node = self._row_nodes[table.cursor_row]
            self.tug.push_screen(TableScreen("pods", fields=f"spec.nodeName={node}"))


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


class TextScreen(Screen[None]):
    """Describe, YAML or help: text that scrolls; esc goes back."""

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.crumb, self.text = title, text

    def compose(self) -> ComposeResult:
        yield Header(id="header")
        yield Static(self.text, id="text", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(Header).show(self.app.header_text(self))  # type: ignore[attr-defined]


class JobLens(FeedScreen):
    """One Job in one view: its place in its queue and why it waits, or its progress; its pods
    with node, GPUs and phase; the live use of exactly those GPUs; its newest pod's log tail."""

    resources = ("jobs", "pods", "queues")
    BINDINGS = [Binding("l", "logs", "Logs"), Binding("d", "describe", "Describe")]

    def __init__(self, job: Obj) -> None:
        super().__init__()
        self.uid = job["metadata"]["uid"]
        self.job_name = job["metadata"]["name"]
        self.job_namespace = job["metadata"].get("namespace") or "default"
        self.log_tail = ""
        self._shown: tuple[int, int, int, int, str] | None = None

    @property
    def crumb(self) -> str:  # type: ignore[override]
        return f"job {self.job_namespace}/{self.job_name}"

    def body(self) -> ComposeResult:
        yield Static(id="lens", classes="panel")
        yield FastTable(id="lens-pods")
        yield Static(id="lens-logs", markup=False)

    def on_mount(self) -> None:
        self.set_interval(2.0, self._tail)
        self._tail()

    def _tail(self) -> None:
        pods = self.pods()
        if pods:
            self.tug.fetch_tail(self, pods[-1])

    def job(self) -> Obj | None:
        return self.tug.snapshot("jobs").items.get(self.uid)

    def pods(self) -> list[Obj]:
        """The Job's pods, oldest first."""
        pods = [p for p in self.tug.snapshot("pods").items.values()
                if any(r.get("uid") == self.uid for r in p["metadata"].get("ownerReferences") or [])]
        return sorted(pods, key=lambda p: (p["metadata"].get("creationTimestamp") or "",
                                           p["metadata"]["name"]))

    def refresh_data(self, *, force: bool = False) -> None:
        super().refresh_data(force=force)
        key = (self.tug.snapshot("jobs").version, self.tug.snapshot("pods").version,
               self.tug.snapshot("queues").version, self.tug.top_version, self.log_tail)
        if not force and key == self._shown:
            return
        self._shown = key
        job = self.job()
        self.query_one("#lens", Static).update(self._summary(job))
        keys, rows = [], []
        for pod in self.pods():
            node = (pod.get("spec") or {}).get("nodeName") or ""
            named = [i.strip() for i in ((pod["metadata"].get("annotations") or {}).get(
                "tugboat.dev/gpus") or "").split(",") if i.strip()]
            live = {str(g.get("index")): g for g in (self.tug.top.get(node) or {}).get("gpus") or []}
            utils = [(percent(live[i].get("utilizationGpu")) + (" IDLE" if live[i].get("idle") else ""))
                     if i in live else NA for i in named]
            mems = [mib(live[i].get("memoryUsedMiB")) if i in live else NA for i in named]
            keys.append(pod["metadata"]["uid"])
            rows.append([pod["metadata"]["name"], str((pod.get("status") or {}).get("phase") or "Pending"),
                         node or "-", ",".join(named) or "-", " ".join(utils) or "-", " ".join(mems) or "-"])
        self.query_one("#lens-pods", FastTable).set_data(
            ("POD", "PHASE", "NODE", "GPUS", "UTIL", "MEMORY"), keys, rows)
        self.query_one("#lens-logs", Static).update(
            f"── log of {self.pods()[-1]['metadata']['name']} ──\n{self.log_tail}" if self.pods() else "")

    def _summary(self, job: Obj | None) -> str:
        if job is None:
            return f"[b]{self.job_namespace}/{self.job_name}[/b]: gone"
        spec, status = job.get("spec") or {}, job.get("status") or {}
        queue = (job["metadata"].get("labels") or {}).get("tugboat.dev/queue") or "default"
        lines = [f"[b]{self.job_namespace}/{self.job_name}[/b]  queue {queue}  "
                 f"completions {spec.get('completions', 1)}  parallelism {spec.get('parallelism', 1)}"
                 + (f"  mode {spec['completionMode']}" if spec.get("completionMode") else "")]
        waiting = next((w for q in self.tug.snapshot("queues").items.values()
                        for w in (q.get("status") or {}).get("pending") or []
                        if w.get("kind") == "Job" and w.get("name") == self.job_name
                        and w.get("namespace") == self.job_namespace), None)
        if waiting is not None:
            why = waiting.get("message") or waiting.get("reason")
            lines.append(f"waiting: position {waiting.get('position')}, start "
                         f"{estimated(waiting, self.tug.clock())}: {why}")
        else:
            lines.append(f"succeeded {status.get('succeeded', 0)}  failed {status.get('failed', 0)}  "
                         f"active {status.get('active', 0)}"
                         + (f"  completed indexes {status['completedIndexes']}"
                            if status.get("completedIndexes") else ""))
        for c in status.get("conditions") or []:
            if c.get("status") == "True":
                lines.append(f"{c.get('type')}: {c.get('reason', '')} {c.get('message', '')}".rstrip())
        return "\n".join(lines)

    def action_logs(self) -> None:
        pods = self.pods()
        if pods:
            self.tug.show_logs(pods[-1])

    def action_describe(self) -> None:
        if (job := self.job()) is not None:
            self.tug.show_describe("jobs", job)
