"""A pane that shows one probe's result: a keyed table, or one line saying why not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from core.state import ProbeResult, ProbeStatus
from widgets.cached_table import CachedTable
from widgets.colors import theme_color
from widgets.safe import safe_text

Row = tuple[str, Sequence[Text]]


class KeyedTable(CachedTable):
    """A DataTable whose rows are replaced by key and changed cell by cell, never cleared."""

    def __init__(self, columns: Sequence[str], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._columns = columns
        self._rows: dict[str, tuple[Text, ...]] = {}

    def on_mount(self) -> None:
        for column in self._columns:
            self.add_column(column, key=column)

    def sync(self, rows: Sequence[Row]) -> None:
        """Make the table hold exactly ``rows`` (in their order for new rows)."""
        wanted = {key: tuple(cells) for key, cells in rows}
        for key in [k for k in self._rows if k not in wanted]:
            self.remove_row(key)
            del self._rows[key]
        for key, cells in wanted.items():
            old = self._rows.get(key)
            if old is None:
                self.add_row(*cells, key=key)
            else:
                self.update_changed_cells(key, old, cells)
            self._rows[key] = cells

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value


class ProbePane(Vertical):
    """Base for the per-probe panes: subclasses name columns and turn data into rows."""

    COLUMNS: ClassVar[Sequence[str]] = ()
    WHAT: ClassVar[str] = "data"

    DEFAULT_CSS = """
    ProbePane { height: 1fr; }
    ProbePane > .pane-status { height: auto; padding: 0 1; color: $text-muted; }
    ProbePane > .pane-summary { height: auto; padding: 0 1; }
    ProbePane > KeyedTable { height: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result: ProbeResult[Any] | None = None
        self._drawn: tuple[int, ...] = ()
        self._hidden_result: tuple[ProbeResult[Any] | None] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(f"waiting for {self.WHAT}…"), classes="pane-status")
        yield Static(classes="pane-summary")
        yield KeyedTable(self.COLUMNS)

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda _: self.redraw(), init=False)

    def on_show(self) -> None:
        self.catch_up()

    def catch_up(self) -> None:
        """Draw now the newest result that arrived while the pane was out of sight."""
        if self._hidden_result is not None:
            (result,) = self._hidden_result
            self._hidden_result = None
            self._draw(result)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, in the newest result.

        Actions bound on the whole dashboard read it from any tab: a pane out
        of sight draws what it holds back first, so the row belongs to the
        host on screen now and not to the one shown when the tab was left.
        """
        self.catch_up()
        return self.table.selected_key

    def _out_of_sight(self) -> bool:
        """True while the pane or an ancestor is not displayed (another tab is open)."""
        return not all(node.display for node in self.ancestors_with_self)

    def redraw(self) -> None:
        """Draw the shown result again (its colours come from the theme)."""
        self._drawn = ()
        waiting = self._hidden_result
        self.show(self.result if waiting is None else waiting[0])

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    def show(self, result: ProbeResult[Any] | None) -> None:
        """Render ``result``: its rows, or the one-line reason there are none.

        While the pane is out of sight only the newest result is kept, and
        drawn when the pane is shown: redrawing hidden panes costs a layout
        pass of the whole screen on every refresh.
        """
        if self._out_of_sight():
            self._hidden_result = (result,)
            return
        self._hidden_result = None
        self._draw(result)

    def _draw(self, result: ProbeResult[Any] | None) -> None:
        drawn = self._drawn_from(result)
        if result is not None and drawn == self._drawn:
            return  # already shown (the host's other probes changed)
        self._drawn = drawn
        self.result = result
        status = self.query_one(".pane-status", Static)
        summary = self.query_one(".pane-summary", Static)
        if result is None:
            status.update(Text(f"waiting for {self.WHAT}…"))
            status.display = True
            return
        if not result.ok or result.data is None:
            colour = "state-muted" if result.status is ProbeStatus.NOT_CONFIGURED else "state-down"
            line = safe_text(f"{result.status.value}: {result.reason}" if result.reason
                             else result.status.value)
            line.stylize(theme_color(self, colour))
            status.update(line)
            status.display = True
            summary.display = False
            self.table.sync([])
            self.table.display = False
            return
        status.display = False
        self.table.display = True
        text = self.summary(result.data)
        summary.display = text is not None
        if text is not None:
            summary.update(text)
        self.table.sync(self.rows(result.data))

    def _drawn_from(self, result: ProbeResult[Any] | None) -> tuple[int, ...]:
        """What the pane shows is drawn from (by identity): unchanged means no redraw."""
        return (id(result),)

    def summary(self, data: Any) -> Text | None:
        """One line above the table (None for no line)."""
        return None

    def rows(self, data: Any) -> Sequence[Row]:
        """The table's rows for ``data``."""
        return []
