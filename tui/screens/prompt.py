"""Ask the operator for one line of text (a reason, a note, a variable's value)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from widgets.safe import safe_text


class PromptScreen(ModalScreen[str | None]):
    """One question, one answer; escape cancels (returns None)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
    ]

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical {
        width: 72; max-width: 100%; height: auto; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    PromptScreen Label { width: 100%; margin-bottom: 1; }
    """

    def __init__(
        self, question: str, value: str = "", *, password: bool = False, hint: str = ""
    ) -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.password = password
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.question))
            yield Input(value=self.value, password=self.password, placeholder=self.hint)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
