"""A DataTable that draws again only the rows whose cells changed.

Textual's DataTable keys all its render caches on one table-wide update
counter, so changing one cell renders every cell of every row again through
Rich: about 1 ms per row, 25–40 ms for a table of containers, on every refresh
that moves a figure.  :class:`CachedTable` keeps each row's and each cell's
rendering for as long as what it is drawn from is the same: the cell objects
(rows hold new ``Text`` objects when they change), the row's place, the
column widths, the styles and whether the cursor or the mouse is on the row.

This overrides two private steps of DataTable's rendering (``_render_cell``
and ``_render_line_in_row``, Textual pinned in ``constraints.txt``); a
DataTable that stopped calling them would simply never reach these caches.
Only tables with a row cursor and rows one line high use the row cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.widgets import DataTable

CELL_CACHE_SIZE = 4096
ROW_CACHE_SIZE = 1024

SegmentLines = list[list[Segment]]


def same_text(old: Text, new: Text) -> bool:
    """Whether a cell looks the same: text, spans *and* base style.

    ``Text.__eq__`` ignores the base style, so a cell whose colour alone
    changed (a theme switch, a state colour) would otherwise never be redrawn.
    """
    return old == new and old.style == new.style


class CachedTable(DataTable[Text]):
    """DataTable with per-row and per-cell render caches that survive other rows' changes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # before DataTable's __init__, whose reactive watchers already clear caches
        self._cell_lines: LRUCache[tuple[Any, ...], tuple[object, SegmentLines]] = \
            LRUCache(CELL_CACHE_SIZE)
        self._row_lines: LRUCache[tuple[Any, ...], tuple[tuple[object, ...], Any]] = \
            LRUCache(ROW_CACHE_SIZE)
        super().__init__(*args, **kwargs)

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._cell_lines.clear()
        self._row_lines.clear()

    def update_changed_cells(
        self, key: str, old: tuple[Text, ...], new: tuple[Text, ...]
    ) -> None:
        """Redraw the cells of row ``key`` that look different in ``new``."""
        for column, before, after in zip(self.columns, old, new, strict=True):
            if not same_text(before, after):
                self.update_cell(key, column, after, update_width=True)

    def notify_style_update(self) -> None:
        self._cell_lines.clear()
        self._row_lines.clear()
        super().notify_style_update()

    def _update_column_widths(self, updated_cells: Any) -> None:
        self._measuring(super()._update_column_widths, updated_cells)

    def _update_dimensions(self, new_rows: Any) -> None:
        self._measuring(super()._update_dimensions, new_rows)

    def _measuring(self, measure: Callable[[Any], None], what: Any) -> None:
        """Run one of DataTable's width measurements; widths that moved void every rendering."""
        before = self._widths()
        measure(what)
        if self._widths() != before:
            self._forget_renderings()

    def _widths(self) -> tuple[int, ...]:
        return tuple(column.get_render_width(self) for column in self.columns.values())

    def _forget_renderings(self) -> None:
        """Columns changed width: no rendering of any row is right any more (Textual's too,
        which a miss here would otherwise copy at the old width)."""
        self._update_count += 1
        self._cell_lines.clear()
        self._row_lines.clear()
        self.refresh()

    def _common_key(self) -> tuple[Any, ...]:
        """What every cell and row rendering depends on besides its own place and content."""
        return (self.cursor_type, self.show_cursor, self._show_hover_cursor,
                self._pseudo_class_state, self.fixed_columns, self.fixed_rows,
                self.show_row_labels, self._labelled_row_exists, self.zebra_stripes,
                self.cell_padding)

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        if row_index < 0 or column_index < 0:  # header and row labels: few, cheap
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        row = self._data.get(row_key) if row_key is not None else None
        if row is None or column_key not in row:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        value = row[column_key]
        key = (row_key, column_key, row_index, column_index, base_style, width, cursor, hover,
               id(value), *self._common_key())
        hit = self._cell_lines.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        self._cell_lines[key] = (value, lines)
        return lines

    def _render_line_in_row(
        self,
        row_key: Any,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[SegmentLines, SegmentLines]:
        row = self._data.get(row_key)
        if row is None or self.cursor_type != "row" or row_key not in self._row_locations \
                or self.rows[row_key].height != 1:
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location)
        row_index = self._row_locations.get(row_key)
        cells = tuple(row.values())
        key = (
            row_key, line_no, base_style, row_index,
            cursor_location.row == row_index, hover_location.row == row_index,
            self.size.width, self._row_label_column_width,
            tuple(column.get_render_width(self) for column in self.ordered_columns),
            tuple(id(cell) for cell in cells),
            *self._common_key(),
        )
        hit = self._row_lines.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], cells, strict=True)):
            rendered: tuple[SegmentLines, SegmentLines] = hit[1]
            return rendered
        rendered = super()._render_line_in_row(
            row_key, line_no, base_style, cursor_location, hover_location)
        self._row_lines[key] = (cells, rendered)
        return rendered
