"""The post-incident report: Markdown rendered from the replayed journal, written atomically.

:func:`render_report` is pure: an :class:`IncidentView` in, Markdown out.
Everything it quotes passes through :func:`core.redact.redact` (again: the
journal was redacted when written) and command output sits in fences longer
than any backtick run inside it, so output cannot break out of its block.
:func:`write_report` replaces ``report.md`` atomically (temp file in the
same directory, fsync, rename, fsync the directory).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from core.durable import write_atomic
from core.incidents import checklist as C
from core.incidents import journal as J
from core.incidents.model import split_key
from core.incidents.replay import IncidentView, replay
from core.incidents.severity import SeverityScheme, format_duration
from core.redact import redact

REPORT_NAME = "report.md"
NOT_FILLED = "_(not filled in)_"
_DETECTOR_EVENTS = frozenset({J.DETECTED, J.RECOVERED, J.REOPENED})
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: Any) -> str:
    """Redacted text with terminal escapes removed and other control characters shown."""
    text = _ANSI.sub("", redact(str(text)).replace("\r\n", "\n"))
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def one_line(text: Any) -> str:
    """:func:`clean` text on a single line (for list items and table cells)."""
    return " ".join(clean(text).split())


def code_span(text: Any) -> str:
    """Inline code that no backtick in ``text`` can close early."""
    body = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body else ""
    return f"{ticks}{pad}{body}{pad}{ticks}"


def fenced(text: Any, info: str = "text") -> str:
    """A fenced block longer than any backtick run in ``text`` (at least three)."""
    body = clean(text).rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def _when(ts: float | None, tz: tzinfo | None, date: bool = False) -> str:
    if ts is None:
        return "—"
    moment = datetime.fromtimestamp(ts, tz) if tz else datetime.fromtimestamp(ts).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z" if date else "%H:%M:%S").strip()


def _event_text(
    event: dict[str, Any], scheme: SeverityScheme, titles: Mapping[str, str], tz: tzinfo | None
) -> str | None:
    kind = event.get("type")
    step = _step_name(event.get("step", ""), titles)
    if kind == J.DETECTED:
        text = (f"Detected ({scheme.label(int(event.get('severity', 3)))}): "
                f"{one_line(event.get('summary') or event.get('title', ''))}")
        since = float(event.get("detected_at") or event.get("ts") or 0)
        if float(event.get("ts") or 0) - since >= 1:
            text += f" (condition seen since {_when(since, tz)})"
        return text
    if kind == J.ACKNOWLEDGED:
        return "Acknowledged"
    if kind == J.SEVERITY_CHANGED:
        change = (f"Severity {scheme.label(int(event.get('from', 3)))} → "
                  f"{scheme.label(int(event.get('to', 3)))}")
        reason = one_line(event.get("reason", ""))
        return change + (f" ({reason})" if reason else "") + (" [automatic]" if event.get("auto")
                                                             else "")
    if kind == C.STEP_STARTED:
        where = f" on {one_line(event['host'])}" if event.get("host") else ""
        command = f": {code_span(event['command'])}" if event.get("command") else ""
        return f"Step {step} started{where}{command}"
    if kind == C.STEP_FINISHED:
        verdict = "passed" if event.get("passed") else "failed"
        return (f"Step {step} finished: exit status {event.get('exit_status')}, "
                f"{float(event.get('duration') or 0):.1f} s, {verdict}")
    if kind == C.STEP_SKIPPED:
        return f"Step {step} skipped: {one_line(event.get('reason', '')) or 'no reason given'}"
    if kind == C.STEP_DONE:
        note = one_line(event.get("note", ""))
        return f"Step {step} done" + (f": {note}" if note else "")
    if kind == C.STEP_BACK:
        return f"Went back to step {code_span(event.get('to', ''))}"
    if kind == C.DECISION:
        return f"Decision at {step}: {one_line(event.get('choice', ''))}"
    if kind == J.NOTE:
        where = f" on step {step}" if event.get("step") else ""
        return f"Note{where}: {one_line(event.get('text', ''))}"
    if kind == J.RECOVERED:
        rule, host, subject = split_key(str(event.get("key", "")))
        what = f"{rule} on {host}" + (f" ({subject})" if subject else "")
        return f"Condition cleared: {one_line(what)}"
    if kind == J.REOPENED:
        return f"Condition returned: {one_line(event.get('summary', event.get('key', '')))}"
    if kind == J.RESOLVED:
        summary = one_line(event.get("summary", ""))
        return "Resolved" + (f": {summary}" if summary else "")
    if kind == J.MERGED:
        return f"Merged into {code_span(event.get('into', ''))}"
    if kind == J.MERGED_FROM:
        return (f"Merged in {code_span(event.get('source', ''))}: "
                f"{one_line(event.get('title', ''))}")
    if kind == J.RUNBOOK:
        return f"Runbook set to {code_span(event.get('runbook', ''))}"
    return None


def _step_name(step: Any, titles: Mapping[str, str]) -> str:
    title = titles.get(str(step), "")
    return code_span(step) + (f" ({one_line(title)})" if title else "")


def _narrative(view: IncidentView, name: str) -> str:
    text = clean(view.report_fields.get(name, "")).strip()
    return text or NOT_FILLED


def render_report(
    view: IncidentView,
    scheme: SeverityScheme | None = None,
    tz: tzinfo | None = None,
    now: float | None = None,
    step_titles: Mapping[str, str] | None = None,
) -> str:
    """The Markdown report of one incident.

    ``tz`` defaults to local time; ``now`` ends the duration of an unresolved
    incident; ``step_titles`` (step id → title, from the runbook) makes the
    timeline and the commands easier to read.
    """
    scheme = scheme or SeverityScheme()
    titles = step_titles or {}
    incident = view.incident
    if incident is None:
        raise ValueError("the journal has no 'detected' event: nothing to report")
    end = incident.resolved_at or incident.recovered_at
    ongoing = end is None
    duration = format_duration((end if end is not None else (now or time.time()))
                               - incident.detected_at)
    out = [f"# Incident report: {one_line(incident.title)}", ""]
    severity = scheme.label(incident.severity)
    if view.severity_changes:
        first = incident.initial_severity if incident.initial_severity is not None else (
            view.severity_changes[0].before)
        severity += f" (initially {scheme.label(first)})"
    facts = [
        ("Incident", code_span(incident.id)),
        ("Date", _when(incident.detected_at, tz, date=True)),
        ("Duration", duration + (" (ongoing)" if ongoing else "")),
        ("Severity", severity),
        ("Status", incident.status.value + (f" into {code_span(incident.merged_into)}"
                                            if incident.merged_into else "")),
        ("Detected by", f"rule {code_span(incident.rule)}"),
        ("Runbook", code_span(incident.runbook) if incident.runbook else "none"),
        ("Operators", ", ".join(one_line(o) for o in view.operators) or "—"),
    ]
    if incident.resolved_at:
        facts.insert(3, ("Resolved", _when(incident.resolved_at, tz, date=True)))
    out += [f"- **{name}:** {value}" for name, value in facts] + [""]

    if view.severity_changes:
        out += ["## Severity changes", ""]
        for ch in view.severity_changes:
            who = "automatic" if ch.auto else one_line(ch.operator)
            reason = f": {one_line(ch.reason)}" if ch.reason else ""
            out.append(f"- {_when(ch.at, tz)} {scheme.label(ch.before)} → "
                       f"{scheme.label(ch.after)} ({who}){reason}")
        out.append("")

    out += ["## Hosts and services affected", ""]
    out.append(f"- **Hosts:** {', '.join(one_line(h) for h in incident.hosts) or '—'}")
    out.append(f"- **Services:** {', '.join(one_line(s) for s in incident.services) or '—'}")
    out += ["", "## Impact", "", _narrative(view, "impact"), ""]

    out += ["## Evidence at detection", "", f"{one_line(incident.summary)}", ""]
    out += [f"- {code_span(k)}: {one_line(v)}" for k, v in incident.evidence.items()] + [""]

    out += ["## Timeline", ""]
    for event in view.events:
        text = _event_text(event, scheme, titles, tz)
        if text is not None:
            who = one_line(event.get("operator", ""))
            if event.get("type") in _DETECTOR_EVENTS or event.get("auto"):
                who = "detector"
            out.append(f"- **{_when(float(event.get('ts', 0)), tz)}** {text}"
                       + (f" — _{who}_" if who else ""))
    out.append("")

    out += ["## Commands run", ""]
    finished = [e for e in view.events if e.get("type") == C.STEP_FINISHED]
    started = {}
    for event in view.events:
        if event.get("type") == C.STEP_STARTED:
            started[event.get("step")] = event
    if not finished:
        out += ["_(no command was run)_", ""]
    for n, event in enumerate(finished, 1):
        start = started.get(event.get("step"), {})
        command = event.get("command") or start.get("command", "")
        host = event.get("host") or start.get("host", "")
        verdict = "passed" if event.get("passed") else "failed"
        out.append(f"### {n}. Step {_step_name(event.get('step', ''), titles)}"
                   + (f" on {one_line(host)}" if host else ""))
        out.append("")
        if command:
            out.append(f"- **Command:** {code_span(command)}")
        out.append(f"- **Exit status:** {event.get('exit_status')} ({verdict}), "
                   f"{float(event.get('duration') or 0):.1f} s, at {_when(event.get('ts'), tz)} "
                   f"by {one_line(event.get('operator', '')) or '—'}")
        trimmed = int(event.get("output_trimmed") or 0)
        out.append("- **Output**" + (f" ({trimmed} bytes trimmed):" if trimmed else ":"))
        out += ["", fenced(event.get("output", "")), ""]

    out += ["## Root cause", "", _narrative(view, "root_cause"), ""]
    out += ["## Resolution", "", _narrative(view, "resolution"), ""]
    out += ["## Prevention and action items", "", _narrative(view, "prevention"), ""]
    if view.report_fields.get("action_items", "").strip():
        out += ["### Action items", "", _narrative(view, "action_items"), ""]
    out += ["## Lessons learned", "", _narrative(view, "lessons_learned"), ""]
    notes = [n for n in view.notes if n.text.strip()]
    if notes:
        out += ["## Notes", ""]
        out += [f"- {_when(n.at, tz)} _{one_line(n.operator)}_: {one_line(n.text)}"
                for n in notes]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def write_report(incident_dir: Path | str, text: str, name: str = REPORT_NAME) -> Path:
    """Write ``text`` to ``incident_dir/name`` atomically; returns the path."""
    return write_atomic(Path(incident_dir) / name, text)


def write_incident_report(
    store: J.JournalStore,
    incident_id: str,
    scheme: SeverityScheme | None = None,
    tz: tzinfo | None = None,
    step_titles: Mapping[str, str] | None = None,
) -> Path:
    """Replay one incident from its journal and (re)write its ``report.md``."""
    view = replay(store.read(incident_id))
    text = render_report(view, scheme, tz, step_titles=step_titles)
    return write_report(store.incident_dir(incident_id), text)
