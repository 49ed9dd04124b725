"""The incident tracker: findings become incidents, operator actions become journal events.

Every change goes the same way: an event is appended to the incident's
journal (fsynced), then the event *as written* is applied to the in-memory
:class:`IncidentView`.  Events from a pairing console (via
:class:`~core.incidents.watcher.JournalWatcher`) are applied with
:meth:`IncidentTracker.ingest`.  Opening an incident holds the journal
directory's lock and re-reads it first, so two consoles watching the same
hosts open one incident, not two.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from core.incidents import journal as J
from core.incidents.checklist import Checklist, Event, StepLike
from core.incidents.detector import Detector
from core.incidents.journal import JournalStore
from core.incidents.model import Finding, Incident, IncidentStatus, finding_incident_id
from core.incidents.replay import REPORT_FIELD_NAMES, IncidentView, replay
from core.incidents.severity import SeverityScheme
from core.state import HostState


class IncidentTracker:
    """Open incidents, built from the journal directory and kept in step with it."""

    def __init__(
        self,
        store: JournalStore,
        scheme: SeverityScheme | None = None,
        runbook_for: Callable[[Finding], str] | None = None,
    ) -> None:
        self.store = store
        self.scheme = scheme or SeverityScheme()
        self.runbook_for = runbook_for
        self.views: dict[str, IncidentView] = {}
        self.latest: dict[str, Finding] = {}
        """The newest finding per key (evidence moves; only changes of state are journaled)."""
        self.unreadable: dict[str, str] = {}
        """Incident journals that could not be read, with why (permission, not a file)."""
        self.root_error = ""
        """Why the journal directory itself could not be listed ("" if it could)."""
        self._dormant: set[str] = set()
        """Resolved incidents not replayed yet (see :meth:`load`)."""
        self._restored = False

    # -- loading -------------------------------------------------------------------------

    def load(self) -> None:
        """Replay every unresolved incident in the journal directory (call once at start).

        A journal that plainly ends resolved (:func:`journal.plainly_resolved`)
        is only noted: start-up does not grow with the history.  It is
        replayed when something asks for it (:meth:`knows`, :meth:`view`,
        :meth:`incident`, ``incidents(include_resolved=True)``, a write, or a
        partner's event for it).  A journal that cannot be read is left out
        and noted in :attr:`unreadable`.
        """
        for incident_id in self._incident_ids():
            data = self._read_bytes(incident_id)
            if data is None:
                continue
            if J.plainly_resolved(data):
                self._dormant.add(incident_id)
            else:
                self._replay(incident_id, J.parse_lines(data)[0])

    def _incident_ids(self) -> list[str]:
        """The incidents on disk ([] and :attr:`root_error` set if they cannot be listed)."""
        try:
            incident_ids = self.store.incident_ids()
        except OSError as exc:
            self.root_error = exc.strerror or str(exc)
            return []
        self.root_error = ""
        return incident_ids

    def _read_bytes(self, incident_id: str) -> bytes | None:
        """The incident's journal; None (and why, in :attr:`unreadable`) if it cannot be read."""
        try:
            data = self.store.read_bytes(incident_id)
        except OSError as exc:
            self.unreadable[incident_id] = exc.strerror or str(exc)
            return None
        self.unreadable.pop(incident_id, None)
        return data

    def _read(self, incident_id: str) -> list[Event] | None:
        """The incident's events; None (and why, in :attr:`unreadable`) if it cannot be read."""
        data = self._read_bytes(incident_id)
        return None if data is None else J.parse_lines(data)[0]

    def _reload(self, incident_id: str) -> None:
        events = self._read(incident_id)
        if events is not None:
            self._replay(incident_id, events)

    def _replay(self, incident_id: str, events: list[Event]) -> None:
        self._dormant.discard(incident_id)
        view = replay(events)
        if view.incident is not None:
            self.views[incident_id] = view

    def knows(self, incident_id: str) -> bool:
        """Whether ``incident_id`` is a known incident, resolved or not."""
        try:
            self.view(incident_id)
        except KeyError:
            return False
        return True

    def _refresh(self) -> None:
        """Catch up with the disk: new incidents, and new events of unresolved ones."""
        for incident_id in self._incident_ids():  # none listable now: what is known stays
            view = self.views.get(incident_id)
            if incident_id in self._dormant:
                continue  # resolved: nothing in it can own a condition
            if view is None:
                self._reload(incident_id)
            elif view.incident is not None and view.incident.is_open:
                for event in self._read(incident_id) or ():  # unreadable: as read before
                    view.apply(event)

    def ingest(self, events: Iterable[Event]) -> set[str]:
        """Apply events another console wrote (from the watcher); returns the incidents changed."""
        changed: set[str] = set()
        for event in events:
            incident_id = str(event.get("incident", ""))
            view = self.views.get(incident_id)
            if view is None:  # new, or dormant: replayed whole, this event included
                if incident_id in self._dormant or self.store.exists(incident_id):
                    self._reload(incident_id)
                    changed.add(incident_id)
            elif view.apply(event):
                changed.add(incident_id)
        return changed

    # -- queries -------------------------------------------------------------------------

    def view(self, incident_id: str) -> IncidentView:
        """Everything known about one incident, replayed now if it was dormant
        (``KeyError`` if unknown)."""
        if incident_id not in self.views and incident_id in self._dormant:
            self._reload(incident_id)
        return self.views[incident_id]

    def incident(self, incident_id: str) -> Incident:
        """The incident as it stands now (``KeyError`` if unknown)."""
        incident = self.view(incident_id).incident
        assert incident is not None
        return incident

    def incidents(self, include_resolved: bool = False) -> list[Incident]:
        """Incidents worst first, then oldest first (resolved ones only if asked)."""
        if include_resolved:
            for incident_id in sorted(self._dormant):
                self._reload(incident_id)
        out = [v.incident for v in self.views.values() if v.incident is not None]
        if not include_resolved:
            out = [i for i in out if i.is_open]
        return sorted(out, key=lambda i: (i.severity, i.detected_at, i.id))

    def _target(self, incident_id: str) -> str:
        seen = {incident_id}
        self.view(incident_id)
        while True:
            incident = self.views[incident_id].incident
            if incident is None or not incident.merged_into:
                return incident_id
            incident_id = incident.merged_into
            if incident_id in seen or incident_id not in self.views:
                return incident_id
            seen.add(incident_id)

    def _open_target(self, incident_id: str) -> str | None:
        """Where ``incident_id`` leads after merges, if that incident is unresolved."""
        if self.views[incident_id].incident is None:
            return None
        target = self._target(incident_id)
        target_view = self.views.get(target)
        if target_view and target_view.incident and target_view.incident.is_open:
            return target
        return None

    def find(self, key: str) -> str | None:
        """The unresolved incident that owns condition ``key`` (following merges)."""
        for incident_id, view in self.views.items():
            if key in view.keys:
                target = self._open_target(incident_id)
                if target is not None:
                    return target
        return None

    def _owners(self) -> dict[str, str]:
        """:meth:`find` for every key at once (one pass over the incidents)."""
        owners: dict[str, str] = {}
        for incident_id, view in self.views.items():
            target = self._open_target(incident_id)
            if target is not None:
                for key in view.keys:
                    owners.setdefault(key, target)
        return owners

    def active_conditions(self) -> list[tuple[str, float]]:
        """``(key, detected_at)`` of every condition an unresolved incident says still holds."""
        return [
            (key, view.incident.detected_at)
            for view in self.views.values()
            if view.incident is not None and view.incident.is_open
            for key in sorted(view.active_keys)
        ]

    def checklist(self, incident_id: str, steps: Sequence[StepLike]) -> Checklist:
        """A :class:`Checklist` over the incident's progress (journal via :meth:`record`).

        :meth:`record` applies the written event to that same progress: do
        not apply it a second time.  Ask again after :meth:`set_runbook`.
        """
        view = self.view(incident_id)
        return Checklist(steps, view.checklist, runbook=self.incident(incident_id).runbook)

    # -- writing -------------------------------------------------------------------------

    def _write(self, incident_id: str, kind: str, **fields: Any) -> Event:
        view = self.view(incident_id)
        event = self.store.append(incident_id, kind, **fields)
        view.apply(event)
        return event

    def record(self, incident_id: str, event: Event) -> Event:
        """Journal an event built elsewhere (e.g. by :class:`Checklist`) and apply it, once."""
        view = self.view(incident_id)
        written = self.store.append_event(incident_id, event)
        view.apply(written)
        return written

    # -- detection -----------------------------------------------------------------------

    def process(
        self, detector: Detector, states: Mapping[str, HostState], now: float | None = None
    ) -> list[Event]:
        """Evaluate ``detector`` over ``states`` and apply the result (restores it on first use)."""
        now = time.time() if now is None else now
        if not self._restored:
            detector.restore(self.active_conditions())
            self._restored = True
        findings = detector.evaluate(states, now)
        return self.observe(findings, detector.recovered, now)

    def observe(
        self, findings: Iterable[Finding], recovered: Iterable[str] = (), now: float | None = None
    ) -> list[Event]:
        """Open, update, escalate, reopen and recover incidents; returns the events written."""
        now = time.time() if now is None else now
        written: list[Event] = []
        owners: dict[str, str] | None = None  # find() for every key; rebuilt after a write
        indexed_at = 0
        for finding in findings:
            self.latest[finding.key] = finding
            if owners is None or indexed_at != len(written):
                owners, indexed_at = self._owners(), len(written)
            owner = owners.get(finding.key)
            if owner is None:
                owner, event = self._open(finding, now)
                owners = None
                if event is not None:
                    written.append(event)
                    continue
            view = self.views[owner]
            if finding.key not in view.active_keys:
                with self._caught_up(owner):
                    if finding.key not in view.active_keys:
                        written.append(self._write(
                            owner, J.REOPENED, key=finding.key, ts=now,
                            summary=finding.summary, evidence=dict(finding.evidence)))
            if self._escalates(view, finding):
                with self._caught_up(owner):
                    if self._escalates(view, finding):
                        assert view.incident is not None
                        written.append(self._write(
                            owner, J.SEVERITY_CHANGED, ts=now, auto=True, key=finding.key,
                            reason=f"detector: {finding.summary}",
                            **{"from": view.incident.severity, "to": finding.severity}))
        for key in recovered:
            self.latest.pop(key, None)
            owner = self.find(key)
            if owner is not None and key in self.views[owner].active_keys:
                with self._caught_up(owner):
                    if key in self.views[owner].active_keys:
                        written.append(self._write(owner, J.RECOVERED, key=key, ts=now))
        return written

    @staticmethod
    def _escalates(view: IncidentView, finding: Finding) -> bool:
        incident = view.incident
        return (incident is not None and finding.severity < incident.severity
                and not view.reclassified)

    @contextlib.contextmanager
    def _caught_up(self, incident_id: str) -> Iterator[None]:
        """Hold the directory lock with the incident's journal read in.

        A pairing console runs its own detector: whichever writes a
        detector event (reopened, recovered, escalation) first, the other
        then sees it and does not write it again.
        """
        with self.store.lock():
            view = self.views[incident_id]
            for event in self._read(incident_id) or ():  # unreadable: as read before
                view.apply(event)
            yield

    def _open(self, finding: Finding, now: float) -> tuple[str, Event | None]:
        """Open an incident for ``finding``, unless another console just did."""
        with self.store.lock():
            self._refresh()
            owner = self.find(finding.key)
            if owner is not None:
                return owner, None
            detected_at = finding.since or now
            runbook = self.runbook_for(finding) if self.runbook_for else ""
            while True:
                incident_id = finding_incident_id(finding, detected_at, self.store.exists)
                event = self.store.create(
                    incident_id, J.DETECTED, ts=now, rule=finding.rule, key=finding.key,
                    title=finding.title, summary=finding.summary, host=finding.host,
                    services=list(finding.services), severity=finding.severity,
                    evidence=dict(finding.evidence), runbook=runbook or "",
                    signal=finding.runbook_signal, detected_at=detected_at,
                )
                if event is not None:
                    break
            self.views[incident_id] = replay([event])
            return incident_id, event

    # -- operator actions ----------------------------------------------------------------

    def acknowledge(self, incident_id: str) -> Event | None:
        """Acknowledge (stops the response timer); ``None`` if already acknowledged or resolved."""
        incident = self.incident(incident_id)
        if incident.acknowledged_at is not None or not incident.is_open:
            return None
        return self._write(incident_id, J.ACKNOWLEDGED)

    def reclassify(self, incident_id: str, severity: int | str, reason: str = "") -> Event | None:
        """Change the severity (ordinal or label of the scheme); ``None`` if unchanged."""
        incident = self.incident(incident_id)
        after = self.scheme.ordinal(severity)
        if after == incident.severity:
            return None
        return self._write(incident_id, J.SEVERITY_CHANGED, reason=reason, auto=False,
                           **{"from": incident.severity, "to": after})

    def merge(self, duplicate: str, into: str) -> list[Event]:
        """Merge ``duplicate`` into ``into``: its conditions, hosts and services move over."""
        target = self._target(into)
        dup = self.view(duplicate)
        dup_incident = self.incident(duplicate)
        target_incident = self.incident(target)
        if target == duplicate:
            raise ValueError(f"cannot merge {duplicate} into itself")
        if not dup_incident.is_open:
            raise ValueError(f"{duplicate} is already {dup_incident.status.value}")
        if not target_incident.is_open:
            raise ValueError(f"{target} is resolved: merge into an open incident")
        events = [self._write(duplicate, J.MERGED, into=target)]
        events.append(self._write(
            target, J.MERGED_FROM, source=duplicate, title=dup_incident.title,
            keys=sorted(dup.keys), active_keys=sorted(dup.active_keys),
            hosts=list(dup_incident.hosts), services=list(dup_incident.services)))
        if dup_incident.severity < target_incident.severity:
            events.append(self._write(
                target, J.SEVERITY_CHANGED, auto=True,
                reason=f"merged {duplicate} ({self.scheme.label(dup_incident.severity)})",
                **{"from": target_incident.severity, "to": dup_incident.severity}))
        return events

    def resolve(self, incident_id: str, summary: str = "") -> Event | None:
        """Resolve (the incident leaves the panel); ``None`` if it already was."""
        if self.incident(incident_id).status is IncidentStatus.RESOLVED:
            return None
        return self._write(incident_id, J.RESOLVED, summary=summary)

    def note(self, incident_id: str, text: str, step: str = "") -> Event:
        """A note on the incident (or on one checklist step)."""
        fields: dict[str, Any] = {"text": text}
        if step:
            fields["step"] = step
        return self._write(incident_id, J.NOTE, **fields)

    def set_runbook(self, incident_id: str, runbook: str) -> Event | None:
        """Attach (or change) the runbook; a different runbook starts a fresh checklist."""
        if self.incident(incident_id).runbook == runbook:
            return None
        return self._write(incident_id, J.RUNBOOK, runbook=runbook)

    def set_report_fields(self, incident_id: str, **fields: str) -> Event:
        """Fill narrative report fields (see :data:`REPORT_FIELD_NAMES`)."""
        unknown = set(fields) - set(REPORT_FIELD_NAMES)
        if unknown:
            raise ValueError(f"unknown report fields: {', '.join(sorted(unknown))}")
        return self._write(incident_id, J.REPORT_FIELDS, fields=dict(fields))
