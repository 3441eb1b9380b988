"""The TUI's logs screen: a pod's log read through the app's stream, followed, wrapped,
with each line's time, the previous container's, saved to a file."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import RichLog

from tui.chrome import Header, KeyBar

Obj = dict[str, Any]


class LogsScreen(Screen[None]):
    """A pod's log: the last 1,000 lines, then followed as it grows (f stops and starts it);
    w wraps long lines, t puts each line's time in front, p shows the previous container's, s
    saves what is shown to a file."""

    BINDINGS = [Binding("f", "follow", "Follow"), Binding("w", "wrap", "Wrap"),
                Binding("t", "timestamps", "Times"),
                Binding("p", "previous", "Previous"), Binding("s", "save", "Save")]
    TAIL = 1000

    def __init__(self, pod: Obj) -> None:
        super().__init__()
        self.pod = pod
        self.follow, self.wrap, self.previous, self.timestamps = True, True, False, False
        self.lines: list[str] = []
        self._partial = ""
        self._end: Any = None  # ends the stream under way

    @property
    def tug(self) -> Any:
        return self.app

    def compose(self) -> ComposeResult:
        yield Header(id="header")
        yield RichLog(id="log", wrap=True, markup=False, highlight=False, max_lines=50_000)
        yield KeyBar()

    def on_mount(self) -> None:
        self.restart()

    def on_unmount(self) -> None:
        self.stop()

    @property
    def crumb(self) -> str:
        meta = self.pod["metadata"]
        modes = [m for m, on in (("following", self.follow), ("wrapped", self.wrap),
                                 ("timestamps", self.timestamps),
                                 ("previous container", self.previous)) if on]
        return f"logs {meta.get('namespace')}/{meta['name']} ({', '.join(modes) or 'as read'})"

    def title_line(self) -> str:
        return str(self.tug.header_text(self))

    def stop(self) -> None:
        if self._end is not None:
            self._end()
            self._end = None

    def restart(self) -> None:
        self.stop()
        self.lines, self._partial = [], ""
        self.query_one(RichLog).clear()
        self.query_one(Header).show(self.title_line())
        self.tug.stream_logs(self, follow=self.follow and not self.previous, previous=self.previous,
                             timestamps=self.timestamps)

    def opened(self, end: Any) -> None:
        self._end = end
        if not self.is_mounted:  # left before the stream opened
            self.stop()

    def add(self, text: str) -> None:
        """Text read from the stream (called on the UI thread)."""
        text = self._partial + text
        *complete, self._partial = text.split("\n")
        log = self.query_one(RichLog)
        for line in complete:
            self.lines.append(line)
            log.write(line)

    def action_follow(self) -> None:
        self.follow = not self.follow
        self.restart()

    def action_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        self.restart()

    def action_previous(self) -> None:
        self.previous = not self.previous
        self.restart()

    def action_wrap(self) -> None:
        self.wrap = not self.wrap
        log = self.query_one(RichLog)
        log.wrap = self.wrap
        log.clear()
        for line in self.lines:
            log.write(line)
        self.query_one(Header).show(self.title_line())

    def action_save(self) -> None:
        meta = self.pod["metadata"]
        stamp = self.tug.clock().strftime("%Y%m%dT%H%M%SZ")
        path = f"{meta.get('namespace')}_{meta['name']}_{stamp}.log"
        try:
            with open(path, "w") as fh:
                fh.write("\n".join(self.lines) + ("\n" if self.lines else ""))
        except OSError as exc:
            self.notify(f"save: {exc}", severity="error")
            return
        self.notify(f"saved {len(self.lines)} lines to {path}")
