"""Incidents: detection rules, severity, the incident lifecycle, the journal and the report.

UI-free and pure apart from the journal's file I/O.  The pieces:

- :mod:`.detector` — :class:`Detector` turns host states into :class:`Finding` s,
  with per-rule durations and a clear hold against flapping (rules in :mod:`.rules`,
  settings in :mod:`.rules_config`).
- :mod:`.severity` — :class:`SeverityScheme`: labels and response targets.
- :mod:`.model` — :class:`Finding`, :class:`Incident`, incident ids.
- :mod:`.tracker` — :class:`IncidentTracker`: findings and operator actions → journal events.
- :mod:`.journal`, :mod:`.watcher`, :mod:`.replay` — the append-only journal, following it
  for a pairing console, and rebuilding an incident (and its checklist) from it.
- :mod:`.checklist` — guided-mode position and step results.
- :mod:`.report` — the Markdown post-incident report.

Nothing here imports :mod:`core.config` at run time (it imports :mod:`.rules_config`).
"""

from core.incidents.checklist import Checklist, ChecklistProgress, StepRecord, StepStatus
from core.incidents.detector import Detector
from core.incidents.journal import Journal, JournalStore
from core.incidents.model import Finding, Incident, IncidentStatus
from core.incidents.replay import IncidentView, replay
from core.incidents.report import render_report, write_incident_report, write_report
from core.incidents.rules_config import RuleConfig
from core.incidents.severity import SeverityScheme
from core.incidents.tracker import IncidentTracker
from core.incidents.watcher import JournalWatcher

__all__ = [
    "Checklist",
    "ChecklistProgress",
    "Detector",
    "Finding",
    "Incident",
    "IncidentStatus",
    "IncidentTracker",
    "IncidentView",
    "Journal",
    "JournalStore",
    "JournalWatcher",
    "RuleConfig",
    "SeverityScheme",
    "StepRecord",
    "StepStatus",
    "render_report",
    "replay",
    "write_incident_report",
    "write_report",
]
