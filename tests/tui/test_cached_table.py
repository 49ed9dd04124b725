"""CachedTable draws what the rows hold now: changed cells, the cursor row, the theme."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip

from widgets.cached_table import CachedTable


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CachedTable(cursor_type="row", zebra_stripes=True)


def _lines(table: CachedTable) -> list[Strip]:
    return table.render_lines(Region(0, 0, table.size.width, table.size.height))


def _text(strip: Strip) -> str:
    return "".join(segment.text for segment in strip)


async def test_changed_cell_cursor_and_theme_are_drawn_again() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(CachedTable)
        table.add_column("name", key="name")
        table.add_column("mem", key="mem")
        for i in range(5):
            table.add_row(Text(f"row{i}"), Text(f"{i}00K"), key=f"r{i}")
        await pilot.pause()
        before = _lines(table)
        assert "row3" in _text(before[4]) and "300K" in _text(before[4])

        table.update_cell("r3", "mem", Text("9.9M"), update_width=True)
        await pilot.pause()
        after = _lines(table)
        assert "9.9M" in _text(after[4]) and "300K" not in _text(after[4])
        assert after[2] == before[2], "an unchanged row was drawn differently"

        cursor_row_before = after[1]  # row0 has the cursor
        table.move_cursor(row=2)
        await pilot.pause()
        moved = _lines(table)
        assert moved[1] != cursor_row_before, "the row the cursor left kept its highlight"
        assert moved[3] != after[3], "the row the cursor reached is not highlighted"

        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        themed = _lines(table)
        assert themed[2] != moved[2], "a theme change kept the old colours"
        assert "row1" in _text(themed[2])


async def test_a_cell_whose_colour_alone_changed_is_redrawn() -> None:
    from widgets.probe_pane import KeyedTable

    class KeyedApp(App[None]):
        def compose(self) -> ComposeResult:
            yield KeyedTable(["state"])

    app = KeyedApp()
    async with app.run_test(size=(40, 5)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([("a", [Text("running", style="green")])])
        await pilot.pause()
        table.sync([("a", [Text("running", style="red")])])  # e.g. after a theme switch
        assert table.get_cell("a", "state").style == "red"
