"""The host overview: one line per host — link, worst signal, open incidents."""

from __future__ import annotations

from rich.text import Text

from core.hosts.base import LinkState
from core.overview import HostLine
from widgets.colors import theme_color
from widgets.probe_pane import KeyedTable
from widgets.safe import safe_text

LINK_VARIABLE = {
    LinkState.UP: "state-up",
    LinkState.CONNECTING: "state-warn",
    LinkState.RECONNECTING: "state-warn",
    LinkState.DOWN: "state-down",
    LinkState.CLOSED: "state-muted",
}


class HostsTable(KeyedTable):
    """Every host, one row each, keyed by host name."""

    DEFAULT_CSS = """
    HostsTable { height: auto; max-height: 8; overflow-x: hidden; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(("host", "link", "incidents", "containers", "worst signal", "tags"),
                         **kwargs)

    def show_lines(self, lines: list[HostLine]) -> None:
        """Render every host's line."""
        rows = []
        for line in lines:
            link = Text(line.link.value, style=theme_color(self, LINK_VARIABLE[line.link]))
            if line.link is not LinkState.UP and line.reason:
                worst = safe_text(_short(line.reason), style=theme_color(self, "state-down"))
            elif line.worst_level is not None:
                colour = theme_color(self, f"severity-{line.worst_level}")
                worst = safe_text(_short(line.worst), style=colour)
            else:
                worst = Text(line.worst or "ok", style=theme_color(self, "state-up"))
            rows.append((line.name, (
                safe_text(line.name),
                link,
                Text(str(line.incidents), style=theme_color(self, "severity-0")
                     if line.incidents else ""),
                Text(line.containers or "-"),
                worst,
                safe_text(",".join(line.tags)),
            )))
        self.sync(rows)

    @property
    def selected_host(self) -> str | None:
        """The host under the cursor."""
        return self.selected_key


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
