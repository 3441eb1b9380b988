"""The fast table in a real (headless) app: only the rows on screen are drawn, the header stays,
the cursor keeps its row's key when the data changes, and the keys move it."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.table import FastTable


class _One(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield FastTable(id="t")

    def on_fast_table_row_selected(self, event: FastTable.RowSelected) -> None:
        self.selected.append(event.key)


def _lines(table: FastTable) -> list[str]:
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


async def test_ten_thousand_rows_draw_what_is_on_screen_and_keep_the_cursor() -> None:
    app = _One()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(FastTable)
        table.focus()
        keys = [f"uid-{i}" for i in range(10_000)]
        table.set_data(["NAME", "STATUS"], keys, [[f"pod-{i}", "Running"] for i in range(10_000)])
        await pilot.pause()
        lines = _lines(table)
        assert lines[0].split() == ["NAME", "STATUS"] and lines[1].split() == ["pod-0", "Running"]
        await pilot.press("end")
        await pilot.pause()
        lines = _lines(table)
        assert table.cursor_row == 9_999 and lines[0].split() == ["NAME", "STATUS"]  # the header stays
        assert lines[-1].split() == ["pod-9999", "Running"]
        await pilot.press("up", "up")
        assert table.cursor_row == 9_997
        # new data, another order: the cursor stays on its row's key
        table.set_data(["NAME", "STATUS"], list(reversed(keys)),
                       [[f"pod-{i}", "Done"] for i in reversed(range(10_000))])
        assert table.keys[table.cursor_row] == "uid-9997" and table.cursor_row == 2
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("pagedown")
        assert table.cursor_row == 12 - 2
        await pilot.press("right")
        assert table.cursor_column == 1
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == [table.keys[table.cursor_row]]


async def test_long_cells_are_cut_at_the_column_cap_and_empty_data_is_fine() -> None:
    app = _One()
    async with app.run_test(size=(200, 5)):
        table = app.query_one(FastTable)
        table.set_data(["A"], ["k"], [["x" * 500]])
        assert table.widths == [80]
        table.set_data(["A", "B"], [], [])
        assert table.row_count == 0 and table.cursor_row == 0
