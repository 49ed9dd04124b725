"""The narrative of the post-incident report, filled in before resolving (or later)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, TextArea

FIELDS = (
    ("impact", "Impact: who and what was affected, for how long"),
    ("root_cause", "Root cause"),
    ("resolution", "Resolution: what fixed it"),
    ("prevention", "Prevention"),
    ("action_items", "Action items (one per line)"),
    ("lessons_learned", "Lessons learned"),
)


class ReportFormScreen(ModalScreen[dict[str, str] | None]):
    """Six text fields; ctrl+s saves (empty fields stay for later), escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="report.save"),
        Binding("escape", "cancel", "Cancel", id="report.cancel"),
    ]

    DEFAULT_CSS = """
    ReportFormScreen { align: center middle; }
    ReportFormScreen > VerticalScroll {
        width: 100; max-width: 100%; height: 90%; padding: 0 1;
        border: thick $primary; background: $surface;
    }
    ReportFormScreen TextArea { height: 4; margin-bottom: 1; }
    ReportFormScreen Horizontal { height: auto; align-horizontal: right; }
    """

    def __init__(self, title: str, values: dict[str, str], resolve: bool) -> None:
        super().__init__()
        self.title_text = title
        self.values = values
        self.resolve = resolve

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(self.title_text)
            for key, label in FIELDS:
                yield Label(label)
                yield TextArea(self.values.get(key, ""), id=f"field-{key}")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Save and resolve" if self.resolve else "Save", id="save",
                             variant="primary")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        self.dismiss({key: self.query_one(f"#field-{key}", TextArea).text for key, _ in FIELDS})

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
