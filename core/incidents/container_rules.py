"""The container rules: exited, restarting in a loop, unhealthy, OOM-killed.

They share one pass over a host's containers so that one container shows
one condition, worst first (OOM-killed, then restarting, then exited);
"unhealthy" is reported for running containers on its own.
"""

from __future__ import annotations

from collections import deque

from core.incidents.model import EvidenceValue, Finding
from core.incidents.rules import RuleContext, ignored, make_finding, ssh_data
from core.incidents.rules_config import EffectiveRule
from core.runbooks import signals as sig
from core.state import Container, HostState


def _service(c: Container) -> str:
    return c.service or c.name


def _restarts_in_window(c: Container, host: str, rule: EffectiveRule, ctx: RuleContext) -> int:
    """How much the restart count rose within the rule's window (history kept in ``ctx``)."""
    history = ctx.restarts.setdefault((host, c.name), deque())
    if history and c.restart_count < history[-1][1]:
        history.clear()  # the container was re-created: its count started again
    if not history or history[-1][1] != c.restart_count:
        history.append((ctx.now, c.restart_count))
    window = rule.window_seconds or 600.0
    while len(history) > 1 and history[1][0] <= ctx.now - window:
        history.popleft()
    return c.restart_count - history[0][1]


def _container_conditions(
    state: HostState, ctx: RuleContext, rules: dict[str, EffectiveRule]
) -> dict[str, list[tuple[Container, dict[str, EvidenceValue]]]] | None:
    """Which container condition each container shows, worst first (one per container)."""
    containers = ssh_data(state, state.containers)
    if containers is None:
        return None
    running_projects = {c.project for c in containers if c.state == "running" and c.project}
    out: dict[str, list[tuple[Container, dict[str, EvidenceValue]]]] = {
        sig.CONTAINER_OOM: [], sig.CONTAINER_RESTARTING: [], sig.CONTAINER_EXITED: [],
        sig.CONTAINER_UNHEALTHY: [],
    }
    for c in containers:
        base: dict[str, EvidenceValue] = {"container": c.name, "state": c.state,
                                          "restart_count": c.restart_count}
        if c.project:
            base["project"] = c.project
        if c.exit_code is not None:
            base["exit_code"] = c.exit_code
        restarting_rule = rules.get(sig.CONTAINER_RESTARTING)
        rose = _restarts_in_window(c, state.name, restarting_rule, ctx) if restarting_rule else 0
        if c.oom_killed and sig.CONTAINER_OOM in rules:
            out[sig.CONTAINER_OOM].append((c, base))
        elif restarting_rule is not None and (
            c.state == "restarting" or (rose > 0 and restarting_rule.exceeds(rose))
        ):
            out[sig.CONTAINER_RESTARTING].append((c, {**base, "restarts_in_window": rose}))
        elif c.state in ("exited", "dead") and not c.finished_job and (
            c.exit_code not in (0, None) or c.project in running_projects
        ):
            out[sig.CONTAINER_EXITED].append((c, base))
        if c.state == "running" and c.health == "unhealthy":
            out[sig.CONTAINER_UNHEALTHY].append((c, {**base, "health": c.health}))
    names = {c.name for c in containers}
    for gone in [k for k in ctx.restarts if k[0] == state.name and k[1] not in names]:
        del ctx.restarts[gone]  # removed containers: forget their restart history
    return out


_CONTAINER_WORDS = {
    sig.CONTAINER_OOM: ("killed by the OOM killer", "oom"),
    sig.CONTAINER_RESTARTING: ("restarting in a loop", "restarting"),
    sig.CONTAINER_EXITED: ("exited", "exited"),
    sig.CONTAINER_UNHEALTHY: ("unhealthy", "unhealthy"),
}


def container_findings(
    state: HostState, ctx: RuleContext, rules: dict[str, EffectiveRule]
) -> dict[str, list[Finding] | None]:
    """The four container rules at once (they share one pass and suppress each other)."""
    wanted = [r for r in _CONTAINER_WORDS if r in rules]
    conditions = _container_conditions(state, ctx, rules)
    if conditions is None:
        return {r: None for r in wanted}
    result: dict[str, list[Finding] | None] = {}
    for rule_id in wanted:
        rule = rules[rule_id]
        words, suffix = _CONTAINER_WORDS[rule_id]
        found = []
        for c, evidence in conditions[rule_id]:
            if ignored(rule, c.name, c.service):
                continue
            detail = [f"state {c.state}"]
            if c.exit_code is not None and rule_id != sig.CONTAINER_UNHEALTHY:
                detail.append(f"exit code {c.exit_code}")
            if "restarts_in_window" in evidence:
                detail.append(f"{evidence['restarts_in_window']} restarts in "
                              f"{(rule.window_seconds or 600) / 60:g} min")
            elif c.restart_count:
                detail.append(f"{c.restart_count} restarts")
            if c.status_text:
                detail.append(c.status_text)
            found.append(make_finding(rule, state, c.name,
                                  f"{_service(c)} container {words} on {state.name}",
                                  f"container {c.name} {words}: " + ", ".join(detail),
                                  evidence, services=[_service(c)],
                                  slug=f"{_service(c)}-{suffix}"))
        result[rule_id] = found
    return result
