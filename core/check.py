"""The headless check: connect to every host once and say how each stands.

Exit codes are Nagios-style: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
"""

from __future__ import annotations

import asyncio
import enum
import json
from dataclasses import dataclass

from core.config import Config
from core.hosts import Fleet, LinkState
from core.hosts.base import wait_settled


class Status(enum.IntEnum):
    """Nagios plugin exit statuses."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class HostReport:
    """One host's verdict."""

    name: str
    reachable: bool
    reason: str


async def check_hosts(config: Config, timeout: float | None = None) -> list[HostReport]:
    """Connect to every host concurrently and report whether each is reachable."""
    fleet = Fleet(config)
    try:

        async def one(host_name: str, connect_timeout: float) -> HostReport:
            host = fleet[host_name]
            state = await wait_settled(host, timeout or connect_timeout + 5)
            if state is LinkState.UP:
                probe = await host.run("true", timeout=connect_timeout)
                if probe.ok:
                    return HostReport(host_name, True, "")
                return HostReport(host_name, False, probe.error or probe.stderr.strip())
            reason = host.reason or f"no answer within {connect_timeout:g} s"
            return HostReport(host_name, False, reason)

        return list(
            await asyncio.gather(*(one(h.name, h.connect_timeout) for h in config.hosts))
        )
    finally:
        await fleet.close()


def overall_status(reports: list[HostReport]) -> Status:
    """OK when every host is reachable; CRITICAL when some are not; UNKNOWN when none is."""
    if not reports or not any(r.reachable for r in reports):
        return Status.UNKNOWN
    if all(r.reachable for r in reports):
        return Status.OK
    return Status.CRITICAL


def format_reports(reports: list[HostReport], as_json: bool = False) -> str:
    """Human (or JSON) text for the reports."""
    if as_json:
        return json.dumps(
            {"hosts": [{"name": r.name, "reachable": r.reachable, "reason": r.reason}
                       for r in reports]},
            indent=2,
        )
    width = max((len(r.name) for r in reports), default=4)
    lines = []
    for r in reports:
        verdict = "reachable" if r.reachable else f"UNREACHABLE: {r.reason}"
        lines.append(f"{r.name:<{width}}  {verdict}")
    return "\n".join(lines)
