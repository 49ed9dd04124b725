"""Findings (what the rules see) and incidents (what the operator works on).

A :class:`Finding` is one condition on one subject of one host, with a
stable ``key`` (rule + host + subject).  An :class:`Incident` is what a
finding becomes once it has held long enough; it carries a short,
human-typable id (``20261122-1432-web1-api-exited``) that names its journal
directory and works as ``warroom --checklist ID``.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

EvidenceValue = str | int | float
KEY_SEPARATOR = "|"


def make_key(rule: str, host: str, subject: str = "") -> str:
    """The stable key of a condition: ``rule|host|subject``."""
    return KEY_SEPARATOR.join((rule, host, subject))


def split_key(key: str) -> tuple[str, str, str]:
    """``(rule, host, subject)`` of a key made by :func:`make_key`."""
    rule, host, subject = [*key.split(KEY_SEPARATOR, 2), "", ""][:3]
    return rule, host, subject


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one subject of one host.

    ``evidence`` holds the numbers that tripped the rule (str → str or
    number); ``summary`` says the same in one line.  ``since`` is when the
    detector first saw the condition in its current episode.
    """

    rule: str
    host: str
    subject: str
    severity: int
    title: str
    summary: str
    services: tuple[str, ...] = ()
    evidence: Mapping[str, EvidenceValue] = field(default_factory=dict)
    signal: str = ""
    slug: str = ""
    since: float = 0.0

    @property
    def key(self) -> str:
        """``rule|host|subject``: the same condition always has the same key."""
        return make_key(self.rule, self.host, self.subject)

    @property
    def runbook_signal(self) -> str:
        """The signal a runbook matches (the rule id unless the rule says otherwise)."""
        return self.signal or self.rule


class IncidentStatus(enum.StrEnum):
    """Where an incident stands.  A merged incident is resolved with ``merged_into`` set."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RECOVERED = "recovered"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Incident:
    """An incident as the journal has it now (see :func:`core.incidents.replay.replay`)."""

    id: str
    rule: str
    title: str
    host: str
    services: tuple[str, ...]
    severity: int
    detected_at: float
    evidence: Mapping[str, EvidenceValue]
    runbook: str
    status: IncidentStatus
    merged_into: str = ""
    key: str = ""
    signal: str = ""
    summary: str = ""
    hosts: tuple[str, ...] = ()
    acknowledged_at: float | None = None
    acknowledged_by: str = ""
    recovered_at: float | None = None
    resolved_at: float | None = None
    resolved_by: str = ""
    initial_severity: int | None = None

    @property
    def is_open(self) -> bool:
        """Not resolved (open, acknowledged or recovered): still on the panel."""
        return self.status is not IncidentStatus.RESOLVED

    @property
    def is_active(self) -> bool:
        """Open or acknowledged: the condition still holds."""
        return self.status in (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
_UNSAFE = re.compile(r"[^a-z0-9]+")


def is_incident_id(text: str) -> bool:
    """Whether ``text`` is a well-formed incident id (safe as a directory name)."""
    return bool(ID_RE.fullmatch(text))


def check_incident_id(text: str) -> str:
    """``text`` if it is a well-formed incident id, else ``ValueError`` (e.g. ``../x``)."""
    if not is_incident_id(text):
        raise ValueError(
            f"{text!r} is not an incident id (lowercase letters, digits and '-', up to 80)"
        )
    return text


def slugify(text: str, limit: int = 40) -> str:
    """Lowercase letters, digits and single dashes: ``Web_1.prod`` → ``web-1-prod``."""
    slug = _UNSAFE.sub("-", text.lower()).strip("-")
    return slug[:limit].rstrip("-")


def incident_id(
    detected_at: float,
    host: str,
    slug: str,
    taken: Callable[[str], bool] = lambda _id: False,
) -> str:
    """A short id: ``YYYYMMDD-HHMM-<host>-<slug>`` (UTC), suffixed ``-2``, ``-3`` … if taken."""
    stamp = time.strftime("%Y%m%d-%H%M", time.gmtime(detected_at))
    base = "-".join(part for part in (stamp, slugify(host, 24), slugify(slug, 36)) if part)
    candidate, n = base, 1
    while taken(candidate):
        n += 1
        candidate = f"{base}-{n}"
    return check_incident_id(candidate)


def finding_incident_id(
    finding: Finding, at: float | None = None, taken: Callable[[str], bool] = lambda _id: False
) -> str:
    """The id an incident opened for ``finding`` gets (also used by ``warroom check --json``)."""
    slug = finding.slug or finding.rule.replace(".", "-").replace("_", "-")
    return incident_id(finding.since if at is None else at, finding.host, slug, taken)
