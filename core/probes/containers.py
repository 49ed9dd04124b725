"""The containers probe: every container of a host's Docker Engine, kept live.

:meth:`ContainersProbe.collect` lists all containers (``/containers/json?all=1``),
inspects the ones that are new or changed, and samples CPU and memory of
the running ones with one-shot stats, concurrently.  CPU % needs two
samples: a one-shot answer has no ``precpu`` sample, so the previous
collect's sample is kept per container (the first collect has no CPU %).

:meth:`ContainersProbe.watch` follows ``/events`` and yields a fresh snapshot
as soon as a container dies, starts, stops, restarts, turns (un)healthy, is
OOM-killed or is removed; when the stream breaks (engine restart, SSH
reconnect) it reconnects and resyncs in full.  Every container of the engine
is shown, whatever its compose project; ``project`` lets a pane group them.

The actions (:meth:`start`, :meth:`stop`, :meth:`restart`, :meth:`inspect`)
are plain async methods; the UI routes the changing ones through
``core.audit.Actions.call`` for read-only refusal and auditing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from core.hosts.base import Host
from core.probes.base import (
    ProbeError,
    describe_exception,
    failed,
    host_down,
    host_is_up,
    ok,
)
from core.probes.dockerapi import DockerClient, DockerError, version_tuple
from core.state import Container, PortMapping, ProbeResult, ProbeStatus

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"

STATE_EVENTS = frozenset(
    {
        "create", "start", "restart", "die", "stop", "oom", "pause", "unpause",
        "rename", "update", "health_status",
    }
)
"""Container event actions after which the container is inspected again."""

FULL_INSPECT_SECONDS = 30.0
"""Every container is re-inspected at least this often, events or not."""


# -- pure parsing ----------------------------------------------------------------


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


# -- the probe ---------------------------------------------------------------------


class ContainersProbe:
    """Containers of one Docker Engine, with live state, health and resource use."""

    name = "containers"

    def __init__(
        self,
        host: Host,
        docker: DockerClient,
        *,
        stats: bool = True,
        stats_concurrency: int = 8,
        stats_timeout: float = 5.0,
    ) -> None:
        self.host = host
        self.docker = docker
        self.stats = stats
        self._stats_slots = asyncio.Semaphore(stats_concurrency)
        self._stats_timeout = stats_timeout
        self._inspected: dict[str, tuple[str, float]] = {}  # id -> (signature, when)
        self._containers: dict[str, Container] = {}
        self._cpu: dict[str, CpuSample] = {}

    # -- snapshots -----------------------------------------------------------------

    def snapshot(self) -> tuple[Container, ...]:
        """The containers as last seen, grouped by project, then by name."""
        return tuple(sorted(self._containers.values(), key=lambda c: (c.project, c.name)))

    async def collect(self) -> ProbeResult[tuple[Container, ...]]:
        """List, inspect what changed, sample stats; never raises."""
        if not host_is_up(self.host):
            return host_down(self.name, self.host)
        try:
            await self._sync()
            if self.stats:
                await self._sample_stats()
        except asyncio.CancelledError:
            raise
        except DockerError as exc:
            return failed(self.name, ProbeStatus.ERROR, str(exc))
        except Exception as exc:
            status, reason = describe_exception(exc)
            return failed(self.name, status, reason)
        return ok(self.name, self.snapshot())

    async def _sync(self) -> None:
        known_before = set(self._containers)
        listing = await self.docker.get_json("/containers/json", {"all": "1"})
        now = time.monotonic()
        seen: set[str] = set()
        stale: list[str] = []
        for item in listing:
            cid = str(item.get("Id", ""))
            seen.add(cid)
            signature = list_signature(item)
            known = self._inspected.get(cid)
            if (
                known is None
                or known[0] != signature
                or now - known[1] > FULL_INSPECT_SECONDS
                or cid not in self._containers
            ):
                stale.append(cid)
                self._inspected[cid] = (signature, now)
        for cid in known_before:
            if cid not in seen:
                self._forget(cid)
        await asyncio.gather(*(self._refresh_one(cid) for cid in stale))

    def _forget(self, cid: str) -> None:
        self._containers.pop(cid, None)
        self._inspected.pop(cid, None)
        self._cpu.pop(cid, None)

    async def _refresh_one(self, cid: str) -> Container | None:
        """Inspect one container and update the snapshot (None if it is gone)."""
        try:
            info = await self.docker.get_json(f"/containers/{cid}/json")
        except DockerError as exc:
            if exc.status == 404:
                self._forget(cid)
                return None
            raise
        fresh = container_from_inspect(info)
        old = self._containers.get(cid)
        if old is not None and fresh.state == "running" == old.state:
            fresh = replace(
                fresh,
                cpu_percent=old.cpu_percent,
                memory_bytes=old.memory_bytes,
                memory_limit=old.memory_limit,
            )
        if fresh.state != "running":
            self._cpu.pop(cid, None)
        self._containers[cid] = fresh
        return fresh

    async def _sample_stats(self) -> None:
        running = [c for c in self._containers.values() if c.state == "running"]
        await asyncio.gather(*(self._stats_one(c.id) for c in running))

    async def _stats_one(self, cid: str) -> None:
        try:
            async with self._stats_slots:
                stats = await asyncio.wait_for(self._fetch_stats(cid), self._stats_timeout)
        except (DockerError, ProbeError, TimeoutError, ValueError):
            return
        current = cpu_sample(stats)
        previous = cpu_sample(stats, "precpu_stats") or self._cpu.get(cid)
        cpu = cpu_percent(current, previous) if current is not None else None
        if current is not None:
            self._cpu[cid] = current
        used, limit = memory_usage(stats)
        container = self._containers.get(cid)
        if container is not None and container.state == "running":
            self._containers[cid] = replace(
                container,
                cpu_percent=cpu if cpu is not None else container.cpu_percent,
                memory_bytes=used,
                memory_limit=limit,
            )

    async def _fetch_stats(self, cid: str) -> Mapping[str, Any]:
        if version_tuple(self.docker.api_version or "0") >= (1, 41):
            params = {"stream": "false", "one-shot": "true"}
            return dict(await self.docker.get_json(f"/containers/{cid}/stats", params))
        # before API 1.41 there is no one-shot: read the first sample of a stream
        async with self.docker.stream(f"/containers/{cid}/stats", {"stream": "true"}) as resp:
            async for line in resp.aiter_lines():
                if line.strip():
                    return dict(json.loads(line))
        return {}

    # -- events ----------------------------------------------------------------------

    async def watch(self, retry_seconds: float = 1.0) -> AsyncIterator[ProbeResult[Any]]:
        """Follow ``/events``: yield a full snapshot after every container state change.

        The first item is a full resync; after the stream breaks, one failed
        result says why, then the watcher reconnects (every ``retry_seconds``
        while the host is down) and yields a full resync again.  Runs until
        the consumer stops iterating.
        """
        # only the actions that matter: health checks alone fire exec_* events every interval
        events = sorted(STATE_EVENTS | {"destroy"})
        params = {"filters": json.dumps({"type": ["container"], "event": events})}
        last_failure = ""
        while True:
            if not host_is_up(self.host):
                result = host_down(self.name, self.host)
                if result.reason != last_failure:
                    last_failure = result.reason
                    yield result
                await self.host.wait_up(retry_seconds)
                continue
            try:
                async with self.docker.stream("/events", params) as response:
                    self._inspected.clear()  # the stream is open: resync everything
                    last_failure = ""
                    yield await self.collect()
                    async for line in response.aiter_lines():
                        if line.strip() and await self._apply_event(json.loads(line)):
                            yield ok(self.name, self.snapshot())
                raise ProbeError(ProbeStatus.UNREACHABLE, "Docker event stream ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = await self.docker.stream_failed(exc)
                await self.docker.reset()
                if error.reason != last_failure:
                    last_failure = error.reason
                    yield failed(self.name, error.status, error.reason, self.snapshot())
                await asyncio.sleep(retry_seconds)

    async def _apply_event(self, event: Mapping[str, Any]) -> bool:
        """Update the snapshot for one event; True when something visible changed."""
        if str(event.get("Type", "container")) != "container":
            return False
        action = event_action(event)
        cid = event_container_id(event)
        if not cid:
            return False
        if action == "destroy":
            existed = cid in self._containers
            self._forget(cid)
            return existed
        if action not in STATE_EVENTS:
            return False
        before = self._containers.get(cid)
        try:
            after = await self._refresh_one(cid)
        except DockerError:
            return False
        self._inspected[cid] = ("", time.monotonic())  # re-inspect at the next collect
        return after != before

    # -- actions -----------------------------------------------------------------------

    async def start(self, container_id: str) -> int:
        """Start a container; returns 0 (raises :class:`DockerError` or ProbeError)."""
        await self.docker.post(f"/containers/{container_id}/start", timeout=30)
        return 0

    async def stop(self, container_id: str, grace_seconds: int = 10) -> int:
        """Stop a container (SIGTERM, then SIGKILL after ``grace_seconds``); returns 0."""
        await self.docker.post(
            f"/containers/{container_id}/stop",
            {"t": str(grace_seconds)},
            timeout=grace_seconds + 30,
        )
        return 0

    async def restart(self, container_id: str, grace_seconds: int = 10) -> int:
        """Restart a container; returns 0."""
        await self.docker.post(
            f"/containers/{container_id}/restart",
            {"t": str(grace_seconds)},
            timeout=grace_seconds + 30,
        )
        return 0

    async def inspect(self, container_id: str) -> dict[str, Any]:
        """The raw ``docker inspect`` JSON of a container."""
        return dict(await self.docker.get_json(f"/containers/{container_id}/json"))

    def find(self, name_or_id: str) -> Container | None:
        """A container of the last snapshot by name, full id or id prefix."""
        for container in self._containers.values():
            if container.name == name_or_id or container.id == name_or_id:
                return container
        matches = [c for c in self._containers.values() if c.id.startswith(name_or_id)]
        return matches[0] if len(matches) == 1 else None

    async def close(self) -> None:
        """Nothing of its own to close (the DockerClient is shared)."""
