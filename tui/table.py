"""The fast table: renders only the rows on screen (Textual's Line API) and takes new data as
whole lists keyed by uid, keeping the cursor on the same row; 10,000 rows cost what the
screen shows, not what the table holds. Rows may be given as a function (`set_rows`), called
only for the rows drawn; columns are then as wide as the widest cell drawn so far (capped).
Cells of the status-like columns are coloured by their tone (tui/format.py, theme.tcss)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.format import TONED_COLUMNS, tone

GAP = 2
MAX_WIDTH = 80  # a column never takes more than this; longer cells are cut


class FastTable(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    FastTable { height: 1fr; }
    FastTable > .fast-table--header { text-style: bold; }
    FastTable > .fast-table--cursor { text-style: reverse; }
    """
    COMPONENT_CLASSES = {"fast-table--header", "fast-table--cursor",
                         "tone--good", "tone--bad", "tone--wait", "tone--idle"}
    BINDINGS = [
        Binding("up", "cursor(-1)", "Row up", show=False),
        Binding("down", "cursor(1)", "Row down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "to(0)", "First row", show=False), Binding("end", "to(-1)", "Last row", show=False),
        Binding("left", "column(-1)", "Column left", show=False),
        Binding("right", "column(1)", "Column right", show=False),
        Binding("enter", "select", "Open", show=False),
    ]

    class RowSelected(Message):
        """enter on a row."""

        def __init__(self, table: FastTable, key: str) -> None:
            super().__init__()
            self.table, self.key = table, key

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.headers: list[str] = []
        self.keys: list[str] = []
        self.widths: list[int] = []
        self._source: Callable[[int], list[str]] = lambda i: []
        self._drawn: dict[int, list[str]] = {}
        self.cursor_row = 0
        self.cursor_column = 0
        self._toned: list[bool] = []
        self._styles: dict[str, Style] = {}  # component class -> its style, until the CSS changes
        self.first_row_drawn_at: float | None = None  # perf_counter() when a row was first drawn

    # ----- data -------------------------------------------------------------------------------

    def set_data(self, headers: Sequence[str], keys: Sequence[str], rows: Sequence[list[str]]) -> None:
        """Show these rows (`keys[i]` names `rows[i]`); the cursor stays on its row's key."""
        listed = list(rows)
        self.set_rows(headers, keys, listed.__getitem__)
        for row in listed:
            self._fit(row)
        self._resize()

    def set_rows(self, headers: Sequence[str], keys: Sequence[str], row: Callable[[int], list[str]]) -> None:
        """Show `len(keys)` rows whose cells `row(i)` gives, asked only for the rows drawn (each
        at most once until the next call); the cursor stays on its row's key."""
        current = self.keys[self.cursor_row] if 0 <= self.cursor_row < len(self.keys) else None
        self.headers, self.keys = list(headers), list(keys)
        self._source, self._drawn = row, {}
        self.widths = [len(h) for h in self.headers]
        self._toned = [h in TONED_COLUMNS for h in self.headers]
        if current is not None and not (0 <= self.cursor_row < len(self.keys)
                                        and self.keys[self.cursor_row] == current):
            try:
                self.cursor_row = self.keys.index(current)
            except ValueError:
                pass  # its row is gone: the cursor keeps its place
        self.cursor_row = max(0, min(self.cursor_row, len(self.keys) - 1))
        self.cursor_column = max(0, min(self.cursor_column, len(self.headers) - 1))
        top = self.scroll_offset.y
        for i in range(top, min(top + max(self.size.height, 1), len(self.keys))):
            self._fit(self.get_row_at(i))  # what is on screen now sets the first widths
        self._resize()

    def _fit(self, row: list[str]) -> bool:
        wider = False
        for i, cell in enumerate(row[:len(self.widths)]):
            if len(cell) > self.widths[i] and self.widths[i] < MAX_WIDTH:
                self.widths[i], wider = min(len(cell), MAX_WIDTH), True
        return wider

    def _resize(self) -> None:
        self.virtual_size = Size(sum(self.widths) + GAP * max(len(self.widths) - 1, 0), len(self.keys) + 1)
        self.refresh()

    @property
    def rows(self) -> list[list[str]]:
        """Every row (each computed if it was not yet): for tests and small tables."""
        return [self.get_row_at(i) for i in range(len(self.keys))]

    @property
    def row_count(self) -> int:
        return len(self.keys)

    def get_row_at(self, index: int) -> list[str]:
        row = self._drawn.get(index)
        if row is None:
            row = self._drawn[index] = self._source(index)
        return row

    def redraw(self) -> None:
        """Draw the rows on screen again from their source (their cells may have moved on)."""
        self._drawn = {}
        self.refresh()

    def move_cursor(self, *, row: int) -> None:
        self.cursor_row = max(0, min(row, len(self.keys) - 1))
        self._show_cursor()
        self.refresh()

    # ----- rendering --------------------------------------------------------------------------

    def _line(self, cells: Sequence[str]) -> str:
        return (" " * GAP).join(cell[:w].ljust(w) for cell, w in zip(cells, self.widths, strict=False))

    def notify_style_update(self) -> None:
        self._styles = {}
        super().notify_style_update()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name, partial=True)
        return style

    def _segments(self, cells: Sequence[str], base: Style) -> list[Segment]:
        """A row's cells, each in its tone where its column is toned, on the row's style."""
        out: list[Segment] = []
        for i, (cell, w) in enumerate(zip(cells, self.widths, strict=False)):
            text = cell[:w].ljust(w) + (" " * GAP if i < len(self.widths) - 1 else "")
            kind = tone(cell) if self._toned[i] else None
            style = base + self._style(f"tone--{kind}") if kind else base
            out.append(Segment(text, style))
        return out

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self._styles.get("")
        if base is None:  # the table's own style walks its ancestors: once until the CSS changes
            base = self._styles[""] = self.rich_style
        if y == 0:
            style = base + self._style("fast-table--header")
            segments = [Segment(self._line(self.headers), style)]
        else:
            index = scroll_y + y - 1
            if index >= len(self.keys):
                return Strip.blank(width, base)
            row = self.get_row_at(index)
            if self.first_row_drawn_at is None:
                self.first_row_drawn_at = time.perf_counter()
            if self._fit(row):  # a wider cell came on screen: every line moves with it
                self.call_later(self._resize)
            if index == self.cursor_row:
                base = base + self._style("fast-table--cursor")
            segments = self._segments(row, base)
        strip = Strip(segments).extend_cell_length(scroll_x + width, base)
        return strip.crop(scroll_x, scroll_x + width)

    # ----- keys -------------------------------------------------------------------------------

    def _show_cursor(self) -> None:
        """Scroll so the cursor's row is on screen (under the fixed header line)."""
        visible = max(self.size.height - 1, 1)
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(row=self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(row=self.cursor_row + direction * max(self.size.height - 2, 1))

    def action_to(self, where: int) -> None:
        self.move_cursor(row=len(self.keys) - 1 if where < 0 else 0)

    def action_column(self, delta: int) -> None:
        self.cursor_column = max(0, min(self.cursor_column + delta, len(self.headers) - 1))
        self.scroll_to(x=sum(self.widths[:self.cursor_column]) + GAP * self.cursor_column, animate=False)

    def action_select(self) -> None:
        if 0 <= self.cursor_row < len(self.keys):
            self.post_message(self.RowSelected(self, self.keys[self.cursor_row]))
