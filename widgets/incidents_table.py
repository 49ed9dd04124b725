"""Open incidents, worst first, with their response timers."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text

from core.incidents.model import Incident
from core.incidents.severity import SeverityScheme, format_duration
from widgets.colors import theme_color
from widgets.probe_pane import KeyedTable
from widgets.safe import safe_text

COLUMNS = ("sev", "since", "target", "status", "host", "incident", "id")


class IncidentsTable(KeyedTable):
    """One row per open incident, keyed by incident id."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(COLUMNS, **kwargs)

    def show_incidents(
        self, incidents: Sequence[Incident], scheme: SeverityScheme, now: float | None = None
    ) -> None:
        """Render ``incidents`` (already sorted worst first)."""
        now = time.time() if now is None else now
        rows = []
        for incident in incidents:
            timer = scheme.timer(incident.severity, incident.detected_at, now,
                                 incident.acknowledged_at)
            severity_colour = theme_color(self, f"severity-{scheme.clamp(incident.severity)}")
            if timer.acknowledged:
                target = Text("met" if timer.met else "missed",
                              style=theme_color(self, "state-up" if timer.met else "state-down"))
            elif timer.overdue:
                target = Text(f"OVERDUE {scheme.describe_target(incident.severity)}",
                              style=theme_color(self, "state-down"))
            else:
                target = Text(f"{format_duration(timer.remaining)} left")
            rows.append((incident.id, (
                Text(scheme.label(incident.severity), style=f"bold {severity_colour}"),
                Text(format_duration(timer.elapsed)),
                target,
                Text(incident.status.value),
                safe_text(incident.host),
                safe_text(incident.title),
                safe_text(incident.id),
            )))
        self.sync(rows)
