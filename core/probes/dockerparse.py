"""Pure parsing of Docker Engine API answers: inspect, list, stats and events.

No I/O here: the containers probe feeds these with what the engine said, and
the tests feed them with captured answers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from core.state import Container, PortMapping

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def parse_time(value: str | None) -> float | None:
    """Docker's RFC 3339 timestamps (nanoseconds, ``Z``) as epoch seconds; zero time → None."""
    if not value or value.startswith("0001-"):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", value)
        if not match:
            return None
        return dt.datetime.fromisoformat(match.group(1) + "+00:00").timestamp()


def ports_from_inspect(network_ports: Mapping[str, Any] | None) -> tuple[PortMapping, ...]:
    """``NetworkSettings.Ports`` (``{"80/tcp": [{"HostIp", "HostPort"}]}``) as PortMappings."""
    out: list[PortMapping] = []
    parsed = []
    for key, bindings in (network_ports or {}).items():
        port_text, _, proto = key.partition("/")
        if port_text.isdigit():
            parsed.append((int(port_text), proto, bindings))
    for port, proto, bindings in sorted(parsed, key=lambda item: (item[0], item[1])):
        if not bindings:
            out.append(PortMapping(port, proto or "tcp"))
            continue
        for binding in bindings:
            host_port = binding.get("HostPort") or ""
            out.append(
                PortMapping(
                    port,
                    proto or "tcp",
                    binding.get("HostIp", ""),
                    int(host_port) if host_port.isdigit() else None,
                )
            )
    return tuple(dict.fromkeys(out))


def status_text(state: str, health: str, exit_code: int | None, oom: bool) -> str:
    """A short human status without durations (the UI derives ages from the timestamps)."""
    if state == "running":
        text = "Up"
    elif state in ("exited", "dead"):
        text = f"Exited ({exit_code})" if exit_code is not None else "Exited"
    else:
        text = state.capitalize()
    if health:
        text += f" ({health})"
    if oom:
        text += " OOM-killed"
    return text


def container_from_inspect(info: Mapping[str, Any]) -> Container:
    """One container from ``GET /containers/{id}/json``."""
    state = info.get("State") or {}
    config = info.get("Config") or {}
    labels = config.get("Labels") or {}
    status = str(state.get("Status", "")).lower()
    health = str((state.get("Health") or {}).get("Status", "") or "")
    exit_code = state.get("ExitCode")
    if status in ("running", "paused", "created"):
        exit_code = None
    oom = bool(state.get("OOMKilled", False))
    return Container(
        id=str(info.get("Id", "")),
        name=str(info.get("Name", "")).lstrip("/"),
        image=str(config.get("Image") or info.get("Image", "")),
        state=status,
        health=health,
        project=str(labels.get(PROJECT_LABEL, "")),
        service=str(labels.get(SERVICE_LABEL, "")),
        restart_count=int(info.get("RestartCount") or 0),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")),
        exit_code=int(exit_code) if exit_code is not None else None,
        oom_killed=oom,
        ports=ports_from_inspect((info.get("NetworkSettings") or {}).get("Ports")),
        status_text=status_text(status, health, exit_code, oom),
        restart_policy=str(
            ((info.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or ""
        ),
    )


_HEALTH_RE = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_EXIT_RE = re.compile(r"(Exited|Restarting) \((-?\d+)\)")


def list_signature(item: Mapping[str, Any]) -> str:
    """What, in a ``/containers/json`` entry, means the container must be inspected again."""
    text = str(item.get("Status", ""))
    health = _HEALTH_RE.search(text)
    code = _EXIT_RE.search(text)
    return "|".join(
        [
            str(item.get("State", "")),
            health.group(1) if health else "",
            code.group(0) if code else "",
            str(item.get("Created", "")),
        ]
    )


@dataclass(frozen=True)
class CpuSample:
    """Cumulative CPU counters from one stats answer (nanoseconds)."""

    total: int
    system: int
    online: int


def cpu_sample(stats: Mapping[str, Any], key: str = "cpu_stats") -> CpuSample | None:
    """The ``cpu_stats`` (or ``precpu_stats``) counters, or None when absent or empty."""
    section = stats.get(key) or {}
    usage = section.get("cpu_usage") or {}
    total = usage.get("total_usage")
    system = section.get("system_cpu_usage")
    if not total or not system:
        return None
    online = section.get("online_cpus") or len(usage.get("percpu_usage") or ()) or 1
    return CpuSample(int(total), int(system), int(online))


def cpu_percent(current: CpuSample, previous: CpuSample | None) -> float | None:
    """CPU % the way ``docker stats`` computes it (100 % = one full CPU)."""
    if previous is None:
        return None
    cpu_delta = current.total - previous.total
    system_delta = current.system - previous.system
    if system_delta <= 0 or cpu_delta < 0:
        return None
    return cpu_delta / system_delta * current.online * 100.0


def memory_usage(stats: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(used bytes without page cache, limit) as ``docker stats`` shows them."""
    memory = stats.get("memory_stats") or {}
    usage = memory.get("usage")
    if usage is None:
        return None, None
    extra = memory.get("stats") or {}
    # cgroup v1 reports total_inactive_file, cgroup v2 inactive_file
    cache = extra.get("total_inactive_file", extra.get("inactive_file", 0)) or 0
    used = int(usage) - int(cache) if cache < usage else int(usage)
    limit = memory.get("limit")
    return used, int(limit) if limit else None


def event_action(event: Mapping[str, Any]) -> str:
    """The action of an ``/events`` record, without details (``health_status: healthy``)."""
    action = str(event.get("Action") or event.get("status") or "")
    return action.split(":", 1)[0].strip()


def event_container_id(event: Mapping[str, Any]) -> str:
    """The container id an ``/events`` record is about."""
    actor = event.get("Actor") or {}
    return str(actor.get("ID") or event.get("id") or "")


def event_time(event: Mapping[str, Any]) -> float | None:
    """When an ``/events`` record happened (epoch seconds)."""
    nanos = event.get("timeNano")
    if isinstance(nanos, int | float) and nanos > 0:
        return float(nanos) / 1e9
    seconds = event.get("time")
    return float(seconds) if isinstance(seconds, int | float) and seconds > 0 else None


def apply_event(container: Container, event: Mapping[str, Any]) -> Container:
    """What an event alone says about a known container, before it is inspected again.

    A ``die`` means exited with the event's ``exitCode``; ``health_status: X``
    means health X; ``oom`` means OOM-killed; ``start``/``pause``/``unpause``
    set the state.  Anything else leaves the container as it was.
    """
    action = str(event.get("Action") or event.get("status") or "")
    kind, _, detail = action.partition(":")
    attributes = (event.get("Actor") or {}).get("Attributes") or {}
    at = event_time(event)
    if kind == "die":
        code = str(attributes.get("exitCode", ""))
        exit_code = int(code) if code.lstrip("-").isdigit() else container.exit_code
        return replace(
            container,
            state="exited",
            exit_code=exit_code,
            finished_at=at or container.finished_at,
            cpu_percent=None,
            memory_bytes=None,
            status_text=status_text("exited", container.health, exit_code, container.oom_killed),
        )
    if kind == "health_status" and detail.strip():
        health = detail.strip()
        return replace(
            container,
            health=health,
            status_text=status_text(
                container.state, health, container.exit_code, container.oom_killed
            ),
        )
    if kind == "oom":
        return replace(
            container,
            oom_killed=True,
            status_text=status_text(
                container.state, container.health, container.exit_code, True
            ),
        )
    states = {"start": "running", "pause": "paused", "unpause": "running"}
    if kind in states:
        state = states[kind]
        return replace(
            container,
            state=state,
            exit_code=None,
            started_at=(at or container.started_at) if kind == "start" else container.started_at,
            status_text=status_text(state, container.health, None, container.oom_killed),
        )
    return container
