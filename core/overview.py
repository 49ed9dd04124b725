"""One line per host for the overview: link, containers, worst signal."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import HostConfig
from core.hosts.base import LinkState
from core.state import HostState


@dataclass(frozen=True)
class HostLine:
    """What the overview shows for one host."""

    name: str
    link: LinkState
    reason: str = ""
    worst: str = ""
    worst_level: int | None = None  # severity ordinal 0 (worst) … 3; None when all is well
    incidents: int = 0
    containers: str = ""
    tags: tuple[str, ...] = ()


def _container_summary(state: HostState | None) -> tuple[str, list[str]]:
    if state is None or state.containers is None or not state.containers.ok:
        return "", []
    containers = state.containers.data or ()
    running = sum(1 for c in containers if c.state == "running")
    bad = [
        f"{c.name} {'unhealthy' if c.health == 'unhealthy' else c.state}"
        for c in containers
        if c.health == "unhealthy" or c.state in ("restarting", "dead")
        or (c.state == "exited" and c.exit_code not in (0, None))
    ]
    return f"{running}/{len(containers)} running", bad


def host_line(
    config: HostConfig,
    link: LinkState,
    reason: str,
    state: HostState | None,
    worst: tuple[int, str] | None = None,
    incidents: int = 0,
) -> HostLine:
    """The overview line for one host.

    ``worst`` is the most severe open finding (ordinal, summary) when the
    detector has one; otherwise the line falls back to container trouble.
    """
    containers, bad = _container_summary(state)
    level: int | None = None
    text = ""
    if worst is not None:
        level, text = worst
    elif bad:
        level, text = 1, ", ".join(bad)
    return HostLine(
        name=config.name,
        link=link,
        reason=reason,
        worst=text,
        worst_level=level,
        incidents=incidents,
        containers=containers,
        tags=config.tags,
    )
