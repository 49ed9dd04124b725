"""Confirmation before anything changes a host; typed confirmation for destructive steps."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from widgets.safe import safe_text


class ConfirmScreen(ModalScreen[bool]):
    """Ask before acting.  With ``type_to_confirm`` the operator must type that word."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 70; max-width: 100%; height: auto; padding: 1 2;
        border: thick $warning; background: $surface;
    }
    ConfirmScreen Label { width: 100%; margin-bottom: 1; }
    ConfirmScreen .command { color: $text-muted; }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 1; }
    """

    def __init__(self, question: str, command: str = "", type_to_confirm: str = "") -> None:
        super().__init__()
        self.question = question
        self.command = command
        self.type_to_confirm = type_to_confirm

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.question))
            if self.command:
                yield Label(safe_text(f"$ {self.command}"), classes="command")
            if self.type_to_confirm:
                yield Label(safe_text(f"Type {self.type_to_confirm!r} to confirm:"))
                yield Input(id="typed", placeholder=self.type_to_confirm)
            with Horizontal():
                yield Button("Cancel", id="no")
                yield Button("Confirm (y)" if not self.type_to_confirm else "Confirm",
                             id="yes", variant="warning")

    def on_mount(self) -> None:
        if self.type_to_confirm:
            self.query_one("#typed", Input).focus()
        else:
            self.query_one("#no", Button).focus()

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", "")
        if not self.type_to_confirm and key == "y":
            self.dismiss(True)
        elif not self.type_to_confirm and key == "n":
            self.dismiss(False)

    def _typed_ok(self) -> bool:
        if not self.type_to_confirm:
            return True
        return self.query_one("#typed", Input).value.strip() == self.type_to_confirm

    @on(Button.Pressed, "#yes")
    @on(Input.Submitted, "#typed")
    def _confirm(self) -> None:
        if self._typed_ok():
            self.dismiss(True)
        else:
            self.notify(f"type {self.type_to_confirm!r} exactly to confirm", severity="warning")

    @on(Button.Pressed, "#no")
    def action_cancel(self) -> None:
        self.dismiss(False)
