"""The headless check: every probe on every host once, the rules, and a verdict.

Exit codes are Nagios-style: 0 OK (no incident), 1 WARNING (only the two
lowest severities), 2 CRITICAL (one of the two highest), 3 UNKNOWN (nothing
could be evaluated: no hosts, or every host unreachable).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.config import Config
from core.hosts import Fleet
from core.hosts.base import wait_settled
from core.incidents.detector import Detector
from core.incidents.model import Finding, finding_incident_id
from core.incidents.severity import SeverityScheme
from core.probes.collect import HostProbes
from core.runbooks.library import load_library
from core.state import PROBE_FIELDS, HostState, ProbeResult


class Status(enum.IntEnum):
    """Nagios plugin exit statuses."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class CheckResult:
    """Everything one check saw and concluded."""

    states: Mapping[str, HostState]
    findings: tuple[Finding, ...]
    runbooks: Mapping[str, str]  # finding key → runbook id ("" when none matches)
    status: Status


async def collect_states(config: Config) -> dict[str, HostState]:
    """Connect to every host concurrently and collect every probe once."""
    fleet = Fleet(config)
    probes = {h.name: HostProbes(fleet[h.name], h, wait_for_stats=True) for h in config.hosts}
    try:

        async def one(name: str, connect_timeout: float) -> HostState:
            await wait_settled(fleet[name], connect_timeout + 5)
            return await probes[name].refresh()

        states = await asyncio.gather(*(one(h.name, h.connect_timeout) for h in config.hosts))
        return {state.name: state for state in states}
    finally:
        for host_probes in probes.values():
            await host_probes.close()
        await fleet.close()


def evaluate(config: Config, states: Mapping[str, HostState], now: float) -> CheckResult:
    """Apply the rules once (no durations) and decide the exit status."""
    findings = tuple(Detector(config, durations=False).evaluate(states, now))
    library = load_library(config.settings.runbook_dirs)
    runbooks = {}
    for finding in findings:
        runbook = library.match(finding.runbook_signal)
        runbooks[finding.key] = runbook.id if runbook else ""
    if not states or not any(s.reachable for s in states.values()):
        status = Status.UNKNOWN
    elif any(SeverityScheme.is_critical(f.severity) for f in findings):
        status = Status.CRITICAL
    elif findings:
        status = Status.WARNING
    else:
        status = Status.OK
    return CheckResult(states, findings, runbooks, status)


async def run_check(config: Config) -> CheckResult:
    """Collect and evaluate: the whole ``warroom check``."""
    states = await collect_states(config)
    return evaluate(config, states, time.time())


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _probe_json(result: ProbeResult[Any] | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"status": result.status.value, "reason": result.reason, "data": _plain(result.data)}


def to_json(config: Config, result: CheckResult) -> str:
    """The check as one JSON object: ``hosts`` and ``incidents``."""
    scheme = SeverityScheme.from_config(config.severity)
    hosts = []
    for name, state in result.states.items():
        entry: dict[str, Any] = {"name": name, "reachable": state.reachable,
                                 "reason": state.reason}
        for field in PROBE_FIELDS:
            entry[field] = _probe_json(getattr(state, field))
        hosts.append(entry)
    incidents = [
        {
            "id": finding_incident_id(f),
            "rule": f.rule,
            "severity": scheme.label(f.severity),
            "host": f.host,
            "services": list(f.services),
            "runbook": result.runbooks.get(f.key, ""),
            "summary": f.summary,
            "evidence": _plain(f.evidence),
        }
        for f in result.findings
    ]
    status = result.status.name
    return json.dumps({"status": status, "hosts": hosts, "incidents": incidents}, indent=2)


def to_text(config: Config, result: CheckResult) -> str:
    """The check for a person: one line per host, then one per incident, worst first."""
    scheme = SeverityScheme.from_config(config.severity)
    width = max((len(n) for n in result.states), default=4)
    lines = []
    for name, state in result.states.items():
        if not state.reachable:
            lines.append(f"{name:<{width}}  UNREACHABLE: {state.reason}")
            continue
        problems = []
        for field in PROBE_FIELDS:
            probe: ProbeResult[Any] | None = getattr(state, field)
            if probe is not None and not probe.ok and probe.status.value != "not configured":
                problems.append(f"{field}: {probe.reason or probe.status.value}")
        detail = f" ({'; '.join(problems)})" if problems else ""
        lines.append(f"{name:<{width}}  reachable{detail}")
    findings = sorted(result.findings, key=lambda f: (f.severity, f.host, f.rule))
    if findings:
        lines.append("")
        lines.append(f"{len(findings)} incident(s):")
    for f in findings:
        runbook = result.runbooks.get(f.key, "")
        suffix = f"  [runbook: {runbook}]" if runbook else ""
        lines.append(f"  {scheme.label(f.severity):<8} {f.host}  {f.rule}  {f.summary}{suffix}")
    lines.append("")
    lines.append(f"{result.status.name}")
    return "\n".join(lines)
