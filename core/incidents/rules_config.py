"""Per-rule settings: the ``[rules."<rule-id>"]`` tables of the config, and their defaults.

Every detection rule works without any config; a table overrides only what
it names::

    [rules."disk.full"]
    severity = "P1"          # a label of the severity scheme, or its ordinal 0 (worst)..3
    for_seconds = 60         # the condition must hold this long before an incident opens
    clear_seconds = 10       # ... and be clear this long before the incident counts as recovered
    threshold = 90           # percent, days, ms …: see RULE_SPECS for each rule's unit
    critical_threshold = 98  # past this the finding gets critical_severity instead
    critical_severity = 0
    ignore = ["/boot*"]      # glob patterns of subjects (container, mount, endpoint …) to skip

    [rules."system.cpu_high"]
    enabled = false

A rule's threshold defaults to the matching ``[thresholds]`` key (e.g.
``disk_percent``) so older configs keep working.

This module imports nothing of warroom at run time: ``core.config`` imports
it for the ``rules`` table.  The rule ids are the signal ids of
:mod:`core.runbooks.signals` (a test keeps the two lists equal).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import SeverityConfig, ThresholdsConfig


@dataclass(frozen=True)
class RuleConfig:
    """One ``[rules."<rule-id>"]`` table: every key optional, unset means the rule's default."""

    enabled: bool = True
    severity: int | str | None = None
    for_seconds: float | None = None
    clear_seconds: float | None = None
    threshold: float | None = None
    critical_threshold: float | None = None
    critical_severity: int | str | None = None
    window_seconds: float | None = None
    ignore: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("for_seconds", "clear_seconds", "window_seconds"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be zero or more seconds")
        for name in ("severity", "critical_severity"):
            value = getattr(self, name)
            if isinstance(value, int) and not 0 <= value <= 3:
                raise ValueError(f"{name} must be 0 (worst) to 3, or a severity label")


@dataclass(frozen=True)
class RuleSpec:
    """A rule's built-in defaults and what its threshold means."""

    id: str
    description: str
    severity: int
    for_seconds: float
    clear_seconds: float = 10.0
    threshold: float | None = None
    threshold_key: str = ""  # the [thresholds] key that provides the default threshold
    unit: str = ""
    critical_threshold: float | None = None
    critical_key: str = ""
    critical_severity: int | None = None
    lower_is_worse: bool = False
    window_seconds: float | None = None


RULE_SPECS: Mapping[str, RuleSpec] = {
    spec.id: spec
    for spec in (
        RuleSpec("host.unreachable", "Host unreachable over SSH", 0, 30.0),
        RuleSpec("endpoints.all_down", "Every health endpoint of a host down", 0, 30.0),
        RuleSpec("endpoint.down", "Health endpoint down", 1, 30.0),
        RuleSpec(
            "endpoint.slow", "Health endpoint slow", 2, 120.0,
            threshold_key="endpoint_slow_ms", unit="ms",
        ),
        RuleSpec("container.exited", "Container exited", 1, 15.0),
        RuleSpec(
            "container.restarting", "Container restarting in a loop", 1, 0.0,
            threshold_key="restart_loop_count", unit="restarts", window_seconds=600.0,
        ),
        RuleSpec("container.unhealthy", "Container unhealthy", 1, 30.0),
        RuleSpec("container.oom", "Container killed by the OOM killer", 1, 0.0),
        RuleSpec("postgres.unreachable", "PostgreSQL unreachable", 0, 30.0),
        RuleSpec(
            "postgres.connections_high", "PostgreSQL connections near max_connections", 2, 60.0,
            threshold_key="pg_connections_percent", unit="%",
            critical_threshold=95.0, critical_severity=1,
        ),
        RuleSpec(
            "postgres.idle_in_transaction", "PostgreSQL sessions idle in transaction", 2, 60.0,
            threshold_key="pg_idle_in_transaction", unit="sessions",
        ),
        RuleSpec(
            "disk.full", "Filesystem filling up", 1, 60.0,
            threshold_key="disk_percent", unit="%", critical_threshold=98.0, critical_severity=0,
        ),
        RuleSpec(
            "disk.inodes", "Filesystem running out of inodes", 1, 60.0,
            threshold_key="inode_percent", unit="%", critical_threshold=98.0, critical_severity=0,
        ),
        RuleSpec("cert.expired", "TLS certificate expired", 1, 0.0),
        RuleSpec(
            "cert.expiring", "TLS certificate expiring soon", 3, 0.0,
            threshold_key="cert_warning_days", unit="days", critical_key="cert_critical_days",
            critical_severity=2, lower_is_worse=True,
        ),
        RuleSpec("cert.invalid", "TLS certificate invalid (chain or host name)", 1, 0.0),
        RuleSpec(
            "backup.stale", "Newest backup older than its max age", 2, 0.0, unit="hours",
        ),
        RuleSpec(
            "backup.shrunk", "Newest backup much smaller than the previous one", 2, 0.0,
            threshold_key="backup_shrink_percent", unit="% smaller",
        ),
        RuleSpec(
            "system.cpu_high", "Sustained high CPU", 2, 300.0,
            threshold_key="cpu_percent", unit="%",
        ),
        RuleSpec(
            "system.memory_high", "Sustained high memory use", 2, 300.0,
            threshold_key="memory_percent", unit="%", critical_threshold=98.0, critical_severity=1,
        ),
    )
}


@dataclass(frozen=True)
class EffectiveRule:
    """A rule's settings after the config, ``[thresholds]`` and built-in defaults are merged."""

    id: str
    description: str
    enabled: bool
    severity: int
    for_seconds: float
    clear_seconds: float
    threshold: float | None = None
    critical_threshold: float | None = None
    critical_severity: int | None = None
    window_seconds: float | None = None
    lower_is_worse: bool = False
    unit: str = ""
    ignore: tuple[str, ...] = field(default=())

    def exceeds(self, value: float) -> bool:
        """Whether ``value`` is past the threshold (at or above; at or below if lower is worse)."""
        if self.threshold is None:
            return True
        return value <= self.threshold if self.lower_is_worse else value >= self.threshold

    def severity_for(self, value: float | None = None) -> int:
        """The severity of a finding at ``value``: ``critical_severity`` past the critical line."""
        if value is None or self.critical_threshold is None or self.critical_severity is None:
            return self.severity
        past = (
            value <= self.critical_threshold
            if self.lower_is_worse
            else value >= self.critical_threshold
        )
        return self.critical_severity if past else self.severity


def parse_severity(value: int | str, labels: tuple[str, ...], where: str = "severity") -> int:
    """An ordinal 0..3 from an ordinal or a label of the scheme (case-insensitive)."""
    if isinstance(value, int):
        if not 0 <= value < len(labels):
            raise ValueError(f"{where}: {value} is not a severity ordinal (0 worst .. 3)")
        return value
    folded = [label.casefold() for label in labels]
    if value.strip().casefold() in folded:
        return folded.index(value.strip().casefold())
    raise ValueError(f"{where}: {value!r} is not one of the severity labels {', '.join(labels)}")


def check_rules(rules: Mapping[str, RuleConfig], severity: SeverityConfig) -> None:
    """Raise ``ValueError`` naming ``rules.<id>.<key>`` for an unknown rule or severity label.

    Meant for ``Config.__post_init__`` so a bad table fails when the config loads.
    """
    for rule_id, rule in rules.items():
        if rule_id not in RULE_SPECS:
            close = difflib.get_close_matches(rule_id, list(RULE_SPECS), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"rules.{rule_id}: unknown rule{hint}; known rules: {', '.join(RULE_SPECS)}"
            )
        for key in ("severity", "critical_severity"):
            value = getattr(rule, key)
            if value is not None:
                parse_severity(value, severity.labels, f"rules.{rule_id}.{key}")


def effective_rule(
    rule_id: str,
    rule: RuleConfig | None,
    thresholds: ThresholdsConfig | None,
    labels: tuple[str, ...] = ("P0", "P1", "P2", "P3"),
) -> EffectiveRule:
    """Merge one rule's config table over ``[thresholds]`` and its built-in defaults."""
    spec = RULE_SPECS[rule_id]
    rule = rule or RuleConfig()

    def from_thresholds(key: str, fallback: float | None) -> float | None:
        if not key:
            return fallback
        if thresholds is not None:
            return float(getattr(thresholds, key))
        return _THRESHOLD_FALLBACKS[key]

    threshold = rule.threshold
    if threshold is None:
        threshold = from_thresholds(spec.threshold_key, spec.threshold)
    critical = rule.critical_threshold
    if critical is None:
        critical = from_thresholds(spec.critical_key, spec.critical_threshold)
    severity = spec.severity
    if rule.severity is not None:
        severity = parse_severity(rule.severity, labels, f"rules.{rule_id}.severity")
    critical_severity = spec.critical_severity
    if rule.critical_severity is not None:
        critical_severity = parse_severity(
            rule.critical_severity, labels, f"rules.{rule_id}.critical_severity"
        )
    return EffectiveRule(
        id=rule_id,
        description=spec.description,
        enabled=rule.enabled,
        severity=severity,
        for_seconds=spec.for_seconds if rule.for_seconds is None else rule.for_seconds,
        clear_seconds=spec.clear_seconds if rule.clear_seconds is None else rule.clear_seconds,
        threshold=threshold,
        critical_threshold=critical,
        critical_severity=critical_severity,
        window_seconds=spec.window_seconds if rule.window_seconds is None else rule.window_seconds,
        lower_is_worse=spec.lower_is_worse,
        unit=spec.unit,
        ignore=rule.ignore,
    )


# The [thresholds] defaults, for callers that pass no ThresholdsConfig.
_THRESHOLD_FALLBACKS: Mapping[str, float] = {
    "disk_percent": 90.0,
    "inode_percent": 90.0,
    "pg_connections_percent": 80.0,
    "pg_idle_in_transaction": 5.0,
    "cpu_percent": 90.0,
    "memory_percent": 90.0,
    "endpoint_slow_ms": 2000.0,
    "cert_warning_days": 30.0,
    "cert_critical_days": 7.0,
    "backup_shrink_percent": 50.0,
    "restart_loop_count": 3.0,
}


def effective_rules(
    rules: Mapping[str, RuleConfig],
    thresholds: ThresholdsConfig | None = None,
    labels: tuple[str, ...] = ("P0", "P1", "P2", "P3"),
) -> dict[str, EffectiveRule]:
    """Every known rule's :class:`EffectiveRule`, in :data:`RULE_SPECS` order."""
    return {
        rule_id: effective_rule(rule_id, rules.get(rule_id), thresholds, labels)
        for rule_id in RULE_SPECS
    }
