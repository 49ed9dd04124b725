"""The detector: host states in, findings out, with durations and without flapping.

:class:`Detector` is pure apart from the memory it keeps between calls (when
each condition was first seen, when it cleared, recent restart counts).  A
condition becomes a finding once it has held for its rule's
``for_seconds``; a condition that clears before that starts again from
zero.  A finding that stops holding stays reported for ``clear_seconds``
(so a flapping signal keeps one incident) and is then listed in
:attr:`Detector.recovered`.  Conditions a rule cannot evaluate (host
unreachable, probe failed) are left exactly as they were.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.incidents.container_rules import container_findings
from core.incidents.model import Finding, split_key
from core.incidents.rules import HOST_RULES, RuleContext
from core.incidents.rules_config import EffectiveRule, RuleConfig, effective_rules
from core.state import HostState

if TYPE_CHECKING:
    from core.config import Config

ConditionState = Literal["pending", "active", "clearing"]


@dataclass
class _Track:
    first_seen: float
    finding: Finding | None = None
    active: bool = False
    cleared_at: float | None = None
    stamped: Finding | None = None  # ``finding`` with ``since`` set, made once per finding
    stamped_from: Finding | None = None

    def reported(self) -> Finding:
        """The finding as reported: with ``since`` = when its condition was first seen."""
        assert self.finding is not None
        if self.stamped is None or self.stamped_from is not self.finding:
            self.stamped = dataclasses.replace(self.finding, since=self.first_seen)
            self.stamped_from = self.finding
        return self.stamped


RECHECK_SECONDS = 5.0
"""How long the conditions of an unchanged host snapshot are reused.

The console evaluates every second (so a condition that must hold N seconds
opens on time); a host's conditions change with its snapshot, and the few
that change with the clock alone (backup age, certificate days, a restart
window) move by the hour, the day or the minute, so they are re-checked
this often."""


class Detector:
    """Evaluates every enabled rule over host states; remembers durations between calls.

    ``durations=False`` (for the one-shot ``warroom check``) reports every
    condition at once and forgets it at once.
    """

    def __init__(self, config: Config | None = None, *, durations: bool = True) -> None:
        rules: Mapping[str, RuleConfig] = getattr(config, "rules", None) or {}
        thresholds = config.thresholds if config is not None else None
        labels = tuple(config.severity.labels) if config is not None else ("P0", "P1", "P2", "P3")
        self.all_rules: dict[str, EffectiveRule] = effective_rules(rules, thresholds, labels)
        self.rules: dict[str, EffectiveRule] = {
            rule_id: rule for rule_id, rule in self.all_rules.items() if rule.enabled
        }
        self.durations = durations
        self._context = RuleContext(now=0.0)
        for host in config.hosts if config is not None else ():
            if host.backup is not None:
                self._context.backup_max_age_hours[host.name] = host.backup.max_age_hours
        self._tracks: dict[str, _Track] = {}
        self._cache: dict[str, tuple[HostState, float, dict[str, list[Finding] | None]]] = {}
        self.recovered: list[str] = []
        """Keys whose findings recovered (clear for their hold) during the last evaluate."""

    # -- raw conditions ---------------------------------------------------------------

    def conditions(
        self, states: Mapping[str, HostState], now: float
    ) -> tuple[dict[str, Finding], set[tuple[str, str]]]:
        """Every condition holding right now (no durations) and the (rule, host) pairs evaluated."""
        self._context.now = now
        found: dict[str, Finding] = {}
        evaluated: set[tuple[str, str]] = set()
        for host, state in states.items():
            cached = self._cache.get(host)
            if (
                self.durations
                and cached is not None
                and cached[0] is state
                and 0 <= now - cached[1] < RECHECK_SECONDS
            ):
                results = cached[2]
            else:
                results = {}
                for rule_id, rule in self.rules.items():
                    check = HOST_RULES.get(rule_id)
                    if check is not None:
                        results[rule_id] = check(state, rule, self._context)
                results.update(container_findings(state, self._context, self.rules))
                self._cache[host] = (state, now, results)
            for rule_id, findings in results.items():
                if findings is None:
                    continue
                evaluated.add((rule_id, host))
                for finding in findings:
                    found.setdefault(finding.key, finding)
        return found, evaluated

    # -- with durations -----------------------------------------------------------------

    def evaluate(self, states: Mapping[str, HostState], now: float) -> list[Finding]:
        """Findings that have held long enough (or are still within their clear hold).

        Sorted worst first, then oldest first.  Each finding's ``since`` is when
        its condition was first seen.  Keys that recovered during this call are
        left in :attr:`recovered`.
        """
        found, evaluated = self.conditions(states, now)
        self.recovered = []
        for key, finding in found.items():
            track = self._tracks.get(key)
            if track is None:
                track = self._tracks[key] = _Track(first_seen=now)
            track.finding = finding
            track.cleared_at = None
            hold = self.rules[finding.rule].for_seconds if self.durations else 0.0
            if not track.active and now - track.first_seen >= hold:
                track.active = True
        for key, track in list(self._tracks.items()):
            if key in found:
                continue
            rule_id, host, _subject = split_key(key)
            if (rule_id, host) not in evaluated:
                continue  # cannot tell: leave the condition as it was
            if not track.active:
                del self._tracks[key]  # cleared before it held long enough: start again
                continue
            if track.cleared_at is None:
                track.cleared_at = now
            rule = self.rules.get(rule_id)
            hold = rule.clear_seconds if rule is not None and self.durations else 0.0
            if now - track.cleared_at >= hold:
                del self._tracks[key]
                self.recovered.append(key)
        findings = [
            track.reported()
            for track in self._tracks.values()
            if track.active and track.finding is not None
        ]
        findings.sort(key=lambda f: (f.severity, f.since, f.key))
        return findings

    def restore(self, active: Iterable[tuple[str, float]]) -> None:
        """Mark ``(key, detected_at)`` conditions active (open incidents, after a restart).

        A restored condition that still holds is reported at once (it does not
        wait ``for_seconds`` again); one that no longer holds recovers after its
        clear hold, like any other.
        """
        for key, detected_at in active:
            track = self._tracks.get(key)
            if track is None:
                self._tracks[key] = _Track(first_seen=detected_at, active=True)
            else:
                track.active = True
                track.first_seen = min(track.first_seen, detected_at)
                track.stamped = None

    def state_of(self, key: str) -> ConditionState | None:
        """``pending`` (holding, not yet long enough), ``active``, ``clearing``, or ``None``."""
        track = self._tracks.get(key)
        if track is None:
            return None
        if not track.active:
            return "pending"
        return "clearing" if track.cleared_at is not None else "active"

    def rule(self, rule_id: str) -> EffectiveRule:
        """The effective settings of a rule (enabled or not)."""
        return self.all_rules[rule_id]

