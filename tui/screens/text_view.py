"""A scrollable view of a block of untrusted text (e.g. ``docker inspect``)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header, Log

from core.textsafe import visible
from widgets.steady_footer import SteadyFooter


class TextViewScreen(Screen[None]):
    """Shows text as plain lines; escape closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", id="view.back"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title = title
        self.text = text

    def compose(self) -> ComposeResult:
        yield Header()
        yield Log(id="text", highlight=False)
        yield SteadyFooter()

    def on_mount(self) -> None:
        log = self.query_one(Log)
        log.write_lines([visible(line) for line in self.text.splitlines()])
        log.scroll_home(animate=False)
        log.focus()
