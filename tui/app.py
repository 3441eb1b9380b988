"""The tugboat TUI (`tug tui`, `tug`, `tug up`): a Textual app over live feeds of the control
plane (tui/data.py), reached only through engine/client.py. The App wires: it owns the
feeds and the screens' stack, and runs every request in a worker thread; keys follow k9s."""

from __future__ import annotations

import codecs
import gc
import shlex
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import yaml
from rich.markup import escape
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from engine.api import RESOURCES, resolve
from engine.cli.rollout import RESTARTED_AT, SCALES
from engine.client import Client
from engine.clock import Clock, utcnow
from engine.errors import TugError
from engine.labels import parse_selector
from tui.chrome import Header
from tui.data import Feed, Snapshot
from tui.logs import LogsScreen
from tui.screens import FeedScreen, NodesScreen, QueuesScreen, TableScreen, TextScreen

Obj = dict[str, Any]

GC_LOADING = (50_000, 20, 100)  # the collector's thresholds while a feed lists
GC_IN_USE = (10_000, 10, 10)  # ... and once every feed is in (what loaded frozen)
TICK_S = 0.2  # a feed's change redraws the visible screen at once, then at most this often
TOP_EVERY_S = 2.0  # live GPU figures are polled this often while the nodes screen is open
HISTORY = 60  # samples of each GPU's utilization kept for its sparkline

HELP = """tugboat — keys (k9s's grammar)

  :             command line: a resource name or short name (:po :jobs :cj :no :q :ev),
                with -n NAMESPACE or -A; :nodes, :queues open those screens; :q! quits
  /             filter the table by text; "-l key=value" filters by labels
  0             all namespaces (again: back to the namespace before)
  enter         drill down: node → its pods, job → its lens (its pods, indexes and log
                tail), queue → its workloads,
                deployment or replicaset → its pods
  d  y  l       describe, YAML, logs of the selected row (logs: f follow, w wrap,
                t timestamps, p previous container, s save to a file in the current
                directory)
  e             edit it in $EDITOR and apply (a refusal reopens it with the reason)
  s             scale: a Deployment's or ReplicaSet's replicas, a Job's parallelism
  t             trigger a CronJob now (a Job from its template)
  o             sort by the cursor's column (again: the other way)
  r             rollout restart of a Deployment (new pods, one step at a time)
  ctrl-d        delete the selected object (asks first)
  ctrl-k        kill it: delete with grace 0 (asks first)
  esc           clear the table's filter; else back
  ?             this help
  q             quit (pods keep running; so does the control plane, unless this app's
                `tug up` started it, which stops with the app)
{readonly}"""


class Prompt(ModalScreen[str | None]):
    """A one-line input (the `:` command line, the `/` filter, a yes/no question)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, label: str, *, value: str = "", suggest: list[str] | None = None) -> None:
        super().__init__()
        self.label, self.value = label, value
        # completion: the first matching name is suggested; right arrow takes it
        self.suggester = SuggestFromList(suggest, case_sensitive=False) if suggest else None

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Label(self.label)
            yield Input(value=self.value, id="prompt-input", suggester=self.suggester)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FeedChanged(Message):
    """A feed has news (posted from its thread)."""


class TugApp(App[None]):
    CSS_PATH = "theme.tcss"
    TITLE = "tugboat"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("colon", "command", "Command"),
        Binding("slash", "filter", "Filter"),
        Binding("0", "all_namespaces", "All ns"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, client: Client, *, namespace: str = "default", readonly: bool = False,
                 cluster: str = "", notice: str | None = None, start: str | None = None,
                 clock: Clock = utcnow) -> None:
        super().__init__()
        self.clock = clock  # ages and estimates are read against this (fixed in snapshot tests)
        self.start = start  # a command line to run first (":pods"), as k9s -c
        self.notice = notice  # said once the app is up (what happened before it started)
        self.client = client
        self.namespace: str | None = namespace
        self._previous_namespace = namespace
        self.readonly = readonly
        self.cluster = cluster or client.server
        self._feeds: dict[str, Feed] = {}
        self._stop = threading.Event()
        self._seen: dict[str, int] = {}
        self.top: dict[str, Obj] = {}  # node name -> its live figures (GPUs included)
        self.top_version = 0
        self.history: dict[tuple[str, Any], deque[float | None]] = {}
        self._redraw_due = False  # a redraw is asked for and not yet done
        self._last_redraw = 0.0
        self._gc = gc.get_threshold()
        self._loading = False  # a feed is listing: the collector runs young collections rarely

    # ----- data ---------------------------------------------------------------------------

    def follow(self, resource: str) -> None:
        """Start the live feed of `resource` (once; it runs until the app ends)."""
        if resource in self._feeds:
            return
        feed = self._feeds[resource] = Feed(self.client, resource, changed=self._feed_changed)
        # A thread of its own, not a Textual thread worker: those come from asyncio's default
        # pool (cpu + 4 threads), which a feed held for good would use up after a few screens.
        threading.Thread(target=feed.run, args=(self._stop,), daemon=True, name=f"feed {resource}").start()
        self._collector()

    def snapshot(self, resource: str) -> Snapshot:
        feed = self._feeds.get(resource)
        return feed.snapshot() if feed is not None else Snapshot(resource)

    @property
    def connected(self) -> bool:
        return all(f.snapshot().connected for f in self._feeds.values()) if self._feeds else False

    def breadcrumbs(self, screen: Screen[Any]) -> str:
        """Where `screen` is: the crumbs of the screens under it and its own, home first."""
        stack = self.screen_stack
        upto = stack[:stack.index(screen) + 1] if screen in stack else [*stack, screen]
        return " › ".join(c for c in (str(getattr(s, "crumb", "") or "") for s in upto) if c)

    def header_text(self, screen: Screen[Any]) -> str:
        nodes = self.snapshot("nodes").items.values() if "nodes" in self._feeds else []
        gpus = sum(len((n.get("status") or {}).get("gpus") or []) for n in nodes)
        snaps = [f.snapshot() for f in self._feeds.values()]
        if any(s.error for s in snaps):  # a feed lost its connection (its last data stays)
            state = "[b red]disconnected — retrying[/]"
        elif not snaps or not all(s.connected for s in snaps):  # one not yet listed
            state = "connecting…"
        else:
            state = "connected"
        counts = f"nodes {len(nodes)}  GPUs {gpus}  " if "nodes" in self._feeds else ""
        ro = "  [b]read-only[/]" if self.readonly else ""
        ns = "all namespaces" if self.namespace is None else f"ns {self.namespace}"
        crumbs = escape(self.breadcrumbs(screen))
        return f"[b]tugboat[/] {escape(self.cluster)}  {counts}{escape(ns)}  {state}{ro}\n› {crumbs}"

    def on_mount(self) -> None:
        self._gc = gc.get_threshold()
        self.push_screen(QueuesScreen())
        if self.start:
            self.run_command(self.start)
        self.set_interval(TOP_EVERY_S, self._poll_top)
        self.set_interval(1.0, self._tick)  # a change that came while a screen was switching
        if self.notice:
            self.notify(self.notice, severity="warning", timeout=20)

    def on_unmount(self) -> None:
        gc.set_threshold(*self._gc)
        gc.unfreeze()
        self._stop.set()
        for feed in self._feeds.values():
            feed.close()

    def _feed_changed(self) -> None:
        """A feed changed (called on its thread): redraw soon, at most once per TICK_S."""
        if not self._redraw_due:
            self._redraw_due = True
            self.post_message(FeedChanged())  # (thread-safe)

    def on_feed_changed(self, _: FeedChanged) -> None:
        if not self.screen_stack:  # the app is closing
            return
        wait = self._last_redraw + TICK_S - time.monotonic()
        screen = self.screen
        first = isinstance(screen, FeedScreen) and any(not self._seen.get(r) for r in screen.resources)
        if wait > 0 and not first:  # (a screen's first data is drawn at once)
            self.set_timer(wait, self._redraw)
        else:
            self._redraw()

    def _redraw(self) -> None:
        self._redraw_due = False
        self._last_redraw = time.monotonic()
        self._tick()

    def _collector(self) -> None:
        """A list of 10,000 pods makes half a million objects: while a feed lists, young
        collections run rarely (the default thresholds would run full ones over the growing
        heap again and again); once every feed is in, what loaded is frozen out of the
        collector's scans (plain data, freed by reference counts when replaced)."""
        loading = any(not feed.connected for feed in self._feeds.values())
        if loading and not self._loading:
            gc.set_threshold(*GC_LOADING)
        elif self._loading and not loading:
            gc.freeze()
            gc.set_threshold(*GC_IN_USE)
        self._loading = loading

    def _tick(self) -> None:
        if not self.screen_stack:  # a redraw timer outlived the screens: the app is closing
            return
        self._collector()
        screen = self.screen
        if isinstance(screen, FeedScreen) and "nodes" not in self._feeds and all(
                r in self._feeds and self._feeds[r].connected for r in screen.resources):
            self.follow("nodes")  # the header's counts: once the screen's own data is all in
        # (a screen just pushed is not composed yet; one the closing app tears down has lost its widgets)
        if isinstance(screen, FeedScreen) and screen.is_mounted and screen.query(Header):
            versions = {r: self._feeds[r].version for r in self._feeds}
            if versions != self._seen:
                self._seen = versions
                screen.refresh_data()

    def _poll_top(self) -> None:
        if isinstance(self.screen, NodesScreen):
            self._fetch_top()

    @work(thread=True, exclusive=True, group="top", exit_on_error=False)
    def _fetch_top(self) -> None:
        try:
            out = self.client.request("GET", "/apis/tugboat.dev/v1/top/nodes")
        except (TugError, OSError):
            return
        items = {str(i.get("name")): i for i in out.get("items") or []}
        for name, item in items.items():
            for gpu in item.get("gpus") or []:
                samples = self.history.setdefault((name, gpu.get("index")), deque(maxlen=HISTORY))
                samples.append(gpu.get("utilizationGpu"))
        self.call_from_thread(self._got_top, items)

    def _got_top(self, items: dict[str, Obj]) -> None:
        self.top = items
        self.top_version += 1
        if isinstance(self.screen, NodesScreen):
            self.screen.refresh_data()

    # ----- keys -----------------------------------------------------------------------------

    def action_help(self) -> None:
        note = "\n  read-only: every key that changes something is off" if self.readonly else ""
        screen = self.screen
        keys = []  # this screen's keys first (its own, its table's, the app's), then all of them
        for _, binding, enabled, _ in screen.active_bindings.values():
            if binding.description:
                shown = self.get_key_display(binding)
                keys.append(f"  {shown:<13} {binding.description}{'' if enabled else ' (off)'}")
        here = f"keys of this screen ({getattr(screen, 'crumb', '') or type(screen).__name__}):\n"
        self.push_screen(TextScreen("help", here + "\n".join(keys) + "\n\n" + HELP.format(readonly=note)))

    def action_back(self) -> None:
        screen = self.screen
        if isinstance(screen, TableScreen) and (screen.text_filter, screen.selector) != screen.opened_with:
            screen.text_filter, screen.selector = screen.opened_with  # as k9s: esc clears a filter first
            screen.refresh_data(force=True)
        elif len(self.screen_stack) > 2:  # the default screen, then home
            self.pop_screen()

    def action_all_namespaces(self) -> None:
        if self.namespace is None:
            self.namespace = self._previous_namespace
        else:
            self._previous_namespace, self.namespace = self.namespace, None
        if isinstance(self.screen, FeedScreen):
            self.screen.refresh_data(force=True)

    def action_command(self) -> None:
        names = sorted({n for i in RESOURCES for n in (i.plural, i.singular, *i.short_names)},
                       key=lambda n: (len(n), n))  # the shortest match is suggested first
        self.push_screen(Prompt(":", suggest=names), self.run_command)

    def run_command(self, line: str | None) -> None:
        """`:po -n team`, `:jobs -A`, `:no`, `:queues`, `:q!`."""
        if not line or not line.strip():
            return
        try:
            words = shlex.split(line.strip().lstrip(":"))
        except ValueError as exc:
            self.notify(f"{line}: {exc}", severity="error")
            return
        what, rest = words[0], words[1:]
        if what in ("q!", "quit"):
            self.exit()
            return
        while rest:
            flag = rest.pop(0)
            if flag in ("-A", "--all-namespaces"):
                self.namespace = None
            elif flag in ("-n", "--namespace") and rest:
                self.namespace = rest.pop(0)
            else:
                self.notify(f"{flag}: not understood (use -n NAMESPACE or -A)", severity="error")
                return
        try:
            info = resolve(what)
        except TugError as exc:
            self.notify(exc.message, severity="error")
            return
        screen: Screen[None]
        if info.plural == "queues":
            screen = QueuesScreen()
        elif info.plural == "nodes":
            screen = NodesScreen()
        else:
            screen = TableScreen(info.plural)
        self.push_screen(screen)

    def action_filter(self) -> None:
        screen = self.screen
        if not isinstance(screen, TableScreen):
            self.notify("/ filters a resource table: open one with : first", severity="warning")
            return
        current = f"-l {screen.selector}" if screen.selector else screen.text_filter

        def apply(value: str | None) -> None:
            if value is None:
                return
            value = value.strip()
            if value.startswith("-l"):
                try:
                    parse_selector(value[2:])
                except TugError as exc:
                    self.notify(exc.message, severity="error")
                    return
                screen.selector, screen.text_filter = value[2:].strip(), ""
            else:
                screen.selector, screen.text_filter = "", value
            screen.refresh_data(force=True)
        self.push_screen(Prompt("/", value=current), apply)

    # ----- what a screen asks for ---------------------------------------------------------

    @work(thread=True, group="requests", exit_on_error=False)
    def show_describe(self, resource: str, obj: Obj) -> None:
        from engine.cli.objects import describe_one

        meta = obj["metadata"]
        try:
            text = describe_one(self.client, resolve(resource), obj, clock=self.clock)
        except (TugError, OSError) as exc:
            self.call_from_thread(self.notify, f"describe {meta.get('name')}: {exc}", severity="error")
            return
        self.call_from_thread(self.push_screen, TextScreen(f"describe {resource}/{meta['name']}", text))

    def show_yaml(self, obj: Obj) -> None:
        text = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True)
        self.push_screen(TextScreen(f"yaml {obj.get('kind', '')}/{obj['metadata']['name']}", text))

    def show_logs(self, pod: Obj) -> None:
        self.push_screen(LogsScreen(pod))

    def stream_logs(self, screen: LogsScreen, *, follow: bool, previous: bool,
                    timestamps: bool = False) -> None:
        """Read a pod's log into `screen` on a thread of its own (a followed log holds it as
        long as the screen shows it), until the screen ends the stream."""
        threading.Thread(target=self._stream_logs, args=(screen, follow, previous, timestamps),
                         daemon=True, name="logs").start()

    def _stream_logs(self, screen: LogsScreen, follow: bool, previous: bool, timestamps: bool) -> None:
        meta = screen.pod["metadata"]
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        ended = threading.Event()  # the screen ended it: what the read then says is no error

        def opened(end: Callable[[], None]) -> None:
            def stop() -> None:
                ended.set()
                end()
            self.call_from_thread(screen.opened, stop)
        try:
            for chunk in self.client.logs(meta["name"], namespace=meta.get("namespace") or "default",
                                          tail=LogsScreen.TAIL, follow=follow, previous=previous,
                                          timestamps=timestamps, on_open=opened):
                if ended.is_set():
                    return
                self.call_from_thread(screen.add, decoder.decode(chunk))
        except (TugError, OSError) as exc:
            if ended.is_set() or self._stop.is_set():
                return
            self.call_from_thread(self.notify, f"logs {meta['name']}: {getattr(exc, 'message', exc)}",
                                  severity="error")
        except RuntimeError:  # the app is gone: call_from_thread has nowhere to go
            return

    @work(thread=True, exclusive=True, group="tail", exit_on_error=False)
    def fetch_tail(self, lens: Any, pod: Obj) -> None:
        """The last lines of `pod`'s log, for the job lens."""
        meta = pod["metadata"]
        try:
            text = b"".join(self.client.logs(meta["name"], namespace=meta.get("namespace") or "default",
                                             tail=12)).decode("utf-8", "replace")
        except (TugError, OSError) as exc:
            text = f"(no log: {exc})"
        self.call_from_thread(self._got_tail, lens, text)

    def _got_tail(self, lens: Any, text: str) -> None:
        if lens.log_tail != text:
            lens.log_tail = text
            if self.screen is lens:
                lens.refresh_data()

    def _changes(self, what: str) -> bool:
        """Whether a key that changes something may run; says why not."""
        if self.readonly:
            self.notify(f"read-only: {what} is off (started with --readonly)", severity="warning")
        return not self.readonly

    def trigger(self, cron: Obj) -> None:
        """`t`: run a CronJob's template now, as `tug create job NAME --from=cronjob/...`."""
        if not self._changes("triggering"):
            return
        name = f"{cron['metadata']['name']}-manual-{self.clock().strftime('%H%M%S')}"[:52]
        self._write(lambda: self.client.create(_job_from(cron, name),
                                               namespace=cron["metadata"].get("namespace") or "default"),
                    f"job.batch/{name} created")

    def restart(self, deploy: Obj) -> None:
        """`r`: a rollout of the same template, as `tug rollout restart deployment/...`."""
        if not self._changes("restarting"):
            return
        meta = deploy["metadata"]
        if (deploy.get("spec") or {}).get("paused"):
            self.notify(f"deployment/{meta['name']} is paused: resume it first", severity="warning")
            return
        stamp = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        notes = {RESTARTED_AT: stamp}
        body = {"spec": {"template": {"metadata": {"annotations": notes}}}}
        self._write(lambda: self.client.request("PATCH", _object_path("deployments", meta), body=body),
                    f"deployment.apps/{meta['name']} restarted")

    def scale(self, resource: str, obj: Obj) -> None:
        """`s`: a Job's parallelism, a Deployment's or ReplicaSet's replicas."""
        if not self._changes("scaling"):
            return
        field = SCALES.get(resource)
        if field is None:
            self.notify(f"{resource} do not scale (jobs, deployments and replicasets do)", severity="warning")
            return
        meta, current = obj["metadata"], (obj.get("spec") or {}).get(field, 1)

        def answer(value: str | None) -> None:
            if value is None or not value.strip():
                return
            try:
                count = int(value)
            except ValueError:
                self.notify(f"scale: {value!r} is not a whole number", severity="error")
                return
            self._write(lambda: self.client.request(
                "PATCH", _object_path(resource, meta), body={"spec": {field: count}}),
                f"{resource}/{meta['name']} scaled to {count}")
        self.push_screen(Prompt(f"{field} of {resource}/{meta['name']} (now {current}):"), answer)

    def edit(self, resource: str, obj: Obj) -> None:
        """`e`: the object in $EDITOR; saved, it is applied; refused, the error is shown and
        the editor opens again on what was written."""
        if not self._changes("editing"):
            return
        from engine.cli.edit import edit_loop, run_editor

        meta = obj["metadata"]

        def in_terminal(path: str) -> None:
            with self.suspend():
                run_editor(path)

        def save(doc: Obj) -> None:
            self.client.request("PUT", _object_path(resource, meta), body=doc)
        try:
            saved = edit_loop(obj, save, edit=in_terminal)
        except OSError as exc:
            self.notify(f"edit: {exc}", severity="error")
            return
        self.notify(f"{resource}/{meta['name']} edited" if saved else "edit: nothing changed")

    @work(thread=True, group="requests", exit_on_error=False)
    def _write(self, call: Any, done: str) -> None:
        try:
            call()
        except (TugError, OSError) as exc:
            self.call_from_thread(self.notify, f"{getattr(exc, 'message', exc)}", severity="error")
            return
        self.call_from_thread(self.notify, done)

    def confirm_delete(self, resource: str, obj: Obj, *, grace: int | None) -> None:
        meta = obj["metadata"]
        if not self._changes("deleting"):
            return
        verb = "kill (grace 0)" if grace == 0 else "delete"

        def answer(value: str | None) -> None:
            if value is not None and value.strip().lower() in ("y", "yes"):
                self._delete(resource, meta.get("namespace") or "default", meta["name"], grace)
        self.push_screen(Prompt(f"{verb} {resource}/{meta['name']}? type y and enter"), answer)

    @work(thread=True, group="requests", exit_on_error=False)
    def _delete(self, resource: str, namespace: str, name: str, grace: int | None) -> None:
        try:
            self.client.delete(resource, name, namespace=namespace, grace_seconds=grace)
        except (TugError, OSError) as exc:
            self.call_from_thread(self.notify, f"delete {name}: {exc}", severity="error")
            return
        self.call_from_thread(self.notify, f"{resource}/{name} deleted")


def _job_from(cron: Obj, name: str) -> Obj:
    from engine.cli.workloads import job_from_cronjob

    return job_from_cronjob(cron, name)


def _object_path(resource: str, meta: Obj) -> str:
    from engine.paths import object_path

    info = resolve(resource)
    return object_path(info, meta.get("namespace") if info.namespaced else None, meta["name"])
