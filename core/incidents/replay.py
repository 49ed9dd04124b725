"""Rebuilding an incident, and its checklist progress, from its journal events.

:func:`replay` folds events into an :class:`IncidentView`; the tracker
applies every event it writes (and every event a pairing console wrote)
through the same :meth:`IncidentView.apply`, so what a console shows is
always what its journal says.  Events carry a unique ``eid``: applying one
twice changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.incidents import journal as J
from core.incidents.checklist import ChecklistProgress, NoteEntry
from core.incidents.model import Incident, IncidentStatus

Event = dict[str, Any]
REPORT_FIELD_NAMES: tuple[str, ...] = (
    "impact", "root_cause", "resolution", "prevention", "action_items", "lessons_learned",
)
"""The narrative fields of the report (``report_fields`` events)."""


@dataclass(frozen=True)
class SeverityChange:
    """One re-classification (by the operator, or an automatic escalation)."""

    at: float
    operator: str
    before: int
    after: int
    reason: str = ""
    auto: bool = False


@dataclass
class IncidentView:
    """Everything the journal says about one incident."""

    incident: Incident | None = None
    checklist: ChecklistProgress = field(default_factory=ChecklistProgress)
    events: list[Event] = field(default_factory=list)
    severity_changes: list[SeverityChange] = field(default_factory=list)
    notes: list[NoteEntry] = field(default_factory=list)
    report_fields: dict[str, str] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    active_keys: set[str] = field(default_factory=set)
    merged_from: list[str] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    reclassified: bool = False
    _eids: set[str] = field(default_factory=set, repr=False)

    @property
    def id(self) -> str:
        """The incident id (``""`` before its ``detected`` event)."""
        return self.incident.id if self.incident else ""

    def _update(self, **changes: Any) -> None:
        if self.incident is not None:
            self.incident = dataclasses.replace(self.incident, **changes)

    def apply(self, event: Event) -> bool:
        """Fold one event in; ``False`` if it was already applied or is not understood."""
        eid = event.get("eid")
        if isinstance(eid, str):
            if eid in self._eids:
                return False
            self._eids.add(eid)
        self.events.append(event)
        who = str(event.get("operator", ""))
        if who and who not in self.operators:
            self.operators.append(who)
        kind = event.get("type")
        at = float(event.get("ts", 0.0))
        if kind == J.DETECTED:
            self._detected(event, at)
            return True
        if self.incident is None and kind != J.NOTE:
            return False
        inc = self.incident
        if kind == J.ACKNOWLEDGED and inc is not None:
            status = inc.status
            if status is IncidentStatus.OPEN:
                status = IncidentStatus.ACKNOWLEDGED
            self._update(status=status, acknowledged_at=inc.acknowledged_at or at,
                         acknowledged_by=inc.acknowledged_by or who)
        elif kind == J.SEVERITY_CHANGED and inc is not None:
            after = int(event.get("to", inc.severity))
            self.severity_changes.append(SeverityChange(
                at, who, int(event.get("from", inc.severity)), after,
                str(event.get("reason", "")), bool(event.get("auto", False))))
            if not event.get("auto"):
                self.reclassified = True
            self._update(severity=after)
        elif kind in (J.RECOVERED, J.REOPENED) and inc is not None:
            self._condition(kind, event, at)
        elif kind == J.RESOLVED and inc is not None:
            self._update(status=IncidentStatus.RESOLVED, resolved_at=at, resolved_by=who)
        elif kind == J.MERGED and inc is not None:
            self._update(status=IncidentStatus.RESOLVED, merged_into=str(event.get("into", "")),
                         resolved_at=at, resolved_by=who)
        elif kind == J.MERGED_FROM and inc is not None:
            self._merged_from(event)
        elif kind == J.RUNBOOK and inc is not None:
            runbook = str(event.get("runbook", ""))
            if runbook != self.checklist.runbook:
                self.checklist = ChecklistProgress(runbook=runbook)
            self._update(runbook=runbook)
        elif kind == J.REPORT_FIELDS:
            fields = event.get("fields")
            if isinstance(fields, dict):
                self.report_fields.update({str(k): str(v) for k, v in fields.items()})
        elif kind == J.NOTE and not event.get("step"):
            self.notes.append(NoteEntry(at, who, str(event.get("text", ""))))
        else:
            return self.checklist.apply(event)
        return True

    def _detected(self, event: Event, at: float) -> None:
        key = str(event.get("key", ""))
        severity = int(event.get("severity", 3))
        evidence = event.get("evidence")
        self.incident = Incident(
            id=str(event.get("incident", "")),
            rule=str(event.get("rule", "")),
            title=str(event.get("title", "")),
            host=str(event.get("host", "")),
            services=tuple(str(s) for s in event.get("services") or ()),
            severity=severity,
            detected_at=float(event.get("detected_at", at)),
            evidence=dict(evidence) if isinstance(evidence, dict) else {},
            runbook=str(event.get("runbook", "")),
            status=IncidentStatus.OPEN,
            key=key,
            signal=str(event.get("signal", "")),
            summary=str(event.get("summary", "")),
            hosts=(str(event.get("host", "")),),
            initial_severity=severity,
        )
        if key:
            self.keys.add(key)
            self.active_keys.add(key)
        if not self.checklist.runbook:
            self.checklist.runbook = self.incident.runbook

    def _condition(self, kind: str, event: Event, at: float) -> None:
        assert self.incident is not None
        key = str(event.get("key", self.incident.key))
        status = self.incident.status
        if kind == J.RECOVERED:
            self.active_keys.discard(key)
            if not self.active_keys and status is not IncidentStatus.RESOLVED:
                self._update(status=IncidentStatus.RECOVERED, recovered_at=at)
        else:
            self.keys.add(key)
            self.active_keys.add(key)
            if status is IncidentStatus.RECOVERED:
                back = (IncidentStatus.ACKNOWLEDGED if self.incident.acknowledged_at is not None
                        else IncidentStatus.OPEN)
                self._update(status=back, recovered_at=None)

    def _merged_from(self, event: Event) -> None:
        assert self.incident is not None
        source = str(event.get("source", ""))
        if source and source not in self.merged_from:
            self.merged_from.append(source)
        keys = [str(k) for k in event.get("keys") or ()]
        self.keys.update(keys)
        self.active_keys.update(str(k) for k in event.get("active_keys") or ())
        hosts = tuple(dict.fromkeys((*self.incident.hosts, *map(str, event.get("hosts") or ()))))
        services = tuple(dict.fromkeys(
            (*self.incident.services, *map(str, event.get("services") or ()))))
        self._update(hosts=hosts, services=services)
        if self.active_keys and self.incident.status is IncidentStatus.RECOVERED:
            back = (IncidentStatus.ACKNOWLEDGED if self.incident.acknowledged_at is not None
                    else IncidentStatus.OPEN)
            self._update(status=back, recovered_at=None)


def replay(events: Iterable[Event]) -> IncidentView:
    """The incident and its checklist progress as the events leave them."""
    view = IncidentView()
    for event in events:
        view.apply(event)
    return view
