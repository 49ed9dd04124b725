"""The incident desk: detector, tracker, journal and runbook library working together.

One object the console (or a test, or a script) holds: it turns host
snapshots into incidents, knows which runbook each incident follows and
which variables its steps are filled with, and keeps each incident's
checklist in step with the journal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.config import Config, HostConfig
from core.incidents.checklist import Checklist
from core.incidents.detector import Detector
from core.incidents.journal import Event, JournalStore
from core.incidents.model import Finding, Incident, split_key
from core.incidents.report import write_incident_report
from core.incidents.severity import SeverityScheme
from core.incidents.tracker import IncidentTracker
from core.incidents.watcher import JournalWatcher
from core.runbooks.model import Runbook, host_variables
from core.state import HostState
from core.stepwise import Steps, finish

if TYPE_CHECKING:
    from core.runbooks.library import RunbookLibrary


class IncidentDesk:
    """Everything about incidents that is not the screen."""

    def __init__(self, config: Config, *, library: RunbookLibrary | None = None,
                 watch: bool = True) -> None:
        self.config = config
        self.store = JournalStore(config.journal_dir, config.operator)
        self.scheme = SeverityScheme.from_config(config.severity)
        self._library = library
        self._library_lock = threading.RLock()  # (load_runbooks holds it around runbook_loading)
        self.tracker = IncidentTracker(self.store, self.scheme, runbook_for=self._runbook_id)
        self.detector = Detector(config)
        self.answers: dict[str, dict[str, str]] = {}
        """Variables the operator gave per incident (kept in memory, not journaled)."""
        self.watcher = (JournalWatcher(config.journal_dir, origin=self.store.origin)
                        if watch else None)
        """What pairing consoles append from now on (None when not ``watch``: a
        one-shot command such as ``warroom report``).  Made before the tracker reads
        the journals: an event appended in between is seen by both and applied once
        (events carry ids), instead of by neither."""
        self.tracker.load()

    @property
    def library(self) -> RunbookLibrary:
        """The runbooks (built-in and the config's directories), loaded on first use.

        Loading parses and checks every runbook (up to a few hundred
        milliseconds): an event loop runs :meth:`runbook_loading` early,
        a step per turn, to keep it from stalling.
        """
        return self.load_runbooks()

    @property
    def runbooks_loaded(self) -> bool:
        """Whether the runbooks are loaded (using :attr:`library` would not parse them now)."""
        return self._library is not None

    def load_runbooks(self) -> RunbookLibrary:
        """Load the runbook library if it is not loaded yet (thread-safe); returns it.

        Never raises: a loader that fails as a whole (a bug) leaves an empty
        library whose one error says why, so incidents still open."""
        with self._library_lock:  # (held throughout: one thread parses, the others wait)
            return finish(self.runbook_loading())

    def runbook_loading(self) -> Steps[RunbookLibrary]:
        """:meth:`load_runbooks` a runbook at a time: yields after each, returns the library.

        For an event loop, which runs a step between its other work (see
        :mod:`core.stepwise`).  Does nothing if the library is loaded; if
        :meth:`load_runbooks` loads it meanwhile, that one is kept.
        """
        if self._library is not None:
            return self._library
        # (imported here: the parser and its checks are 30 ms of imports that the
        # console's start-up does not need; they load with the runbooks)
        from core.runbooks.library import failed_library, library_steps

        try:
            library = yield from library_steps(self.config.settings.runbook_dirs)
        except Exception as exc:
            library = failed_library(f"{type(exc).__name__}: {exc}")
        with self._library_lock:
            if self._library is None:
                self._library = library
            return self._library

    def _runbook_id(self, finding: Finding) -> str:
        runbook = self.library.match(finding.runbook_signal)
        return runbook.id if runbook is not None else ""

    # -- detection -------------------------------------------------------------

    def process(self, states: Mapping[str, HostState], now: float | None = None) -> list[Event]:
        """Evaluate the rules over ``states``; returns the journal events written.

        Appends fsync, so call this from a thread in an event loop.
        """
        return self.tracker.process(self.detector, states, time.time() if now is None else now)

    def incidents(self, include_resolved: bool = False) -> list[Incident]:
        """Open incidents, worst first."""
        return self.tracker.incidents(include_resolved)

    def incident(self, incident_id: str) -> Incident:
        """One incident (``KeyError`` if unknown)."""
        return self.tracker.incident(incident_id)

    # -- runbooks --------------------------------------------------------------

    def runbook(self, incident_id: str) -> Runbook | None:
        """The runbook the incident follows, if the library has it."""
        return self.library.get(self.incident(incident_id).runbook)

    def host_config(self, incident_id: str) -> HostConfig | None:
        """The configured host the incident is on."""
        try:
            return self.config.host(self.incident(incident_id).host)
        except KeyError:
            return None

    def context(self, incident_id: str) -> dict[str, str]:
        """Variables the incident provides to its runbook's commands.

        The host's config (``compose``, ``project_dir``, ``db`` …), the
        incident's subject (``container``, ``service``, ``mount``,
        ``server_name``, ``url`` …), the evidence's plain values, then what
        the operator answered.
        """
        incident = self.incident(incident_id)
        values: dict[str, str] = {}
        for key, value in incident.evidence.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                values[key] = str(value)
        host = self.host_config(incident_id)
        if host is not None:
            values.update(host_variables(host))
        values.update(_subject_variables(incident, host))
        values.update(self.answers.get(incident_id, {}))
        return {k: v for k, v in values.items() if v != ""}

    def variables(self, incident_id: str) -> dict[str, str]:
        """The runbook's variables resolved for this incident (defaults, context, answers)."""
        runbook = self.runbook(incident_id)
        context = self.context(incident_id)
        if runbook is None:
            return context
        return runbook.resolve_variables(context, self.answers.get(incident_id))

    def missing(self, incident_id: str) -> list[str]:
        """Variables the runbook needs that nothing provides: ask the operator."""
        runbook = self.runbook(incident_id)
        if runbook is None:
            return []
        variables = self.variables(incident_id)
        asked = [n for n in runbook.questions() if n not in self.answers.get(incident_id, {})]
        return list(dict.fromkeys([*runbook.missing_variables(variables), *asked]))

    def answer(self, incident_id: str, name: str, value: str) -> None:
        """Remember the operator's value for a runbook variable."""
        self.answers.setdefault(incident_id, {})[name] = value

    def checklist(self, incident_id: str) -> Checklist | None:
        """The incident's checklist as the journal has it (None without a runbook)."""
        runbook = self.runbook(incident_id)
        if runbook is None:
            return None
        return self.tracker.checklist(incident_id, runbook.steps)

    # -- reports ---------------------------------------------------------------

    def write_report(self, incident_id: str) -> Any:
        """Write (or rewrite) the incident's Markdown report; returns its path."""
        runbook = self.runbook(incident_id)
        titles = {s.id: s.display_title for s in runbook.steps} if runbook else {}
        return write_incident_report(self.store, incident_id, self.scheme, step_titles=titles)


def _subject_variables(incident: Incident, host: HostConfig | None) -> dict[str, str]:
    rule, _host, subject = split_key(incident.key)
    family = rule.split(".", 1)[0]
    values: dict[str, str] = {"subject": subject}
    if incident.services:
        values["service"] = incident.services[0]
    if family == "container":
        values["container"] = subject
    elif family == "disk":
        values["mount"] = subject
    elif family == "cert" and host is not None:
        for tls in host.tls:
            names = {tls.name, tls.server_name, tls.address}
            if subject in names or str(incident.evidence.get("subject", "")) in names:
                values["server_name"] = tls.server_name or tls.address
                values["tls_address"] = tls.address
                values["tls_port"] = str(tls.port)
                break
        values.setdefault("server_name", str(incident.evidence.get("subject", subject)))
    elif family in ("endpoint", "endpoints") and host is not None:
        for endpoint in host.endpoints:
            if endpoint.name == subject or endpoint.url == subject:
                values["url"] = endpoint.url
                break
    return values
