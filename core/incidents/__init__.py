"""Incidents: detection rules, severity, the incident lifecycle, the journal and the report.

UI-free, and pure apart from the journal's file I/O.  Import from the modules:

- :mod:`core.incidents.detector` — :class:`Detector`: host states → findings, with per-rule
  durations and a clear hold against flapping (rules in :mod:`.rules` and
  :mod:`.container_rules`, settings in :mod:`.rules_config`).
- :mod:`core.incidents.severity` — :class:`SeverityScheme`: labels and response targets.
- :mod:`core.incidents.model` — :class:`Finding`, :class:`Incident`, incident ids.
- :mod:`core.incidents.tracker` — :class:`IncidentTracker`: findings and operator actions
  become journal events.
- :mod:`core.incidents.journal`, :mod:`.watcher`, :mod:`.replay` — the append-only journal,
  following it for a pairing console, rebuilding an incident and its checklist from it.
- :mod:`core.incidents.checklist` — guided-mode position and step results.
- :mod:`core.incidents.report` — the Markdown post-incident report.

This package file imports nothing, so ``core.config`` can import
:mod:`core.incidents.rules_config` without an import cycle.
"""
