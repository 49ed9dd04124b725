"""A fast, bounded log view: follow/pause, filter, search, error highlighting.

Lines arrive at any rate through :meth:`LogView.append`; they are made
harmless (:func:`core.textsafe.visible`) and buffered, and a timer folds the
buffer into the view a few dozen times a second, so a container printing
as fast as it can never starves key handling.  Memory is bounded by
``max_lines``.  Only the rows on screen are rendered (Line API).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from core.patterns import compile_pattern
from core.textsafe import visible
from widgets.colors import theme_color

ERROR_WORDS = re.compile(
    r"\b(error|err|fatal|critical|crit|panic|exception|traceback|failed|failure)\b", re.I
)
FLUSH_INTERVAL = 1 / 30


@dataclass(frozen=True)
class Query:
    """A filter or search: a substring, or a regex when written as ``re:PATTERN``."""

    text: str
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> Query | None:
        """``None`` for empty text; ``re.error`` for a bad regex."""
        if not text:
            return None
        if text.startswith("re:"):
            return cls(text, compile_pattern(text[3:], re.I))
        return cls(text, re.compile(re.escape(text), re.I))

    def matches(self, line: str) -> bool:
        return self.pattern.search(line) is not None


class LogView(ScrollView, can_focus=True):
    """Shows the newest ``max_lines`` lines of a stream."""

    DEFAULT_CSS = """
    LogView { height: 1fr; background: $surface; }
    """

    class StatusChanged(Message):
        """Follow state, line count, filter or search results changed."""

    def __init__(self, max_lines: int = 20_000, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.max_lines = max_lines
        self._all: deque[str] = deque(maxlen=max_lines)
        self._shown: deque[str] = self._all
        self._pending: list[str] = []
        self._width = 0
        self.following = True
        self.filter: Query | None = None
        self.search: Query | None = None
        self.match_rows: list[int] = []
        self.match_index = -1
        self.received = 0
        self._error_style = Style()
        self._match_style = Style()
        self._pass_styles: tuple[Style, Style] | None = None  # (plain, error) while rendering

    def on_mount(self) -> None:
        self._restyle()
        self.watch(self.app, "theme", lambda _: self._restyle(), init=False)
        self.set_interval(FLUSH_INTERVAL, self._flush)

    def _restyle(self) -> None:
        self._error_style = Style(color=theme_color(self, "log-error"), bold=True)
        self._match_style = Style(bgcolor=theme_color(self, "log-match"), color="black")
        self.refresh()

    # -- input -------------------------------------------------------------------

    def append(self, line: str) -> None:
        """Queue one raw (untrusted) line; it shows at the next flush."""
        self._pending.append(line)

    def extend(self, lines: Iterable[str]) -> None:
        """Queue many raw lines."""
        self._pending.extend(lines)

    def _flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        if len(batch) > self.max_lines:
            batch = batch[-self.max_lines:]
        clean = [visible(line.rstrip("\n")) for line in batch]
        self.received += len(clean)
        self._all.extend(clean)
        if self._shown is not self._all and self.filter is not None:
            self._shown.extend(line for line in clean if self.filter.matches(line))
        self._width = max(self._width, max((len(line) for line in clean), default=0))
        if self.search is not None:
            self._find_matches()
        self._resize()
        if self.following:
            self.scroll_end(animate=False)
        self.post_message(self.StatusChanged())

    def _resize(self) -> None:
        self.virtual_size = Size(self._width, len(self._shown))
        self.refresh()

    # -- follow --------------------------------------------------------------------

    def set_following(self, following: bool) -> None:
        """Follow the newest line (True) or hold the view where it is (False)."""
        self.following = following
        if following:
            self.scroll_end(animate=False)
        self.post_message(self.StatusChanged())

    def jump_to_end(self) -> None:
        """Go to the newest line and follow again."""
        self.set_following(True)

    def _on_mouse_scroll_up(self, event: object) -> None:
        self.set_following(False)

    def action_scroll_up(self) -> None:
        self.set_following(False)
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self.set_following(False)
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self.set_following(False)
        super().action_scroll_home()

    # -- filter and search -------------------------------------------------------

    @property
    def shown_count(self) -> int:
        """Lines in view (after the filter)."""
        return len(self._shown)

    def shown_lines(self) -> list[str]:
        """A copy of the lines in view, oldest first (for tests and copying)."""
        return list(self._shown)

    def set_filter(self, query: Query | None) -> None:
        """Show only lines matching ``query`` (None: every line)."""
        self.filter = query
        if query is None:
            self._shown = self._all
        else:
            matching = (line for line in self._all if query.matches(line))
            self._shown = deque(matching, maxlen=self.max_lines)
        if self.search is not None:
            self._find_matches()
        self._resize()
        if self.following:
            self.scroll_end(animate=False)
        self.post_message(self.StatusChanged())

    def set_search(self, query: Query | None) -> None:
        """Highlight ``query`` and go to its last match."""
        self.search = query
        self.match_index = -1
        self._find_matches()
        if self.match_rows:
            self.match_index = len(self.match_rows) - 1
            self._show_match()
        self.refresh()
        self.post_message(self.StatusChanged())

    def _find_matches(self) -> None:
        query = self.search
        if query is None:
            self.match_rows = []
            return
        current = self.match_rows[self.match_index] if 0 <= self.match_index < len(
            self.match_rows) else None
        self.match_rows = [i for i, line in enumerate(self._shown) if query.matches(line)]
        if current is not None and current in self.match_rows:
            self.match_index = self.match_rows.index(current)
        elif self.match_index >= len(self.match_rows):
            self.match_index = len(self.match_rows) - 1

    def next_match(self, step: int = 1) -> None:
        """Move to the next (``step=1``) or previous (``-1``) match, wrapping around."""
        if not self.match_rows:
            return
        self.match_index = (self.match_index + step) % len(self.match_rows)
        self._show_match()
        self.post_message(self.StatusChanged())

    def _show_match(self) -> None:
        self.following = False
        row = self.match_rows[self.match_index]
        self.scroll_to(y=max(0, row - self.size.height // 2), animate=False, immediate=True)
        self.refresh()

    # -- rendering -----------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        # the widget's style walks its ancestors: once per pass, not once per line
        style = self.rich_style
        self._pass_styles = (style, style + self._error_style)
        try:
            return super().render_lines(crop)
        finally:
            self._pass_styles = None

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        plain, error = self._pass_styles or (self.rich_style, self.rich_style + self._error_style)
        if row >= len(self._shown):
            return Strip.blank(width, plain)
        line = self._shown[row]
        base = error if ERROR_WORDS.search(line) else plain
        segments = self._segments(line, base, row)
        strip = Strip(segments).crop_extend(scroll_x, scroll_x + width, base)
        return strip

    def _segments(self, line: str, base: Style, row: int) -> list[Segment]:
        query = self.search
        if query is None:
            return [Segment(line, base)]
        segments: list[Segment] = []
        last = 0
        current = (
            0 <= self.match_index < len(self.match_rows)
            and self.match_rows[self.match_index] == row
        )
        match_style = base + self._match_style
        if current:
            match_style += Style(underline=True)
        for found in query.pattern.finditer(line):
            if found.start() == found.end():
                continue
            segments.append(Segment(line[last:found.start()], base))
            segments.append(Segment(found.group(), match_style))
            last = found.end()
        segments.append(Segment(line[last:], base))
        return segments
