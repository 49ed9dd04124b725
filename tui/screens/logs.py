"""The logs screen: follow a container's output, filter it, search it."""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from widgets.log_view import LogView, Query
from widgets.safe import safe_text
from widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from tui.app import WarroomApp

TAIL_LINES = 500
YIELD_EVERY = 256
"""Most lines handed to the view between two checks of the clock."""
YIELD_SECONDS = 0.005
"""Longest the log worker holds the event loop while lines pour in."""


class LogScreen(Screen[None]):
    """Live logs of one container."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="logs.back"),
        Binding("space", "toggle_follow", "Follow/pause", id="logs.follow"),
        Binding("slash", "ask('search')", "Search", id="logs.search"),
        Binding("n", "next_match(1)", "Next", id="logs.next"),
        Binding("N", "next_match(-1)", "Prev", id="logs.prev"),
        Binding("f", "ask('filter')", "Filter", id="logs.filter"),
        Binding("G,end", "jump_end", "End", id="logs.end"),
    ]

    DEFAULT_CSS = """
    LogScreen #log-status { height: 1; padding: 0 1; background: $panel; }
    LogScreen #log-input { display: none; }
    LogScreen #log-input.asking { display: block; }
    """

    def __init__(
        self, host: str, container_id: str, container_name: str, *, file_path: str = ""
    ) -> None:
        """Logs of container ``container_id``, or of ``file_path`` on the host when given."""
        super().__init__()
        self.host = host
        self.container_id = container_id
        self.container_name = container_name
        self.file_path = file_path
        self.asking = ""
        self.source_error = ""

    @property
    def warroom(self) -> WarroomApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield LogView(id="log")
        yield Static(id="log-status")
        yield Input(id="log-input")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"logs of {self.container_name} on {self.host}"
        if self.file_path:
            self.sub_title = f"{self.file_path} on {self.host}"
        self.query_one(LogView).focus()
        self._status()
        self.follow_logs()

    @work(exclusive=True, group="logs")
    async def follow_logs(self) -> None:
        view = self.query_one(LogView)
        probes = self.warroom.monitor.probes.get(self.host)
        if probes is None:
            self.source_error = f"host {self.host} has no probes"
            self._status()
            return
        if self.file_path:
            source = probes.log_file_batches(self.file_path, TAIL_LINES)
        else:
            source = probes.container_log_batches(self.container_id, TAIL_LINES)
        # a firehose must not starve key presses: hand the loop back every few
        # milliseconds (not after every read: a busy stream reads a line or two at a time)
        yielded = time.monotonic()
        async for batch in source:
            for start in range(0, len(batch), YIELD_EVERY):
                view.extend(line.text for line in batch[start:start + YIELD_EVERY])
                if time.monotonic() - yielded >= YIELD_SECONDS:
                    await asyncio.sleep(0)
                    yielded = time.monotonic()
        self.source_error = "log stream ended"
        self._status()

    @on(LogView.StatusChanged)
    def _status(self) -> None:
        view = self.query_one(LogView)
        text = Text()
        text.append("FOLLOWING" if view.following else "PAUSED", style="bold")
        text.append(f"  {view.shown_count} lines")
        if view.filter is not None:
            text.append("  filter: ")
            text.append_text(safe_text(view.filter.text))
        if view.search is not None:
            position = view.match_index + 1 if view.match_rows else 0
            text.append(f"  search {position}/{len(view.match_rows)}: ")
            text.append_text(safe_text(view.search.text))
        if self.source_error:
            text.append(f"  ({self.source_error})")
        # one line of fixed height: no layout pass of the screen for every flush
        self.query_one("#log-status", Static).update(text, layout=False)

    def action_back(self) -> None:
        if self.asking:
            self._close_input()
            return
        self.app.pop_screen()

    def action_toggle_follow(self) -> None:
        view = self.query_one(LogView)
        view.set_following(not view.following)

    def action_jump_end(self) -> None:
        self.query_one(LogView).jump_to_end()

    def action_next_match(self, step: int) -> None:
        self.query_one(LogView).next_match(step)

    def action_ask(self, what: str) -> None:
        self.asking = what
        box = self.query_one("#log-input", Input)
        view = self.query_one(LogView)
        current = view.search if what == "search" else view.filter
        box.value = current.text if current else ""
        box.placeholder = f"{what}: text, or re:REGEX (empty clears)"
        box.add_class("asking")
        box.focus()

    def _close_input(self) -> None:
        self.asking = ""
        box = self.query_one("#log-input", Input)
        box.remove_class("asking")
        self.query_one(LogView).focus()

    @on(Input.Submitted, "#log-input")
    def _submitted(self, event: Input.Submitted) -> None:
        view = self.query_one(LogView)
        try:
            query = Query.parse(event.value)
        except re.error as exc:
            self.notify(f"bad regular expression: {exc}", severity="error")
            return
        if self.asking == "search":
            view.set_search(query)
        else:
            view.set_filter(query)
        self._close_input()
