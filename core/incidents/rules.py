"""The detection rules: pure functions from one host's state to findings.

Each rule returns the findings it sees on one host, or ``None`` when it
cannot tell (its probe is missing, not configured, or failed): the detector
then leaves that rule's conditions on that host as they were, so an
unreachable host does not "recover" its incidents.
"""

from __future__ import annotations

import fnmatch
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from core.incidents.model import EvidenceValue, Finding
from core.incidents.rules_config import EffectiveRule
from core.runbooks import signals as sig
from core.state import (
    CertInfo,
    EndpointCheck,
    HostState,
    ProbeResult,
    ProbeStatus,
)

T = TypeVar("T")

DEFAULT_BACKUP_MAX_AGE_HOURS = 26.0
_PG_DOWN = (ProbeStatus.UNREACHABLE, ProbeStatus.TIMEOUT, ProbeStatus.ERROR)


@dataclass
class RuleContext:
    """What the rules need besides the state: the time, per-host settings and history."""

    now: float
    backup_max_age_hours: dict[str, float] = field(default_factory=dict)
    restarts: dict[tuple[str, str], deque[tuple[float, int]]] = field(default_factory=dict)


Rule = Callable[[HostState, EffectiveRule, RuleContext], "list[Finding] | None"]


def make_finding(
    rule: EffectiveRule,
    state: HostState,
    subject: str,
    title: str,
    summary: str,
    evidence: dict[str, EvidenceValue],
    services: Iterable[str] = (),
    slug: str = "",
    severity: int | None = None,
) -> Finding:
    """A finding of ``rule`` on ``state``'s host (severity defaults to the rule's)."""
    return Finding(
        rule=rule.id,
        host=state.name,
        subject=subject,
        severity=rule.severity if severity is None else severity,
        title=title,
        summary=summary,
        services=tuple(dict.fromkeys(s for s in services if s)),
        evidence=evidence,
        signal=rule.id,
        slug=slug,
    )


def ignored(rule: EffectiveRule, *names: str) -> bool:
    """Whether any of ``names`` matches one of the rule's ``ignore`` globs."""
    return any(fnmatch.fnmatchcase(n, p) for n in names if n for p in rule.ignore)


def _data(result: ProbeResult[T] | None) -> T | None:
    return result.data if result is not None and result.ok else None


def ssh_data(state: HostState, result: ProbeResult[T] | None) -> T | None:
    """Data of a probe that runs over SSH: unknown while the host is unreachable."""
    return _data(result) if state.reachable else None


def _pct(value: float) -> float:
    return round(value, 1)


# -- host and endpoints ---------------------------------------------------------------


def host_unreachable(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding]:
    """The host does not answer over SSH."""
    if state.reachable:
        return []
    reason = state.reason or "no answer"
    return [make_finding(rule, state, "", f"{state.name} unreachable",
                     f"{state.name} is unreachable: {reason}", {"reason": reason},
                     slug="unreachable")]


def _endpoint_groups(state: HostState) -> dict[str, list[EndpointCheck]] | None:
    checks = _data(state.endpoints)
    if not checks:
        return None
    if not state.reachable:  # host-side checks ran over SSH: only the console's count
        checks = tuple(c for c in checks if c.side != "host")
    groups: dict[str, list[EndpointCheck]] = {}
    for check in checks:
        groups.setdefault(check.name, []).append(check)
    return groups or None


def _why_down(checks: list[EndpointCheck]) -> str:
    bad = [c for c in checks if not c.up]
    return "; ".join(
        f"{c.side}: {c.reason or (f'HTTP {c.status_code}' if c.status_code else 'no answer')}"
        for c in bad
    )


def endpoints_all_down(
    state: HostState, rule: EffectiveRule, ctx: RuleContext
) -> list[Finding] | None:
    """Every health endpoint of the host is down: a full outage (one finding)."""
    groups = _endpoint_groups(state)
    if groups is None:
        return None
    names = [n for n in groups if not ignored(rule, n)]
    if not names or not all(any(not c.up for c in groups[n]) for n in names):
        return []
    evidence: dict[str, EvidenceValue] = {"endpoints_down": len(names)}
    for name in names:
        evidence[name] = _why_down(groups[name])
    return [make_finding(rule, state, "", f"full outage on {state.name}: every endpoint down",
                     f"all {len(names)} health endpoint(s) of {state.name} down: "
                     + ", ".join(names), evidence, services=names, slug="outage")]


def endpoint_down(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding] | None:
    """One health endpoint down (from either side), unless all of them are."""
    groups = _endpoint_groups(state)
    if groups is None:
        return None
    names = [n for n in groups if not ignored(rule, n)]
    down = [n for n in names if any(not c.up for c in groups[n])]
    if down and len(down) == len(names):
        return []  # endpoints.all_down covers it: one incident, not one per endpoint
    out = []
    for name in down:
        first = next(c for c in groups[name] if not c.up)
        why = _why_down(groups[name])
        out.append(make_finding(rule, state, name, f"{name} down on {state.name}",
                            f"{name} ({first.url}) down: {why}",
                            {"url": first.url, "status_code": first.status_code or 0,
                             "reason": why}, services=[name], slug=f"{name}-down"))
    return out


def endpoint_slow(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding] | None:
    """A health endpoint answers, but slower than the threshold (ms)."""
    groups = _endpoint_groups(state)
    if groups is None:
        return None
    out = []
    for name, checks in groups.items():
        if ignored(rule, name) or any(not c.up for c in checks):
            continue
        latencies = [c.latency_ms for c in checks if c.latency_ms is not None]
        if not latencies or not rule.exceeds(max(latencies)):
            continue
        worst = max(latencies)
        out.append(make_finding(rule, state, name, f"{name} slow on {state.name}",
                            f"{name} answered in {worst:.0f} ms (threshold {rule.threshold:g} ms)",
                            {"latency_ms": round(worst), "threshold_ms": rule.threshold or 0,
                             "url": checks[0].url},
                            services=[name], slug=f"{name}-slow",
                            severity=rule.severity_for(worst)))
    return out


# -- postgres ---------------------------------------------------------------------------


def postgres_unreachable(
    state: HostState, rule: EffectiveRule, ctx: RuleContext
) -> list[Finding] | None:
    """PostgreSQL does not answer (unreachable, timeout or error)."""
    result = state.postgres
    if result is None or not state.reachable:
        return None
    if result.status in _PG_DOWN:
        reason = result.reason or result.status.value
        return [make_finding(rule, state, "", f"PostgreSQL unreachable on {state.name}",
                         f"PostgreSQL on {state.name} does not answer: {reason}",
                         {"status": result.status.value, "reason": reason},
                         services=["postgresql"], slug="postgres-down")]
    if result.status in (ProbeStatus.OK, ProbeStatus.PERMISSION_DENIED):
        return []
    return None


def postgres_connections(
    state: HostState, rule: EffectiveRule, ctx: RuleContext
) -> list[Finding] | None:
    """Connections in use at or above the threshold (% of max_connections)."""
    pg = ssh_data(state, state.postgres)
    if pg is None:
        return None
    pct = pg.used_percent
    if not pg.max_connections or not rule.exceeds(pct):
        return []
    return [make_finding(rule, state, "", f"PostgreSQL connections at {pct:.0f} % on {state.name}",
                     f"{pg.total} of {pg.max_connections} connections in use ({pct:.0f} %, "
                     f"threshold {rule.threshold:g} %)",
                     {"connections": pg.total, "max_connections": pg.max_connections,
                      "used_percent": _pct(pct), "threshold_percent": rule.threshold or 0,
                      **{f"state.{k}": v for k, v in sorted(pg.by_state.items())}},
                     services=["postgresql"], slug="pg-connections",
                     severity=rule.severity_for(pct))]


def postgres_idle_in_transaction(
    state: HostState, rule: EffectiveRule, ctx: RuleContext
) -> list[Finding] | None:
    """Sessions idle in transaction at or above the threshold (count)."""
    pg = ssh_data(state, state.postgres)
    if pg is None:
        return None
    count = sum(n for s, n in pg.by_state.items() if s.startswith("idle in transaction"))
    if count == 0 or not rule.exceeds(count):
        return []
    oldest = max((b.query_seconds or 0.0 for b in pg.longest
                  if b.state.startswith("idle in transaction")), default=0.0)
    evidence: dict[str, EvidenceValue] = {"idle_in_transaction": count,
                                          "threshold": rule.threshold or 0}
    if oldest:
        evidence["oldest_seconds"] = round(oldest)
    return [make_finding(rule, state, "", f"{count} PostgreSQL sessions idle in transaction "
                     f"on {state.name}",
                     f"{count} sessions idle in transaction (threshold {rule.threshold:g})"
                     + (f", oldest {oldest:.0f} s" if oldest else ""),
                     evidence, services=["postgresql"], slug="pg-idle-in-tx",
                     severity=rule.severity_for(count))]


# -- disk and system --------------------------------------------------------------------


def _disk(state: HostState, rule: EffectiveRule, inodes: bool) -> list[Finding] | None:
    disk = ssh_data(state, state.disk)
    if disk is None:
        return None
    out = []
    for m in disk.mounts:
        pct = m.inode_percent if inodes else m.used_percent
        if pct is None or ignored(rule, m.mountpoint, m.device) or not rule.exceeds(pct):
            continue
        what = "inodes" if inodes else "space"
        evidence: dict[str, EvidenceValue] = {
            "mountpoint": m.mountpoint, "device": m.device, "used_percent": _pct(pct),
            "threshold_percent": rule.threshold or 0,
        }
        if inodes:
            evidence.update(inodes_used=m.inodes_used or 0, inodes_total=m.inodes_total or 0)
        else:
            evidence.update(used_bytes=m.used_bytes, size_bytes=m.size_bytes,
                            free_bytes=m.free_bytes)
        out.append(make_finding(rule, state, m.mountpoint,
                            f"{m.mountpoint} {what} at {pct:.0f} % on {state.name}",
                            f"{m.mountpoint} ({m.device}) {what} {pct:.1f} % used "
                            f"(threshold {rule.threshold:g} %)", evidence,
                            slug=f"disk{'-inodes' if inodes else ''}-{m.mountpoint}",
                            severity=rule.severity_for(pct)))
    return out


def disk_full(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding] | None:
    """A filesystem's space use at or above the threshold (%)."""
    return _disk(state, rule, inodes=False)


def disk_inodes(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding] | None:
    """A filesystem's inode use at or above the threshold (%)."""
    return _disk(state, rule, inodes=True)


def _system(state: HostState, rule: EffectiveRule, cpu: bool) -> list[Finding] | None:
    system = ssh_data(state, state.system)
    if system is None:
        return None
    pct = system.cpu_percent if cpu else system.memory_percent
    if pct is None:
        return None
    if not rule.exceeds(pct):
        return []
    what = "CPU" if cpu else "memory"
    evidence: dict[str, EvidenceValue] = {f"{what.lower()}_percent": _pct(pct),
                                          "threshold_percent": rule.threshold or 0}
    if cpu:
        evidence.update(load1=system.load1, cpus=system.cpus)
    else:
        evidence.update(memory_total=system.memory_total,
                        memory_available=system.memory_available,
                        swap_used=system.swap_total - system.swap_free)
    return [make_finding(rule, state, "", f"{what} at {pct:.0f} % on {state.name}",
                     f"{what} {pct:.1f} % used (threshold {rule.threshold:g} %)", evidence,
                     slug="cpu-high" if cpu else "memory-high", severity=rule.severity_for(pct))]


def system_cpu(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding] | None:
    """CPU use at or above the threshold (%); sustained through ``for_seconds``."""
    return _system(state, rule, cpu=True)


def system_memory(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding] | None:
    """Memory use at or above the threshold (%); sustained through ``for_seconds``."""
    return _system(state, rule, cpu=False)


# -- certificates and backups ---------------------------------------------------------


def _cert_expired(c: CertInfo) -> bool:
    return c.days_left <= 0 or "expired" in c.error.lower()


def _cert_evidence(c: CertInfo) -> dict[str, EvidenceValue]:
    evidence: dict[str, EvidenceValue] = {"source": c.source, "subject": c.subject,
                                          "days_left": round(c.days_left, 1),
                                          "not_after": c.not_after}
    if c.error:
        evidence["error"] = c.error
    return evidence


def _certs(state: HostState, rule: EffectiveRule, kind: str) -> list[Finding] | None:
    certs = _data(state.certs)
    if certs is None:
        return None
    out = []
    for c in certs:
        if ignored(rule, c.source, c.subject):
            continue
        if kind == "expired" and _cert_expired(c):
            summary = f"certificate {c.subject or c.source} expired {-c.days_left:.1f} days ago"
        elif kind == "invalid" and c.error and not _cert_expired(c):
            summary = f"certificate {c.subject or c.source} invalid: {c.error}"
        elif kind == "expiring" and not _cert_expired(c) and rule.exceeds(c.days_left):
            summary = (f"certificate {c.subject or c.source} expires in {c.days_left:.1f} days "
                       f"(warning at {rule.threshold:g}, critical at "
                       f"{rule.critical_threshold or 0:g})")
        else:
            continue
        out.append(make_finding(rule, state, c.source, f"TLS certificate {kind}: {c.source}",
                            summary, _cert_evidence(c), slug=f"cert-{kind}-{c.subject}",
                            severity=rule.severity_for(c.days_left)))
    return out


def cert_expired(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding] | None:
    """A certificate past its expiry."""
    return _certs(state, rule, "expired")


def cert_expiring(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding] | None:
    """A certificate expiring within the threshold (days; critical line too)."""
    return _certs(state, rule, "expiring")


def cert_invalid(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding] | None:
    """A certificate with a chain or host name error (not expiry)."""
    return _certs(state, rule, "invalid")


def backup_stale(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding] | None:
    """The newest backup older than its max age (hours), or no backup at all."""
    backup = _data(state.backups)
    if backup is None:
        return None
    limit = rule.threshold
    if limit is None:
        limit = ctx.backup_max_age_hours.get(state.name, DEFAULT_BACKUP_MAX_AGE_HOURS)
    where = f"s3://{backup.bucket}/{backup.prefix}"
    evidence: dict[str, EvidenceValue] = {"bucket": backup.bucket, "prefix": backup.prefix,
                                          "max_age_hours": limit}
    if not backup.newest_key:
        summary = f"no backup found under {where}"
    else:
        age_hours = backup.newest_age_seconds / 3600
        if age_hours <= limit:
            return []
        evidence.update(newest_key=backup.newest_key, age_hours=round(age_hours, 1))
        summary = f"newest backup {backup.newest_key} is {age_hours:.1f} h old (max {limit:g} h)"
    return [make_finding(rule, state, where, f"backup stale on {state.name}", summary, evidence,
                     services=["backup"], slug="backup-stale")]


def backup_shrunk(state: HostState, rule: EffectiveRule, ctx: RuleContext) -> list[Finding] | None:
    """The newest backup smaller than the previous by the threshold (%) or more."""
    backup = _data(state.backups)
    if backup is None:
        return None
    change = backup.size_change_percent
    if change is None or change >= 0 or not rule.exceeds(-change):
        return []
    where = f"s3://{backup.bucket}/{backup.prefix}"
    return [make_finding(rule, state, where, f"backup shrank {-change:.0f} % on {state.name}",
                     f"newest backup {backup.newest_key} is {backup.newest_size} bytes, "
                     f"{-change:.0f} % smaller than the previous ({backup.previous_size} bytes)",
                     {"newest_key": backup.newest_key, "newest_size": backup.newest_size,
                      "previous_size": backup.previous_size or 0,
                      "shrunk_percent": _pct(-change), "threshold_percent": rule.threshold or 0},
                     services=["backup"], slug="backup-shrunk")]


HOST_RULES: dict[str, Rule] = {
    sig.HOST_UNREACHABLE: host_unreachable,
    sig.ENDPOINTS_ALL_DOWN: endpoints_all_down,
    sig.ENDPOINT_DOWN: endpoint_down,
    sig.ENDPOINT_SLOW: endpoint_slow,
    sig.POSTGRES_UNREACHABLE: postgres_unreachable,
    sig.POSTGRES_CONNECTIONS_HIGH: postgres_connections,
    sig.POSTGRES_IDLE_IN_TRANSACTION: postgres_idle_in_transaction,
    sig.DISK_FULL: disk_full,
    sig.DISK_INODES: disk_inodes,
    sig.CERT_EXPIRED: cert_expired,
    sig.CERT_EXPIRING: cert_expiring,
    sig.CERT_INVALID: cert_invalid,
    sig.BACKUP_STALE: backup_stale,
    sig.BACKUP_SHRUNK: backup_shrunk,
    sig.SYSTEM_CPU_HIGH: system_cpu,
    sig.SYSTEM_MEMORY_HIGH: system_memory,
}
"""Rules evaluated one at a time; the four container rules run together."""
